package ratelimit

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// The store never holds more keys than its capacity, whatever the flood of
// new keys (spoofed addresses, guessed references).
func TestStoreIsBounded(t *testing.T) {
	t.Parallel()
	s := NewStore(100)
	for i := range 10_000 {
		if err := s.Set(fmt.Sprintf("k%d", i), []byte{1}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > 100 {
		t.Fatalf("%d keys held, capacity 100", n)
	}
	if v, _ := s.Get("k9999"); len(v) != 1 {
		t.Fatal("the newest key was dropped")
	}
	_ = s.Set("short", []byte{2}, -time.Second) // no expiry
	if v, _ := s.Get("short"); len(v) != 1 {
		t.Fatal("a key without expiry is gone")
	}
}

// Off is off: Max 0 lets everything through.
func TestOffLetsEverythingThrough(t *testing.T) {
	t.Parallel()
	app := fiber.New()
	app.Get("/", New(Rule{Name: "test", Max: 0, Key: func(*fiber.Ctx) string { return "k" }}),
		func(c *fiber.Ctx) error { return c.SendString("ok") })
	for range 20 {
		res, err := app.Test(httptest.NewRequest("GET", "/", nil))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%v %v", res, err)
		}
	}
}
