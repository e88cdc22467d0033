package quantity

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		wantErr  error
		ok       bool
	}{
		{"binary suffix", "2Gi", nil, true},
		{"milli", "500m", nil, true},
		{"small exponent", "1e3", nil, true},
		{"max exponent", "1E999", nil, true},
		{"leading zeros", "1e0000999", nil, true},
		{"huge exponent", "101207E10200701", ErrExponentTooLarge, false},
		{"huge negative exponent", "1e-10000", ErrExponentTooLarge, false},
		{"not a quantity", "abc", nil, false},
		{"exa suffix is not an exponent", "1E", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.in)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("Parse(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("1e5")
	f.Add("101207E10200701")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err == nil {
			_ = q.Cmp(q)
		}
	})
}
