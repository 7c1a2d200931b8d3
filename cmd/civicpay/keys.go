package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/internal/auth"
)

func keys(ctx context.Context, pool *pgxpool.Pool, args []string, out io.Writer) error {
	store := auth.NewStore(pool)
	if len(args) == 0 {
		return fmt.Errorf("%w: keys create|list|revoke", errUsage)
	}
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
		k, secret, err := store.CreateKey(ctx, auth.NewKey{Role: r, Also: extra, AgencyCode: strings.ToUpper(*agency), Name: *name})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", secret)
		fmt.Fprintf(out, "# key %s (prefix %s, role %s) — the secret above is shown only once\n", k.ID, k.Prefix,
			auth.Principal{Role: k.Role, Also: k.Also}.RoleName())
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
			fmt.Fprintf(out, "%-36s  %-12s  %-8s  %-10s  %-8s  %s\n", k.ID, k.Prefix,
				auth.Principal{Role: k.Role, Also: k.Also}.RoleName(), k.AgencyCode, status, k.Name)
		}
		return nil
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
	return fmt.Errorf("%w: keys create|list|revoke", errUsage)
}
