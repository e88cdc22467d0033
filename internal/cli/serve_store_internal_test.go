//go:build !offline

package cli

import "testing"

// TestStoreURL: --store wins; without it the URL comes from
// $PORTCULLIS_STORE (how the Helm chart passes a Secret's URL).
func TestStoreURL(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == StoreEnv {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct{ flag, env, want string }{
		{"", "", ""},
		{"", "postgres://u:p@db/findings", "postgres://u:p@db/findings"},
		{"/data/findings.db", "postgres://u:p@db/findings", "/data/findings.db"},
	} {
		if got := storeURL(c.flag, env(c.env)); got != c.want {
			t.Errorf("storeURL(%q) with $%s=%q: %q, want %q", c.flag, StoreEnv, c.env, got, c.want)
		}
	}
}
