// Package pdftest reads back, in pure Go, the PDFs payments/receipt writes
// with fpdf: its objects and their (inflated) streams, the text shown with
// its UTF-8 fonts, the fonts it declares, the glyphs its embedded font
// subsets map characters to, and its 8-bit grey images. It reads fpdf's own
// output, not PDF in general.
package pdftest

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Object is one indirect object: its number, its dictionary's text and its
// stream, inflated when the dictionary says /FlateDecode.
type Object struct {
	Num    int
	Dict   string
	Stream []byte
}

var (
	objStart = regexp.MustCompile(`(?m)^(\d+) 0 obj\b`)
	lengthRe = regexp.MustCompile(`/Length (\d+)`)
)

// Objects splits pdf into its indirect objects, in file order.
func Objects(pdf []byte) ([]Object, error) {
	locs := objStart.FindAllSubmatchIndex(pdf, -1)
	out := make([]Object, 0, len(locs))
	for i, loc := range locs {
		num, _ := strconv.Atoi(string(pdf[loc[2]:loc[3]]))
		end := len(pdf)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := pdf[loc[1]:end]
		o := Object{Num: num, Dict: string(body)}
		if k := bytes.Index(body, []byte("stream\n")); k >= 0 && bytes.Contains(body[:k], []byte("<<")) {
			o.Dict = string(body[:k])
			m := lengthRe.FindStringSubmatch(o.Dict)
			if m == nil {
				return nil, fmt.Errorf("object %d: stream without /Length", num)
			}
			n, _ := strconv.Atoi(m[1])
			start := k + len("stream\n")
			if start+n > len(body) {
				return nil, fmt.Errorf("object %d: /Length %d past the object's end", num, n)
			}
			raw := body[start : start+n]
			o.Stream = raw
			if strings.Contains(o.Dict, "/FlateDecode") {
				zr, err := zlib.NewReader(bytes.NewReader(raw))
				if err != nil {
					return nil, fmt.Errorf("object %d: %w", num, err)
				}
				if o.Stream, err = io.ReadAll(zr); err != nil {
					return nil, fmt.Errorf("object %d: %w", num, err)
				}
			}
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, errors.New("pdftest: no objects: not a PDF")
	}
	return out, nil
}

// Text is every string the page contents show (Tj and TJ operands), decoded
// from UTF-16BE as fpdf writes them for a UTF-8 font, one shown string per
// line.
func Text(pdf []byte) (string, error) {
	objs, err := Objects(pdf)
	if err != nil {
		return "", err
	}
	contents := map[int]bool{}
	for _, o := range objs {
		if strings.Contains(o.Dict, "/Type /Page\n") || strings.Contains(o.Dict, "/Type /Page/") || strings.Contains(o.Dict, "/Type /Page ") {
			for _, m := range regexp.MustCompile(`/Contents (\d+) 0 R`).FindAllStringSubmatch(o.Dict, -1) {
				n, _ := strconv.Atoi(m[1])
				contents[n] = true
			}
		}
	}
	if len(contents) == 0 {
		return "", errors.New("pdftest: no page contents")
	}
	var b strings.Builder
	for _, o := range objs {
		if !contents[o.Num] {
			continue
		}
		for _, s := range literals(o.Stream) {
			if len(s)%2 != 0 {
				return "", fmt.Errorf("pdftest: a shown string of %d bytes is not UTF-16", len(s))
			}
			u := make([]uint16, len(s)/2)
			for i := range u {
				u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
			}
			b.WriteString(string(utf16.Decode(u)))
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// literals returns the literal strings (…) of a content stream, unescaped.
func literals(content []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(content); i++ {
		if content[i] != '(' {
			continue
		}
		var s []byte
		depth := 1
		for i++; i < len(content) && depth > 0; i++ {
			c := content[i]
			switch c {
			case '\\':
				i++
				if i >= len(content) {
					return append(out, s)
				}
				switch e := content[i]; e {
				case 'n':
					s = append(s, '\n')
				case 'r':
					s = append(s, '\r')
				case 't':
					s = append(s, '\t')
				case 'b':
					s = append(s, '\b')
				case 'f':
					s = append(s, '\f')
				default:
					if e >= '0' && e <= '7' {
						v, n := 0, 0
						for n < 3 && i < len(content) && content[i] >= '0' && content[i] <= '7' {
							v, n, i = v*8+int(content[i]-'0'), n+1, i+1
						}
						i--
						s = append(s, byte(v))
					} else {
						s = append(s, e)
					}
				}
				continue
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					continue
				}
			}
			s = append(s, c)
		}
		i--
		out = append(out, s)
	}
	return out
}

// Font is one /Type /Font object's dictionary entries of interest.
type Font struct {
	Subtype, BaseFont, Encoding string
}

var (
	fontRe     = regexp.MustCompile(`/Type /Font\b`) // not /FontDescriptor
	subtypeRe  = regexp.MustCompile(`/Subtype /(\w+)`)
	baseFontRe = regexp.MustCompile(`/BaseFont /([^\s/>\[]+)`)
	encodingRe = regexp.MustCompile(`/Encoding /([\w-]+)`)
)

// Fonts lists the top-level fonts (not the descendant CID fonts) pdf declares.
func Fonts(pdf []byte) ([]Font, error) {
	objs, err := Objects(pdf)
	if err != nil {
		return nil, err
	}
	var out []Font
	for _, o := range objs {
		if !fontRe.MatchString(o.Dict) {
			continue
		}
		f := Font{}
		if m := subtypeRe.FindStringSubmatch(o.Dict); m != nil {
			f.Subtype = m[1]
		}
		if f.Subtype == "CIDFontType2" || f.Subtype == "CIDFontType0" {
			continue // a Type0 font's descendant
		}
		if m := baseFontRe.FindStringSubmatch(o.Dict); m != nil {
			f.BaseFont = m[1]
		}
		if m := encodingRe.FindStringSubmatch(o.Dict); m != nil {
			f.Encoding = m[1]
		}
		out = append(out, f)
	}
	return out, nil
}

// GlyphMaps returns, for each embedded CID font, its CIDToGIDMap: two bytes
// per character code (fpdf's codes are Unicode code points), the glyph the
// subset draws it with; glyph 0 is "missing".
func GlyphMaps(pdf []byte) ([]func(rune) int, error) {
	objs, err := Objects(pdf)
	if err != nil {
		return nil, err
	}
	byNum := map[int]Object{}
	for _, o := range objs {
		byNum[o.Num] = o
	}
	var out []func(rune) int
	for _, m := range regexp.MustCompile(`/CIDToGIDMap (\d+) 0 R`).FindAllSubmatch(pdf, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		o, ok := byNum[n]
		if !ok {
			return nil, fmt.Errorf("pdftest: CIDToGIDMap object %d missing", n)
		}
		data := o.Stream
		out = append(out, func(r rune) int {
			i := int(r) * 2
			if r < 0 || i+1 >= len(data) {
				return 0
			}
			return int(data[i])<<8 | int(data[i+1])
		})
	}
	if len(out) == 0 {
		return nil, errors.New("pdftest: no CIDToGIDMap: no embedded CID font")
	}
	return out, nil
}

var (
	widthRe   = regexp.MustCompile(`/Width (\d+)`)
	heightRe  = regexp.MustCompile(`/Height (\d+)`)
	columnsRe = regexp.MustCompile(`/Columns (\d+)`)
)

// GrayImages returns pdf's images that are 8-bit /DeviceGray with PNG
// predictors (fpdf's copy of a grey PNG), decoded.
func GrayImages(pdf []byte) ([]*image.Gray, error) {
	objs, err := Objects(pdf)
	if err != nil {
		return nil, err
	}
	var out []*image.Gray
	for _, o := range objs {
		if !strings.Contains(o.Dict, "/Subtype /Image") || !strings.Contains(o.Dict, "/ColorSpace /DeviceGray") ||
			!strings.Contains(o.Dict, "/BitsPerComponent 8") {
			continue
		}
		wm, hm := widthRe.FindStringSubmatch(o.Dict), heightRe.FindStringSubmatch(o.Dict)
		if wm == nil || hm == nil {
			return nil, fmt.Errorf("pdftest: image %d without its size", o.Num)
		}
		w, _ := strconv.Atoi(wm[1])
		h, _ := strconv.Atoi(hm[1])
		img := image.NewGray(image.Rect(0, 0, w, h))
		if !strings.Contains(o.Dict, "/Predictor 15") {
			if len(o.Stream) != w*h {
				return nil, fmt.Errorf("pdftest: image %d: %d bytes for %dx%d", o.Num, len(o.Stream), w, h)
			}
			copy(img.Pix, o.Stream)
			out = append(out, img)
			continue
		}
		if m := columnsRe.FindStringSubmatch(o.Dict); m == nil || m[1] != strconv.Itoa(w) {
			return nil, fmt.Errorf("pdftest: image %d: /Columns is not its width", o.Num)
		}
		if err := unfilter(img.Pix, o.Stream, w, h); err != nil {
			return nil, fmt.Errorf("pdftest: image %d: %w", o.Num, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// unfilter undoes PNG's per-row filters for one byte per pixel.
func unfilter(dst, src []byte, w, h int) error {
	if len(src) != h*(w+1) {
		return fmt.Errorf("%d bytes for %d rows of %d", len(src), h, w)
	}
	prev := make([]byte, w)
	for y := range h {
		row := src[y*(w+1) : (y+1)*(w+1)]
		ft, cur := row[0], dst[y*w:(y+1)*w]
		copy(cur, row[1:])
		for x := range w {
			var a, c byte
			b := prev[x]
			if x > 0 {
				a, c = cur[x-1], prev[x-1]
			}
			switch ft {
			case 0:
			case 1:
				cur[x] += a
			case 2:
				cur[x] += b
			case 3:
				cur[x] += byte((int(a) + int(b)) / 2)
			case 4:
				cur[x] += paeth(a, b, c)
			default:
				return fmt.Errorf("row %d: filter %d", y, ft)
			}
		}
		copy(prev, cur)
	}
	return nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Pages counts pdf's pages.
func Pages(pdf []byte) int {
	return len(regexp.MustCompile(`/Type /Page\b[^s]`).FindAll(pdf, -1))
}
