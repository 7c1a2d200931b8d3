package lang

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestPick(t *testing.T) {
	t.Parallel()
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString(Chooser{Cookie: "l", Path: "/"}.Pick(c)) })
	for _, tt := range []struct {
		name, query, cookie, accept, want string
	}{
		{"nothing", "", "", "", VI},
		{"query", "?lang=en", "", "", EN},
		{"query beats cookie", "?lang=vi", "en", "en", VI},
		{"cookie", "", "en", "vi", EN},
		{"bad query, cookie", "?lang=fr", "en", "", EN},
		{"accept english", "", "", "en-US,en;q=0.9", EN},
		{"accept vietnamese first", "", "", "vi,en;q=0.5", VI},
		{"accept french", "", "", "fr", VI},
		{"accept garbage", "", "", ";;;q=x", VI},
	} {
		req := httptest.NewRequest("GET", "/"+tt.query, nil)
		if tt.cookie != "" {
			req.Header.Set("Cookie", "l="+tt.cookie)
		}
		if tt.accept != "" {
			req.Header.Set("Accept-Language", tt.accept)
		}
		res, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if string(body) != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, body, tt.want)
		}
		if remembered := res.Header.Get("Set-Cookie") != ""; remembered != (tt.query == "?lang=en" || tt.query == "?lang=vi") {
			t.Errorf("%s: cookie set %v", tt.name, remembered)
		}
	}
}
