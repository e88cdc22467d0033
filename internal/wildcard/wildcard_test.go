package wildcard

import "testing"

func TestMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, pattern, s string
		want             bool
	}{
		{"exact", "nginx", "nginx", true},
		{"exact mismatch", "nginx", "nginx2", false},
		{"star all", "*", "", true},
		{"star suffix", "gcr.io/*", "gcr.io/foo/bar:1", true},
		{"star suffix mismatch", "gcr.io/*", "docker.io/gcr.io/x", false},
		{"star middle", "ghcr.io/*/app", "ghcr.io/org/app", true},
		{"question", "v?", "v1", true},
		{"question too short", "v?", "v", false},
		{"question multibyte", "?x", "éx", true},
		{"backtrack", "*ab*cd", "xxabyyabzzcd", true},
		{"backtrack fail", "*ab*cd", "xxabyyabzzc", false},
		{"stars only", "**", "abc", true},
		{"empty pattern", "", "", true},
		{"empty pattern nonempty", "", "a", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Fuzz(func(t *testing.T, p, s string) {
		_ = Match(p, s)
		if !ContainsWildcard(p) && Match(p, s) != (p == s) {
			t.Fatalf("literal pattern %q vs %q", p, s)
		}
	})
}
