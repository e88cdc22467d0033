package variables

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Kyverno's regular expressions, used as the reference implementation for
// the hand-written scanners.
var (
	refVariable        = regexp.MustCompile(`(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})`)
	refEscapedVariable = regexp.MustCompile(`\\\{\{(?:\{[^{}]*\}|[^{}])*\}\}`)
)

func regexVariables(s string) []varMatch {
	var out []varMatch
	for _, loc := range refVariable.FindAllStringSubmatchIndex(s, -1) {
		out = append(out, varMatch{prefix: loc[0], open: loc[4], end: loc[5]})
	}
	return out
}

func regexUnescape(s string) string {
	return refEscapedVariable.ReplaceAllStringFunc(s, func(m string) string { return m[1:] })
}

func slowTrim(v string) string {
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, "{{", ""), "}}", ""))
}

var scanSeeds = []string{
	"", "{{a}}", "x{{a}}", `\{{a}}`, "{{a}}{{b}}", "{{{x}}}", "{{{{x}}", "{{a.{{b}}}}",
	"é{{a}}", "{{ {a: b} }}", "{{a}", "{{a}}}", "}}{{", `\\{{a}}`, "a{{b{c}d}}e", "{{\n}}",
	"\xff{{a}}", "{{{}}}", "{{a}} \\{{b}} {{c}}", "{{{a}{b}}}",
}

func TestFindVariablesMatchesRegexp(t *testing.T) {
	t.Parallel()
	for _, s := range scanSeeds {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			if got, want := findVariables(s, nil), regexVariables(s); !reflect.DeepEqual(got, want) {
				t.Errorf("findVariables(%q) = %v, regexp gives %v", s, got, want)
			}
			if got, want := unescapeVariables(s), regexUnescape(s); got != want {
				t.Errorf("unescapeVariables(%q) = %q, regexp gives %q", s, got, want)
			}
		})
	}
}

func FuzzFindVariables(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := findVariables(s, nil), regexVariables(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("findVariables(%q) = %v, regexp gives %v", s, got, want)
		}
		for _, m := range findVariables(s, nil) {
			raw := s[m.open:m.end]
			if m.prefix < m.open {
				raw = s[m.prefix+1 : m.end]
			}
			if got, want := trimVariable(raw), slowTrim(raw); got != want {
				t.Fatalf("trimVariable(%q) = %q, want %q", raw, got, want)
			}
		}
		if got, want := unescapeVariables(s), regexUnescape(s); got != want {
			t.Fatalf("unescapeVariables(%q) = %q, regexp gives %q", s, got, want)
		}
	})
}
