package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/auth"
)

// keys runs `civicpay keys …`; a key created without --expires expires after
// defaultTTL (0: never). Creations and revocations are audited with the person
// at the terminal as the actor.
func keys(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, args []string, out io.Writer) error {
	defaultTTL := cfg.KeyDefaultTTL
	store := auth.NewStore(pool)
	if len(args) == 0 {
		return fmt.Errorf("%w: keys create|list|revoke|rotate-data-key", errUsage)
	}
	ctx = cliContext(ctx, "keys "+args[0])
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		role := fs.String("role", "", "portal, agency, treasury or admin")
		agency := fs.String("agency", "", "agency code (agency role only)")
		name := fs.String("name", "", "a label for the key")
		var also []string
		fs.Func("also", "an extra role (only treasury, only with --role admin: an admin key that may move money)", func(v string) error {
			also = append(also, v)
			return nil
		})
		expires := fs.String("expires", "", `lifetime such as "720h" ("0": never; default CIVICPAY_KEY_DEFAULT_TTL)`)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		extra, err := auth.ParseExtraRoles(r, also)
		if err != nil {
			return err
		}
		exp, _, err := auth.ExpiryFor(time.Now(), nil, *expires, defaultTTL)
		if err != nil {
			return fmt.Errorf("keys create: --expires: %w", err)
		}
		k, secret, err := store.CreateKey(ctx, auth.NewKey{Role: r, Also: extra, AgencyCode: strings.ToUpper(*agency), Name: *name, ExpiresAt: exp})
		if err != nil {
			return err
		}
		expiry := "never expires"
		if k.ExpiresAt != nil {
			expiry = "expires " + k.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(out, "%s\n", secret)
		fmt.Fprintf(out, "# key %s (prefix %s, role %s, %s) — the secret above is shown only once\n", k.ID, k.Prefix,
			auth.Principal{Role: k.Role, Also: k.Also}.RoleName(), expiry)
		return nil
	case "list":
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-36s  %-12s  %-8s  %-10s  %-8s  %-20s  %s\n", "ID", "PREFIX", "ROLE", "AGENCY", "STATUS", "EXPIRES", "NAME")
		now := time.Now()
		for _, k := range list {
			status, expires := "active", "never"
			switch {
			case k.RevokedAt != nil:
				status = "revoked"
			case k.Expired(now):
				status = "expired"
			}
			if k.ExpiresAt != nil {
				expires = k.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(out, "%-36s  %-12s  %-8s  %-10s  %-8s  %-20s  %s\n", k.ID, k.Prefix,
				auth.Principal{Role: k.Role, Also: k.Also}.RoleName(), k.AgencyCode, status, expires, k.Name)
		}
		return nil
	case "rotate-data-key":
		return rotateDataKey(ctx, cfg, pool, args[1:], out)
	case "revoke":
		if len(args) != 2 {
			return fmt.Errorf("%w: keys revoke ID|PREFIX", errUsage)
		}
		k, err := store.Revoke(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %s (%s)\n", k.Prefix, k.Role)
		return nil
	}
	return fmt.Errorf("%w: keys create|list|revoke|rotate-data-key", errUsage)
}
