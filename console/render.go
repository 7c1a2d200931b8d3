package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/payments/pages"
)

//go:embed templates/*.html static/console.css
var files embed.FS

// pageNames are the templates besides layout.html.
var pageNames = []string{"login", "code", "setup", "enrol", "recovery", "dashboard", "sessions", "section", "error", "payments", "payment"}

var templates = func() map[string]*template.Template {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		out[name] = template.Must(template.ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}()

// css is inlined in every page; the policy allows exactly it, images from
// the console itself (the enrolment QR code), forms posting to it, and no
// script at all.
var (
	// The citizen pages' stylesheet, then the console's own additions.
	css                   = template.CSS(pages.Stylesheet() + "\n" + string(must(files.ReadFile("static/console.css"))))
	contentSecurityPolicy = func() string {
		sum := sha256.Sum256([]byte(css))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err) // embedded: only a broken build gets here
	}
	return b
}

// navItem is a link of the navigation bar.
type navItem struct {
	Key, Href string
	Current   bool
}

// view is what a template may show.
type view struct {
	Lang, Title, Path string
	CSRF              string
	User              *User
	Nav               []navItem
	Error             string // translated
	Notice            string // translated
	Data              any
	CSS               template.CSS
}

// T translates a message key.
func (v *view) T(key string, args ...any) string { return tr(v.Lang, key, args...) }

// Other is the language the switch offers.
func (v *view) Other() string {
	if v.Lang == langEN {
		return langVI
	}
	return langEN
}

// RoleName says the signed-in user's role in the page's language.
func (v *view) RoleName() string {
	if v.User == nil {
		return ""
	}
	if v.User.Role == RoleAgency {
		return tr(v.Lang, "role.agency", v.User.AgencyCode)
	}
	return tr(v.Lang, "role."+string(v.User.Role))
}

// render writes page name with status, rendered to a buffer first so that a
// template error is a clean 500, never half a page.
func (h *Handler) render(c *fiber.Ctx, status int, name string, v *view) error {
	v.CSS = css
	if v.Path == "" {
		v.Path = c.Path()
	}
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.ErrorContext(c.UserContext(), "console: render", "page", name, "error", err)
		return c.Status(http.StatusInternalServerError).SendString("internal error")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	return c.Status(status).Send(buf.Bytes())
}
