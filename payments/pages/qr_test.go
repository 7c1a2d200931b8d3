package pages

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

var runRE = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// paint redraws the path of an SVG made by svgOf as a bitmap.
func paint(t *testing.T, svg string, n int) [][]bool {
	t.Helper()
	d := regexp.MustCompile(`d="([^"]*)"`).FindStringSubmatch(svg)
	if d == nil {
		t.Fatalf("no path in %s", svg)
	}
	out := make([][]bool, n)
	for i := range out {
		out[i] = make([]bool, n)
	}
	rest := runRE.ReplaceAllStringFunc(d[1], func(run string) string {
		m := runRE.FindStringSubmatch(run)
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if m[3] != m[4] {
			t.Errorf("run %q does not close", run)
		}
		for i := x; i < x+w; i++ {
			if out[y][i] {
				t.Errorf("module %d,%d drawn twice", i, y)
			}
			out[y][i] = true
		}
		return ""
	})
	if rest != "" {
		t.Errorf("unexpected path data %q", rest)
	}
	return out
}

func TestSVGDrawsEveryDarkModule(t *testing.T) {
	t.Parallel()
	tests := map[string][][]bool{
		"empty":    {{false, false}, {false, false}},
		"full":     {{true, true}, {true, true}},
		"stripes":  {{true, false, true}, {false, true, false}, {true, true, true}},
		"edge run": {{false, true, true}, {true, true, false}, {false, false, true}},
	}
	for name, bits := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			svg := string(svgOf(bits, "label"))
			if got := paint(t, svg, len(bits)); fmt.Sprint(got) != fmt.Sprint(bits) {
				t.Errorf("drew %v, want %v", got, bits)
			}
		})
	}
}

func TestQRSVG(t *testing.T) {
	t.Parallel()
	payload := "00020101021238570010A000000727012700069704360113001234567890102080QRIBFTTA530370454062000005802VN62230819RF68123456789012345630416A1"
	svg, err := qrSVG(payload, `QR "chuyển khoản" <200.000 ₫>`)
	if err != nil {
		t.Fatal(err)
	}
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bits := q.Bitmap()
	s := string(svg)
	if !strings.Contains(s, fmt.Sprintf(`viewBox="0 0 %d %d"`, len(bits), len(bits))) {
		t.Errorf("viewBox does not match the %d-module code", len(bits))
	}
	if got := paint(t, s, len(bits)); fmt.Sprint(got) != fmt.Sprint(bits) {
		t.Error("the drawing differs from the encoder's modules")
	}
	if !strings.Contains(s, `aria-label="QR &#34;chuyển khoản&#34; &lt;200.000 ₫&gt;"`) || !strings.Contains(s, `role="img"`) {
		t.Errorf("label not escaped or missing: %.300s", s)
	}
	if _, err := qrSVG(strings.Repeat("x", 5000), "too long"); err == nil {
		t.Error("a payload no QR code can hold was drawn")
	}
}
