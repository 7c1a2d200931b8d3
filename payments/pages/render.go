package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gofiber/fiber/v2"
)

//go:embed templates/*.html static/style.css
var files embed.FS

// pageNames are the templates in templates/ besides layout.html and parts.html.
var pageNames = []string{"pay", "qr", "return", "receipt", "verify", "error"}

// templates holds one set per page: the layout, the shared parts and the page.
var templates = func() map[string]*template.Template {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		out[name] = template.Must(template.ParseFS(files,
			"templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	return out
}()

// css is the stylesheet, inlined in every page; contentSecurityPolicy allows
// exactly it, and no script, image, font or frame from anywhere.
var (
	css                   = template.CSS(must(files.ReadFile("static/style.css")))
	contentSecurityPolicy = func() string {
		sum := sha256.Sum256([]byte(css))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

// Stylesheet is the citizen pages' stylesheet (colours, type, focus ring,
// forms), which the staff console builds its own on.
func Stylesheet() string { return string(css) }

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err) // the file is embedded: only a broken build gets here
	}
	return b
}

// layoutData is what layout.html reads besides the view.
type layoutData struct {
	*view
	CSS template.CSS
}

// render writes page name with status. The page is rendered to a buffer first,
// so a template error is a clean 500, never half a page.
func (h *Handler) render(c *fiber.Ctx, status int, name string, v *view) error {
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "layout", layoutData{view: v, CSS: css}); err != nil {
		h.cfg.Log.ErrorContext(c.UserContext(), "pages: render", "page", name, "error", err)
		return c.Status(http.StatusInternalServerError).SendString("internal error")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	return c.Status(status).Send(buf.Bytes())
}
