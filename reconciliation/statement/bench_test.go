package statement

import (
	"bytes"
	"testing"
)

// BenchmarkParseSettlement parses a generated 10,000-line file per gateway
// and reports lines per second.
func BenchmarkParseSettlement(b *testing.B) {
	const lines = 10_000
	for _, gateway := range Gateways() {
		b.Run(gateway, func(b *testing.B) {
			var buf bytes.Buffer
			if err := generateSettlement(&buf, gateway, lines); err != nil {
				b.Fatal(err)
			}
			data := buf.Bytes()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			runs := 0
			for b.Loop() {
				f, err := ParseSettlement(gateway, bytes.NewReader(data), func(SettlementLine) error { return nil })
				if err != nil || f.Count != lines {
					b.Fatalf("%d lines, %v", f.Count, err)
				}
				runs++
			}
			b.ReportMetric(float64(runs*lines)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkParseCAMT parses a generated camt.053 of 2,000 entries and reports
// entries per second.
func BenchmarkParseCAMT(b *testing.B) {
	const entries = 2_000
	var buf bytes.Buffer
	if err := generateCAMT(&buf, entries); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	runs := 0
	for b.Loop() {
		if _, err := ParseCAMT(bytes.NewReader(data), func(Statement, Entry) error { return nil }); err != nil {
			b.Fatal(err)
		}
		runs++
	}
	b.ReportMetric(float64(runs*entries)/b.Elapsed().Seconds(), "entries/s")
}
