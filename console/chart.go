package console

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// barChart is a bar chart drawn on the server as inline SVG: no script, no
// image request (the content security policy allows neither), readable by a
// screen reader through its <title> and <desc> (role="img"), each bar with a
// <title> of its own (the tooltip). It is never the only place its figures
// are: the page shows them in a table too, which the description points to.
type barChart struct {
	ID    string // unique in the page: the ids of the title and description derive from it
	Title string
	Desc  string
	Bars  []bar
}

// bar is one bar: its label on the axis, its value (only for the drawing;
// the figure people read is Text, formatted exactly).
type bar struct {
	Label string
	Value float64
	Text  string
}

// The drawing's geometry, in viewBox units: the plot between the margins,
// labels in them. The SVG scales to the width of the page (console.css).
const (
	chartHeight = 240.0
	chartTop    = 20.0 // room for the highest bar's figure
	chartBottom = 36.0 // room for the labels under the axis (and the lowest bar's figure)
	chartLeft   = 8.0
	chartRight  = 8.0
	chartBarMin = 16.0 // width of a bar's slot when there are many
	chartWidth  = 640.0
	chartLabels = 8 // at most this many labels on the axis
)

// SVG draws the chart. Bars rise from the zero line, or hang below it for
// negative values, scaled to the largest magnitude; the zero line is drawn,
// and labels are written under the axis for at most chartLabels bars
// (evenly spread, the first and last among them).
func (ch barChart) SVG() template.HTML {
	n := len(ch.Bars)
	width := chartWidth
	if w := chartLeft + chartRight + float64(n)*chartBarMin; w > width {
		width = w
	}
	maxV, minV := 0.0, 0.0
	for _, b := range ch.Bars {
		maxV, minV = math.Max(maxV, b.Value), math.Min(minV, b.Value)
	}
	plotH := chartHeight - chartTop - chartBottom
	span := maxV - minV
	zero := chartTop + plotH // all values ≥ 0: the axis at the bottom
	scale := 0.0
	if span > 0 {
		scale = plotH / span
		zero = chartTop + maxV*scale
	}
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" role="img" viewBox="0 0 %s %s" `+
		`aria-labelledby="%[1]s-title %[1]s-desc" preserveAspectRatio="xMidYMid meet">`, esc(ch.ID), num(width), num(chartHeight))
	fmt.Fprintf(&b, `<title id="%[1]s-title">%[2]s</title><desc id="%[1]s-desc">%[3]s</desc>`, esc(ch.ID), esc(ch.Title), esc(ch.Desc))
	slot := 0.0
	if n > 0 {
		slot = (width - chartLeft - chartRight) / float64(n)
	}
	every := 1
	if n > chartLabels {
		every = int(math.Ceil(float64(n-1) / float64(chartLabels-1)))
	}
	b.WriteString(`<g class="bars">`)
	for i, bb := range ch.Bars {
		x := chartLeft + float64(i)*slot + slot*0.15
		h := math.Abs(bb.Value) * scale
		y := zero - h
		class := "pos"
		if bb.Value < 0 {
			y, class = zero, "neg"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"><title>%s: %s</title></rect>`,
			class, num(x), num(y), num(slot*0.7), num(h), esc(bb.Label), esc(bb.Text))
	}
	b.WriteString(`</g><g class="labels" aria-hidden="true">`)
	for i, bb := range ch.Bars {
		if i%every != 0 && i != n-1 {
			continue
		}
		if i != n-1 && n-1-i < every/2 { // too close to the last label, which is always written
			continue
		}
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`,
			num(chartLeft+(float64(i)+0.5)*slot), num(chartHeight-chartBottom+16), esc(bb.Label))
	}
	// The scale: a guide at the highest bar (and the lowest, when below
	// zero), labelled with its figure, above the line.
	b.WriteString(`</g><g class="scale" aria-hidden="true">`)
	for _, i := range extremes(ch.Bars) {
		bb := ch.Bars[i]
		y := zero - bb.Value*scale
		x, anchor := chartLeft, "start"
		if bb.Value < 0 {
			x, anchor = width-chartRight, "end"
		}
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%[3]s"/><text x="%[4]s" y="%[5]s" text-anchor="%[6]s">%[7]s</text>`,
			num(chartLeft), num(width-chartRight), num(y), num(x), num(y-4), anchor, esc(bb.Text))
	}
	b.WriteString(`</g>`)
	fmt.Fprintf(&b, `<line class="axis" x1="%s" x2="%s" y1="%s" y2="%[3]s"/>`, num(chartLeft), num(width-chartRight), num(zero))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text in it went through HTMLEscapeString
}

// extremes are the indexes of the highest bar above zero and the lowest
// below it, if any.
func extremes(bars []bar) []int {
	hi, lo := -1, -1
	for i, b := range bars {
		if b.Value > 0 && (hi < 0 || b.Value > bars[hi].Value) {
			hi = i
		}
		if b.Value < 0 && (lo < 0 || b.Value < bars[lo].Value) {
			lo = i
		}
	}
	var out []int
	for _, i := range []int{hi, lo} {
		if i >= 0 {
			out = append(out, i)
		}
	}
	return out
}

// num writes a coordinate with at most two decimals.
func num(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
