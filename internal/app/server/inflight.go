package server

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// InFlight keeps the requests whose handlers are running, so that a shutdown
// whose grace runs out can say which requests it cut (Running). Give one to
// Options.InFlight.
type InFlight struct {
	mu     sync.Mutex
	seq    uint64
	reqs   map[uint64]inflightReq
	routes []fiber.Route // the app's routes, to name a request by its route pattern
}

type inflightReq struct {
	method, path, requestID string
	start                   time.Time
}

// Request is a request whose handler is still running.
type Request struct {
	Method string
	// Route is the pattern of the route the path matches ("/v1/orders/:id"),
	// never the path itself (it may carry a reference or a receipt code);
	// "" when no route matches.
	Route     string
	RequestID string
	Running   time.Duration
}

// NewInFlight returns an empty InFlight.
func NewInFlight() *InFlight { return &InFlight{reqs: map[uint64]inflightReq{}} }

// middleware registers each request for as long as its handler runs. It keeps
// copies: Fiber's strings point into buffers reused after the request.
func (f *InFlight) middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, _ := c.Locals("request_id").(string)
		r := inflightReq{method: strings.Clone(c.Method()), path: strings.Clone(c.Path()), requestID: id, start: time.Now()}
		f.mu.Lock()
		f.seq++
		n := f.seq
		f.reqs[n] = r
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.reqs, n)
			f.mu.Unlock()
		}()
		return c.Next()
	}
}

func (f *InFlight) setRoutes(app *fiber.App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes = app.GetRoutes(true)
}

// Running lists the requests whose handlers are running, the oldest first.
func (f *InFlight) Running() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	out := make([]Request, 0, len(f.reqs))
	for _, r := range f.reqs {
		out = append(out, Request{Method: r.method, Route: matchRoute(f.routes, r.method, r.path),
			RequestID: r.requestID, Running: now.Sub(r.start)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Running > out[j].Running })
	return out
}

// matchRoute is the pattern among routes that path matches for method, as
// Fiber routes it (case-insensitive, trailing slash ignored, a parameter
// matching one non-empty segment); the one with most literal segments when
// several match, "" when none does.
func matchRoute(routes []fiber.Route, method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestLiteral := "", -1
	for _, r := range routes {
		if r.Method != method {
			continue
		}
		pat := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		literal, ok := 0, true
		for i, p := range pat {
			switch {
			case strings.HasPrefix(p, ":"):
				ok = segs[i] != ""
			case strings.EqualFold(p, segs[i]):
				literal++
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok && literal > bestLiteral {
			best, bestLiteral = r.Path, literal
		}
	}
	return best
}
