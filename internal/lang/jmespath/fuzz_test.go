package jmespath

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

const fuzzDoc = `{"a": {"b": [1, 2, {"c": "x"}], "s": "str", "n": null, "t": true},
 "q": ["1Gi", "512Mi", "1h"], "m": {"app": "web"}}`

// FuzzSearch compiles and runs arbitrary expressions (alone and as the
// argument of every custom function) against a small document: nothing may
// panic, and a failed compilation must be reported as an error.
func FuzzSearch(f *testing.F) {
	seeds := []string{
		"a.b[2].c", "a.b[?c == 'x']", "q[].to_upper(@)", "sum(q)", "add(q[0], q[1])",
		"divide('1Gi', `0`)", "modulo(`5`, `0`)", "label_match(m, m)", "items(m, 'k', 'v')",
		"lookup(a.b, `-1`)", "regex_match('(', a.s)", "image_normalize(a.s)", "random('[a-z]{3}')",
		"merge(`1`)", "contains(a.b, `{\"c\":\"x\"}`)", "sort_by(a.b, &c)", "x509_decode(a.s)",
		"time_add(a.s, '1h')", "parse_yaml('a: [')", "parse_json(a.s)", "a.*.b | [0]", "`{`",
		"round(`1.5`, `400`)", "truncate(a.s, `-5`)", "object_from_lists(q, a.b)",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	in := New()
	doc := fromJSON(f, fuzzDoc)
	names := in.Functions()
	f.Fuzz(func(t *testing.T, expr string) {
		q, err := in.Compile(expr)
		if err != nil {
			if q != nil {
				t.Fatalf("Compile(%q) returned both a query and an error", expr)
			}
			return
		}
		if knownLibraryPanic(expr) {
			// Still must not escape Query.Search.
			_, _ = q.Search(doc)
			return
		}
		// Run without Query.Search's recover so that any panic in the
		// custom functions (or an unknown one in the library) fails.
		_, _ = q.search(context.Background(), doc)
		// Feed the expression's text, as data, to one custom function.
		fn := names[len(expr)%len(names)]
		_, _ = in.Search(fn.Name+"(@)", expr)
	})
}

// knownLibraryPanic marks builtins that panic inside the upstream library
// on ill-typed variadic arguments (merge does not type-check them).
func knownLibraryPanic(expr string) bool {
	return strings.Contains(expr, "merge")
}

// FuzzNormalizeImage checks image_normalize never panics and that every
// accepted reference normalizes to a fixed point.
func FuzzNormalizeImage(f *testing.F) {
	for _, s := range []string{"nginx", "a/b/c:1", "localhost:5000/x@sha256:" + strings.Repeat("0", 64),
		"[::1]:5000/x", "UPPER/x", "x:", "@", "docker.io/library/nginx:latest", ""} {
		f.Add(s)
	}
	i := New()
	f.Fuzz(func(t *testing.T, image string) {
		out, err := i.Search("image_normalize(@)", image)
		if err != nil {
			return
		}
		again, err := i.Search("image_normalize(@)", out)
		if err != nil || again != out {
			t.Fatalf("normalize(%q) = %q, but normalize(%q) = %q, %v", image, out, out, again, err)
		}
	})
}

// FuzzRandomFromRegex checks generated strings match their pattern.
func FuzzRandomFromRegex(f *testing.F) {
	for _, s := range []string{"[a-z]{4}", "(a|b)+c?", "x*", "[^0-9]", "\\d{2,}", "^$", "(?i)ab"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		out, err := randomFromRegex(pattern)
		if err != nil {
			return
		}
		re, err := New().regex("^(?:" + pattern + ")$")
		if err != nil {
			return
		}
		if !re.MatchString(out) && !strings.ContainsAny(pattern, "\\bB^$") {
			t.Fatalf("random(%q) = %q does not match", pattern, out)
		}
	})
}

// FuzzArithmetic runs every arithmetic function on two arbitrary strings.
func FuzzArithmetic(f *testing.F) {
	f.Add("1Gi", "512Mi")
	f.Add("1h", "30m")
	f.Add("9223372036854775807", "-1")
	f.Add("1e300", "1e-300")
	in := New()
	f.Fuzz(func(t *testing.T, a, b string) {
		data := map[string]any{"a": a, "b": b}
		for _, fn := range []string{"add", "subtract", "multiply", "divide", "modulo"} {
			q, err := in.Compile(fn + "(a, b)")
			if err != nil {
				t.Fatal(err)
			}
			// No recover here: a panic in the arithmetic fails the fuzz.
			_, _ = q.search(context.Background(), data)
		}
	})
}

func BenchmarkSearchCachedPod(b *testing.B) {
	in := New()
	data := fromJSON(b, podDoc)
	exprs := []string{
		"request.object.spec.containers[?securityContext.runAsUser == `0`].name | length(@)",
		"request.operation || 'BACKGROUND'",
		"request.object.spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort",
	}
	// Their results, checked once before timing (numbers are float64).
	want := []any{1.0, "CREATE", []any{9001.0, 8080.0}}
	for i, e := range exprs {
		got, err := in.Search(e, data)
		if err != nil || !reflect.DeepEqual(got, want[i]) {
			b.Fatalf("%s = %#v, %v; want %#v", e, got, err, want[i])
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		if _, err := in.Search(exprs[n%len(exprs)], data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRegexMatchCached(b *testing.B) {
	in := New()
	data := fromJSON(b, podDoc)
	const expr = "regex_match('^[a-z]+$', request.object.metadata.name)"
	if got, err := in.Search(expr, data); err != nil || got != true {
		b.Fatalf("%s = %#v, %v; want true", expr, got, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Search(expr, data); err != nil {
			b.Fatal(err)
		}
	}
}
