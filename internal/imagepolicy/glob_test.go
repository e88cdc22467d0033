package imagepolicy

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, glob, image string
		want              bool
	}{
		// Docker Hub short names are qualified before matching.
		{"official image exact", "index.docker.io/library/nginx:latest", "nginx", true},
		{"official image any tag", "index.docker.io/library/nginx:*", "nginx:1.27", true},
		{"official image star", "index.docker.io/library/*", "nginx", true},
		{"bare star means library", "*", "nginx", true},
		{"bare star is not any registry", "*", "ghcr.io/a/b", false},
		{"bare star-slash-star means hub users", "*/*", "someone/app", true},
		{"bare star-slash-star not other registry", "*/*", "ghcr.io/a/b", false},
		{"docker.io alias", "index.docker.io/someone/*", "docker.io/someone/app:v1", true},
		{"double star everything", "**", "quay.io/x/y/z:1", true},
		{"double star crosses slashes", "ghcr.io/**", "ghcr.io/org/team/app:v1", true},
		{"single star stops at slash", "ghcr.io/*", "ghcr.io/org/app", false},
		{"single star segment", "ghcr.io/*/*", "ghcr.io/org/app", true},
		{"single star needs both segments", "ghcr.io/*/*", "ghcr.io/app", false},
		{"star spans tag colon", "ghcr.io/org/*", "ghcr.io/org/app:v2", true},
		{"digest reference", "ghcr.io/org/app**", "ghcr.io/org/app@sha256:" + strings.Repeat("a", 64), true},
		{"dot is literal", "ghcr.io/**", "ghcrxio/foo", false},
		{"anchored start", "ghcr.io/foo", "prefix-ghcr.io/foo", false},
		{"anchored end", "ghcr.io/foo", "ghcr.io/foo-suffix", false},
		{"raw fallback", "someone/app", "someone/app", true},
		{"raw fallback short", "nginx", "nginx", true},
		{"trailing star empty", "ghcr.io/foo*", "ghcr.io/foo", true},
		{"prefix wildcard", "inde**", "busybox", true},
		{"registry with port", "localhost:5000/**", "localhost:5000/app:dev", true},
		{"invalid image never matches", "**", "invalid&name", false},
		{"uppercase image invalid", "**", "ghcr.io/Org/App", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := MatchGlob(c.glob, c.image)
			if err != nil {
				t.Fatalf("MatchGlob(%q): %v", c.glob, err)
			}
			if got != c.want {
				t.Fatalf("MatchGlob(%q, %q) = %v, want %v", c.glob, c.image, got, c.want)
			}
		})
	}
}

func TestCompileGlobRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ glob, reason string }{
		"empty":          {"", "empty"},
		"question mark":  {"ghcr.io/app?", "only \"*\" and \"**\" are wildcards"},
		"char class":     {"[a-z]*", "not allowed"},
		"regexp plus":    {".+", "not allowed"},
		"digest at":      {"ghcr.io/app@sha256:abc", "not allowed"},
		"space":          {"ghcr.io/my app", "not allowed"},
		"backslash":      {`ghcr.io\app`, "not allowed"},
		"non ascii":      {"ghcr.io/äpp", "not allowed"},
		"brace":          {"ghcr.io/{a,b}", "not allowed"},
		"dollar anchors": {"ghcr.io/app$", "not allowed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CompileGlob(c.glob)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("CompileGlob(%q) = %v, want error containing %q", c.glob, err, c.reason)
			}
		})
	}
}

// refMatch is an independent backtracking matcher for the glob language.
func refMatch(p, s string) bool {
	switch {
	case p == "":
		return s == ""
	case strings.HasPrefix(p, "**"):
		for i := 0; i <= len(s); i++ {
			if refMatch(p[2:], s[i:]) {
				return true
			}
		}
		return false
	case p[0] == '*':
		for i := 0; i <= len(s); i++ {
			if refMatch(p[1:], s[i:]) {
				return true
			}
			if i < len(s) && s[i] == '/' {
				return false
			}
		}
		return false
	default:
		return s != "" && p[0] == s[0] && refMatch(p[1:], s[1:])
	}
}

func refGlobMatch(glob, image string) bool {
	full, ok := NormalizeImage(image)
	if !ok {
		return false
	}
	switch glob {
	case "*":
		glob = "index.docker.io/library/*"
	case "*/*":
		glob = "index.docker.io/*/*"
	}
	return refMatch(glob, full) || refMatch(glob, image)
}

func FuzzGlobMatch(f *testing.F) {
	f.Add("ghcr.io/**", "ghcr.io/a/b:c")
	f.Add("*", "nginx")
	f.Add("*/*", "user/app")
	f.Add("index.docker.io/library/*:1.*", "nginx:1.27")
	f.Add("a***b", "a/x/b")
	f.Add("ghcr.io/?", "ghcr.io/a")
	f.Fuzz(func(t *testing.T, glob, image string) {
		if len(glob) > 64 || strings.Count(glob, "*") > 6 || len(image) > 256 {
			return
		}
		g, err := CompileGlob(glob)
		if err != nil {
			for _, r := range glob {
				if !globRune(r) {
					return
				}
			}
			if glob != "" {
				t.Fatalf("CompileGlob(%q) refused a glob of allowed characters: %v", glob, err)
			}
			return
		}
		if got, want := g.Match(image), refGlobMatch(glob, image); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", glob, image, got, want)
		}
		if !strings.Contains(glob, "*") && g.Match(image) {
			full, _ := NormalizeImage(image)
			if image != glob && full != glob {
				t.Fatalf("literal glob %q matched %q (%q)", glob, image, full)
			}
		}
	})
}
