// Package lang chooses the language of a page: Vietnamese (the default) or
// English, as the citizen pages and the staff console both do.
package lang

import (
	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"
)

// The pages' languages.
const (
	VI = "vi"
	EN = "en"
)

var matcher = language.NewMatcher([]language.Tag{language.Vietnamese, language.English})

// Chooser picks a request's language: ?lang=vi|en (remembered in Cookie, at
// Path), else that cookie, else Accept-Language, else Vietnamese.
type Chooser struct {
	Cookie, Path string
	// Secure marks the cookie Secure (an https service).
	Secure bool
}

// Pick is the request's language.
func (ch Chooser) Pick(c *fiber.Ctx) string {
	if q := c.Query("lang"); q == VI || q == EN {
		c.Cookie(&fiber.Cookie{Name: ch.Cookie, Value: q, Path: ch.Path, MaxAge: 365 * 24 * 3600,
			Secure: ch.Secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
		return q
	}
	if v := c.Cookies(ch.Cookie); v == VI || v == EN {
		return v
	}
	return FromAcceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
}

// FromAcceptLanguage picks vi or en from an Accept-Language header; anything
// else, or garbage, is Vietnamese.
func FromAcceptLanguage(header string) string {
	if header == "" {
		return VI
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return VI
	}
	if _, i, conf := matcher.Match(tags...); conf == language.No || i != 1 {
		return VI
	}
	return EN
}
