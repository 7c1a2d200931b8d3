package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/auth"
	"github.com/civicpay/civicpay/internal/config"
)

func keys(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, args []string, out io.Writer) error {
	store := auth.NewStore(pool)
	if len(args) == 0 {
		return fmt.Errorf("%w: keys create|list|revoke|rotate-data-key", errUsage)
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		role := fs.String("role", "", "portal, agency, treasury or admin")
		agency := fs.String("agency", "", "agency code (agency role only)")
		name := fs.String("name", "", "a label for the key")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		k, secret, err := store.Create(ctx, r, strings.ToUpper(*agency), *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", secret)
		fmt.Fprintf(out, "# key %s (prefix %s, role %s) — the secret above is shown only once\n", k.ID, k.Prefix, k.Role)
		return nil
	case "list":
		list, err := store.List(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-36s  %-12s  %-8s  %-10s  %-8s  %s\n", "ID", "PREFIX", "ROLE", "AGENCY", "STATUS", "NAME")
		for _, k := range list {
			status := "active"
			if k.RevokedAt != nil {
				status = "revoked"
			}
			fmt.Fprintf(out, "%-36s  %-12s  %-8s  %-10s  %-8s  %s\n", k.ID, k.Prefix, k.Role, k.AgencyCode, status, k.Name)
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
