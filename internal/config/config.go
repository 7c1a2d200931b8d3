// Package config reads civicpay's configuration from the environment. Every
// variable is listed in the README's configuration table.
package config

import (
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the whole service configuration.
type Config struct {
	DatabaseURL   string        `env:"DATABASE_URL,required"`
	Addr          string        `env:"CIVICPAY_ADDR" envDefault:"127.0.0.1:8080"`
	PublicURL     string        `env:"CIVICPAY_PUBLIC_URL" envDefault:"http://127.0.0.1:8080"`
	LogLevel      string        `env:"CIVICPAY_LOG_LEVEL" envDefault:"info"`
	DBMaxConns    int32         `env:"CIVICPAY_DB_MAX_CONNS" envDefault:"32"`
	MaxBodyBytes  int           `env:"CIVICPAY_MAX_BODY_BYTES" envDefault:"1048576"`
	ShutdownGrace time.Duration `env:"CIVICPAY_SHUTDOWN_GRACE" envDefault:"20s"`
	AuthCacheTTL  time.Duration `env:"CIVICPAY_AUTH_CACHE_TTL" envDefault:"5s"`

	OrderDefaultExpiry time.Duration `env:"CIVICPAY_ORDER_DEFAULT_EXPIRY" envDefault:"24h"`
	OrderMaxExpiry     time.Duration `env:"CIVICPAY_ORDER_MAX_EXPIRY" envDefault:"720h"`
	ExpiryInterval     time.Duration `env:"CIVICPAY_EXPIRY_INTERVAL" envDefault:"1m"`

	RiverWorkers int `env:"CIVICPAY_RIVER_WORKERS" envDefault:"50"`
}

// Load reads the environment.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.OrderDefaultExpiry > c.OrderMaxExpiry {
		return c, fmt.Errorf("config: CIVICPAY_ORDER_DEFAULT_EXPIRY (%s) exceeds CIVICPAY_ORDER_MAX_EXPIRY (%s)", c.OrderDefaultExpiry, c.OrderMaxExpiry)
	}
	return c, nil
}
