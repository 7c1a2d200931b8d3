package pages

import (
	"fmt"
	"html/template"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSVG draws payload as a QR code (error correction M, with its quiet zone) in
// an inline SVG element, so the page needs no image service and no script.
// label is the image's accessible name.
func qrSVG(payload, label string) (template.HTML, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("pages: qr code: %w", err)
	}
	return svgOf(q.Bitmap(), label), nil
}

// svgOf draws a module bitmap (true = dark) as one path of horizontal runs.
func svgOf(bits [][]bool, label string) template.HTML {
	n := len(bits)
	var path strings.Builder
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	return template.HTML(fmt.Sprintf( //nolint:gosec // only numbers and an escaped label go in
		`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`+
			`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n, n, template.HTMLEscapeString(label), n, n, path.String()))
}
