package server

import (
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestMatchRoute: a running request is named by its route pattern, as Fiber
// would route it, never by its path.
func TestMatchRoute(t *testing.T) {
	t.Parallel()
	app := fiber.New()
	h := func(c *fiber.Ctx) error { return nil }
	app.Use(h) // middleware is not a route
	app.Get("/healthz", h)
	v1 := app.Group("/v1", h)
	v1.Get("/orders/:id", h)
	v1.Get("/orders/by-reference/:ref", h)
	v1.Post("/orders/:id/attempts", h)
	app.Get("/receipts/:ref", h)
	routes := app.GetRoutes(true)
	tests := []struct{ method, path, want string }{
		{"GET", "/healthz", "/healthz"},
		{"GET", "/v1/orders/0192-abc", "/v1/orders/:id"},
		{"GET", "/v1/orders/by-reference/RF18539007547034", "/v1/orders/by-reference/:ref"},
		{"POST", "/v1/orders/0192-abc/attempts", "/v1/orders/:id/attempts"},
		{"POST", "/V1/Orders/0192-abc/attempts/", "/v1/orders/:id/attempts"},
		{"GET", "/receipts/RF18-SECRETCODE", "/receipts/:ref"},
		{"GET", "/v1/orders/0192-abc/attempts", ""},
		{"GET", "/v1/orders/", ""},
		{"DELETE", "/v1/orders/x", ""},
		{"GET", "/nowhere", ""},
	}
	for _, tt := range tests {
		if got := matchRoute(routes, tt.method, tt.path); got != tt.want {
			t.Errorf("matchRoute(%s %s) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
