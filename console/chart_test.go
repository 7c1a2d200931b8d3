package console

import (
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
)

// svgDoc is what the tests read back from a chart: it must parse as XML.
type svgDoc struct {
	XMLName    xml.Name `xml:"svg"`
	Role       string   `xml:"role,attr"`
	LabelledBy string   `xml:"aria-labelledby,attr"`
	Title      struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"title"`
	Desc struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"desc"`
	Groups []struct {
		Class string `xml:"class,attr"`
		Rects []struct {
			Class  string  `xml:"class,attr"`
			X      float64 `xml:"x,attr"`
			Y      float64 `xml:"y,attr"`
			Height float64 `xml:"height,attr"`
			Title  string  `xml:"title"`
		} `xml:"rect"`
		Texts []string `xml:"text"`
	} `xml:"g"`
	Axis struct {
		Y1 float64 `xml:"y1,attr"`
	} `xml:"line"`
}

func parseChart(t *testing.T, ch barChart) svgDoc {
	t.Helper()
	var d svgDoc
	if err := xml.Unmarshal([]byte(ch.SVG()), &d); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, ch.SVG())
	}
	return d
}

func TestBarChart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		bars   []bar
		labels []string // written under the axis
		scale  []string // the figures of the highest and lowest bars, on their guides
	}{
		{"no bars", nil, nil, nil},
		{"all zero", []bar{{"a", 0, "0"}, {"b", 0, "0"}}, []string{"a", "b"}, nil},
		{"positive", []bar{{"a", 100, "100"}, {"b", 50, "50"}, {"c", 0, "0"}}, []string{"a", "b", "c"}, []string{"100"}},
		{"negative and positive", []bar{{"a", 300, "300"}, {"b", -100, "-100"}}, []string{"a", "b"}, []string{"300", "-100"}},
		{"only negative", []bar{{"a", -10, "-10"}, {"b", -40, "-40"}}, []string{"a", "b"}, []string{"-40"}},
		{"thirty days", thirtyBars(), []string{"d1", "d6", "d11", "d16", "d21", "d26", "d30"}, []string{"30000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := barChart{ID: "c1", Title: "Net <by day>", Desc: `Figures & "the" table`, Bars: tc.bars}
			d := parseChart(t, ch)
			if d.Role != "img" || d.LabelledBy != "c1-title c1-desc" || d.Title.ID != "c1-title" || d.Desc.ID != "c1-desc" ||
				d.Title.Text != "Net <by day>" || d.Desc.Text != `Figures & "the" table` {
				t.Errorf("accessible name and description: role %q labelledby %q title %+v desc %+v", d.Role, d.LabelledBy, d.Title, d.Desc)
			}
			if len(d.Groups) != 3 || d.Groups[0].Class != "bars" || d.Groups[1].Class != "labels" || d.Groups[2].Class != "scale" {
				t.Fatalf("groups %+v", d.Groups)
			}
			if got := strings.Join(d.Groups[2].Texts, " "); got != strings.Join(tc.scale, " ") {
				t.Errorf("scale %q, want %q", got, strings.Join(tc.scale, " "))
			}
			rects := d.Groups[0].Rects
			if len(rects) != len(tc.bars) {
				t.Fatalf("%d rects for %d bars", len(rects), len(tc.bars))
			}
			if got := strings.Join(d.Groups[1].Texts, " "); got != strings.Join(tc.labels, " ") {
				t.Errorf("axis labels %q, want %q", got, strings.Join(tc.labels, " "))
			}
			zero := d.Axis.Y1
			// Heights are proportional to the values; positive bars end at the
			// zero line, negative ones start there.
			var unit float64
			for i, r := range rects {
				b := tc.bars[i]
				if r.Title != b.Label+": "+b.Text {
					t.Errorf("bar %d title %q", i, r.Title)
				}
				if r.X < chartLeft || (i > 0 && r.X <= rects[i-1].X) {
					t.Errorf("bar %d at x %v, after %v", i, r.X, rects[max(i-1, 0)].X)
				}
				switch {
				case b.Value > 0:
					if r.Class != "pos" || !near(r.Y+r.Height, zero) {
						t.Errorf("bar %d (%v): class %s, %v..%v, zero at %v", i, b.Value, r.Class, r.Y, r.Y+r.Height, zero)
					}
				case b.Value < 0:
					if r.Class != "neg" || !near(r.Y, zero) {
						t.Errorf("bar %d (%v): class %s, starts at %v, zero at %v", i, b.Value, r.Class, r.Y, zero)
					}
				default:
					if r.Height != 0 {
						t.Errorf("bar %d of 0 is %v high", i, r.Height)
					}
				}
				if b.Value != 0 {
					u := r.Height / abs(b.Value)
					if unit == 0 {
						unit = u
					} else if !near(u, unit) {
						t.Errorf("bar %d: %v per unit, others %v", i, u, unit)
					}
				}
				if r.Y < chartTop-0.01 || r.Y+r.Height > chartHeight-chartBottom+0.01 {
					t.Errorf("bar %d leaves the plot: %v..%v", i, r.Y, r.Y+r.Height)
				}
			}
		})
	}
}

// The tallest bar fills the plot: the largest magnitude sets the scale.
func TestBarChartFillsThePlot(t *testing.T) {
	t.Parallel()
	d := parseChart(t, barChart{ID: "x", Bars: []bar{{"a", 300, ""}, {"b", -100, ""}}})
	r := d.Groups[0].Rects
	if got := r[0].Height + r[1].Height; !near(got, chartHeight-chartTop-chartBottom) {
		t.Errorf("the bars span %v, the plot %v", got, chartHeight-chartTop-chartBottom)
	}
	if !near(r[0].Y, chartTop) {
		t.Errorf("the tallest bar starts at %v, the plot at %v", r[0].Y, chartTop)
	}
}

// Labels and figures are text, never markup.
func TestBarChartEscapes(t *testing.T) {
	t.Parallel()
	svg := string(barChart{ID: `a"b`, Title: "<script>x</script>", Bars: []bar{{"<b>", 1, "</title><script>"}}}.SVG())
	if strings.Contains(svg, "<script>") || strings.Contains(svg, "<b>") || strings.Contains(svg, `id="a"b"`) {
		t.Errorf("unescaped text in %s", svg)
	}
}

func thirtyBars() []bar {
	var out []bar
	for i := 1; i <= 30; i++ {
		out = append(out, bar{Label: "d" + strconv.Itoa(i), Value: float64(i * 1000), Text: strconv.Itoa(i * 1000)})
	}
	return out
}

func near(a, b float64) bool { return abs(a-b) < 0.02 }

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
