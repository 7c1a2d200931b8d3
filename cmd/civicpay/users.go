package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
)

// users runs `civicpay users …`: staff accounts of the console. A new user
// gets a one-time link (CIVICPAY_PUBLIC_URL/console/setup/<token>) to set a
// password and enrol TOTP; the link is printed once and only its hash kept.
// Creations and new links are audited with the person at the terminal as
// the actor.
func users(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: users create|link|totp-code", errUsage)
	}
	ctx = cliContext(ctx, "users "+args[0])
	store := console.NewStore(pool, nil, cfg.Clock, console.Policy{})
	ttl := cfg.Console.SetupLinkTTL
	if ttl <= 0 {
		ttl = 72 * time.Hour
	}
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("users create", flag.ContinueOnError)
		fs.SetOutput(out)
		email := fs.String("email", "", "the person's email (their sign-in name)")
		role := fs.String("role", "", "agency, treasury or admin")
		agency := fs.String("agency", "", "agency code (agency role only)")
		canRefund := fs.Bool("can-refund", false, "may refund payments")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		r, err := console.ParseRole(*role)
		if err != nil {
			return err
		}
		u, token, err := store.CreateUser(ctx, console.NewUser{Email: *email, Role: r, AgencyCode: *agency, CanRefund: *canRefund}, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, setupLink(cfg.PublicURL, token))
		fmt.Fprintf(out, "# staff user %s (%s, role %s) — send them the link above, shown only once; it works once, for %s\n",
			u.Email, u.ID, describeRole(u), ttl)
		return nil
	case "link":
		fs := flag.NewFlagSet("users link", flag.ContinueOnError)
		fs.SetOutput(out)
		email := fs.String("email", "", "the staff user's email")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		u, token, err := store.NewLink(ctx, *email, ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, setupLink(cfg.PublicURL, token))
		fmt.Fprintf(out, "# a new set-password link for %s: it sets a new password and enrols TOTP again; works once, for %s\n", u.Email, ttl)
		return nil
	}
	return fmt.Errorf("%w: users create|link|totp-code", errUsage)
}

// totpCode prints the current code of a TOTP secret: for the demo users
// `civicpay demo` prints in development mode, instead of an authenticator app.
func totpCode(args []string, out io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: users totp-code SECRET", errUsage)
	}
	code, err := console.TOTPCode(strings.ToUpper(strings.TrimSpace(args[0])), time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(out, code)
	return nil
}

func setupLink(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + "/console/setup/" + token
}

func describeRole(u console.User) string {
	s := string(u.Role)
	if u.AgencyCode != "" {
		s += " of " + u.AgencyCode
	}
	if u.CanRefund {
		s += ", can refund"
	}
	return s
}
