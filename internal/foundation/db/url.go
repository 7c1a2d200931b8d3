package db

import (
	"net/url"
	"os"
)

// ServerURL is DATABASE_URL, or the local server `make test` and the benchmarks
// default to (postgres@127.0.0.1:5432, as internal/testkit/devdb/pg.sh finds it).
func ServerURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// WithDatabase returns base with its database name replaced by name.
func WithDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}
