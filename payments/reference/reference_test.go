package reference_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/civicpay/civicpay/payments/reference"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func TestKnownReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{in: "RF18539007547034", want: "RF18539007547034"}, // ISO 11649 example, digits body
		{in: "rf18 5390 0754 7034", want: "RF18539007547034"},
		{in: "RF19539007547034", err: reference.ErrCheckDigs},
		{in: "RF18539007547043", err: reference.ErrCheckDigs},
		{in: "RX18539007547034", err: reference.ErrFormat},
		{in: "RF18ABC", err: reference.ErrFormat},
		{in: "", err: reference.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := reference.Parse(tt.in)
			if err != tt.err || got != tt.want {
				t.Fatalf("Parse(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

// TestEveryTypoIsCaught is the property test: for many random references, every
// single-character substitution (any digit or letter, in any position) and every
// swap of two adjacent different characters is rejected.
func TestEveryTypoIsCaught(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		body := fmt.Sprintf("%d", rng.Uint64N(1e15))
		ref, err := reference.FromBody(body)
		if err != nil {
			t.Fatal(err)
		}
		if !reference.Valid(ref) {
			t.Fatalf("generated %q does not validate", ref)
		}
		for pos := 0; pos < len(ref); pos++ {
			for _, c := range alphabet {
				if byte(c) == ref[pos] {
					continue
				}
				typo := ref[:pos] + string(c) + ref[pos+1:]
				if reference.Valid(typo) {
					t.Fatalf("substitution %q -> %q not detected", ref, typo)
				}
			}
			if pos+1 < len(ref) && ref[pos] != ref[pos+1] {
				swapped := ref[:pos] + string(ref[pos+1]) + string(ref[pos]) + ref[pos+2:]
				if reference.Valid(swapped) {
					t.Fatalf("adjacent swap %q -> %q not detected", ref, swapped)
				}
			}
		}
	}
}

func TestNewIsValidAndVaries(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		r, err := reference.New()
		if err != nil {
			t.Fatal(err)
		}
		if !reference.Valid(r) || len(r) != 4+reference.BodyDigits {
			t.Fatalf("New() = %q", r)
		}
		seen[r] = true
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct references in 100", len(seen))
	}
}

func ExampleFromBody() {
	ref, _ := reference.FromBody("539007547034")
	fmt.Println(ref, reference.Format(ref), reference.Valid(ref))
	// Output: RF18539007547034 RF18 5390 0754 7034 true
}
