package jmespath

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gojmespath "github.com/kyverno/go-jmespath"
)

const podDoc = `{
 "request": {
  "operation": "CREATE",
  "object": {
   "apiVersion": "v1", "kind": "Pod",
   "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                "ownerReferences": [{"kind": "ReplicaSet", "uid": "abc-123"}]},
   "spec": {
     "duration": "2160h",
     "containers": [
       {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "hostPort": 8080}],
        "securityContext": {"runAsUser": 1000, "capabilities": {"drop": ["all"]}},
        "livenessProbe": {"exec": {"command": ["sh", "-c", "ps aux"]}}},
       {"name": "side", "image": "busybox", "securityContext": {"runAsUser": 0}}
     ],
     "initContainers": [{"name": "init", "image": "alpine", "ports": [{"containerPort": 9000, "hostPort": 9001}]}],
     "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                 {"name": "kube-api-access-x1", "projected": {"sources": []}}],
     "tls": [{"hosts": ["b.example.com", "a.example.com"]}]
   }
  }
 },
 "element": {"path": "/etc/ssl", "securityContext": {"capabilities": {"drop": ["net_raw", "all"]}}},
 "images": {"containers": {"nginx": {"registry": "docker.io", "name": "nginx"}}},
 "items": [{"spec": {"selector": {"matchLabels": {"app": "web"}}}}, {"spec": {"selector": {"matchLabels": {"app": "db"}}}}]
}`

// TestCorpusExpressions runs expressions taken from the Kyverno policy
// corpus (after variable substitution of nested {{ }}) on a Pod document.
func TestCorpusExpressions(t *testing.T) {
	t.Parallel()
	cases := []evalCase{
		{name: "operation or background", expr: "request.operation || 'BACKGROUND'", want: `"CREATE"`},
		{name: "missing operation defaults", expr: "request.missing || 'BACKGROUND'", want: `"BACKGROUND"`},
		{name: "drop to upper", expr: "element.securityContext.capabilities.drop[].to_upper(@) || `[]`", want: `["NET_RAW","ALL"]`},
		{name: "host ports across container kinds", expr: "request.object.spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort", want: `[9001,8080]`},
		{name: "images registry first", expr: "images.containers.*.registry | [0]", want: `"docker.io"`},
		{name: "emptyDir volume count", expr: "request.object.spec.volumes[?contains(keys(@), 'emptyDir')] || `[]` | length(@)", want: "2"},
		{name: "liveness ps", expr: "request.object.spec.containers[].livenessProbe.exec.command[].regex_match('\\bps\\b',@)", want: `[false,false,true]`},
		{name: "max duration hours", expr: "max( [ to_number(regex_replace_all('h.*',request.object.spec.duration,'')), to_number('2400') ] )", want: "2400"},
		{name: "path segment", expr: "element.path  | to_string(@) | split(@, '/') | [1]", want: `"etc"`},
		{name: "sorted tls hosts", expr: "(request.object.spec.tls[].hosts[] || `[]`) | sort(@)", want: `["a.example.com","b.example.com"]`},
		{name: "owner uid", expr: "request.object.metadata.keys(@).contains(@, 'ownerReferences') && request.object.metadata.ownerReferences[0].uid", want: `"abc-123"`},
		{name: "label_match filter", expr: "items[?label_match(spec.selector.matchLabels, `{\"app\":\"web\"}`)] | length(@)", want: "1"},
		{name: "kube api access name", expr: "request.object.spec.volumes[?projected].name[?starts_with(@,'kube-api-access-')] | [0] || ''", want: `"kube-api-access-x1"`},
		{name: "run as user strings", expr: "request.object.spec.containers[].securityContext.to_string(runAsUser)", want: `["1000","0"]`},
		{name: "emptyDir without sizeLimit", expr: "request.object.spec.volumes[?contains(keys(@), 'emptyDir') && !contains(keys(emptyDir), 'sizeLimit')].name", want: `["cache"]`},
		{name: "root containers", expr: "request.object.spec.containers[?securityContext.runAsUser == `0`].name", want: `["side"]`},
		{name: "init containers or empty", expr: "request.object.spec.initContainers[] || `[]` | length(@)", want: "1"},
		{name: "ephemeral missing length", expr: "request.object.spec.ephemeralContainers[] || '' | length(@)", want: "0"},
		{name: "quoted label", expr: "request.\"object\".metadata.labels.\"app.kubernetes.io/part-of\" || ''", want: `""`},
		{name: "time since created", expr: "time_since('', '2024-01-01T00:00:00Z', '')", want: `"27h4m5s"`},
	}
	for i := range cases {
		cases[i].data = podDoc
	}
	runCases(t, cases)
}

// TestMissingFieldSemantics pins the fork's not-found behaviour that the
// variable substitution layer relies on.
func TestMissingFieldSemantics(t *testing.T) {
	t.Parallel()
	doc := fromJSON(t, `{"a": {"b": null, "s": "str", "arr": [{"x": 1}, {"y": 2}]}}`)
	in := New()
	cases := []struct {
		name     string
		expr     string
		data     any
		want     any
		notFound string // missing key expected in a NotFoundError
		err      string // other error fragment
	}{
		{name: "top level missing", expr: "missing", data: doc, notFound: "missing"},
		{name: "nested missing", expr: "a.missing", data: doc, notFound: "missing"},
		{name: "missing parent", expr: "missing.b", data: doc, notFound: "missing"},
		{name: "missing then index", expr: "missing[0]", data: doc, notFound: "missing"},
		{name: "field of null is null", expr: "a.b.c", data: doc, want: nil},
		{name: "field of string is null", expr: "a.s.c", data: doc, want: nil},
		{name: "field of nil document is null", expr: "a", data: nil, want: nil},
		{name: "index out of range is null", expr: "a.arr[5]", data: doc, want: nil},
		{name: "projection skips missing", expr: "a.arr[].x", data: doc, want: []any{1.0}},
		{name: "filter tolerates missing", expr: "a.arr[?x == `1`].x", data: doc, want: []any{1.0}},
		{name: "or swallows", expr: "missing || 'd'", data: doc, want: "d"},
		{name: "pipe swallows", expr: "missing | @", data: doc, want: nil},
		{name: "comparison swallows", expr: "missing == null", data: doc, want: true},
		{name: "not swallows", expr: "!missing", data: doc, want: true},
		{name: "function arg becomes null", expr: "to_string(missing)", data: doc, want: "null"},
		{name: "function type error on null", expr: "length(missing)", data: doc, err: "Invalid type for: <nil>"},
		{name: "multiselect hash", expr: "{x: missing}", data: doc, want: map[string]any{"x": nil}},
		{name: "multiselect list", expr: "[missing]", data: doc, want: []any{nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.Search(tc.expr, tc.data)
			switch {
			case tc.notFound != "":
				if !IsNotFound(err) {
					t.Fatalf("%s: want NotFoundError, got %v (%#v)", tc.expr, err, got)
				}
				key, ok := MissingKey(err)
				if !ok || key != tc.notFound {
					t.Fatalf("%s: MissingKey = %q, %v; want %q", tc.expr, key, ok, tc.notFound)
				}
				if want := `Unknown key "` + tc.notFound + `" in path`; err.Error() != want {
					t.Fatalf("%s: message %q, want %q", tc.expr, err, want)
				}
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) || IsNotFound(err) {
					t.Fatalf("%s: want error containing %q, got %v", tc.expr, tc.err, err)
				}
			default:
				if err != nil {
					t.Fatalf("%s: unexpected error %v", tc.expr, err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("%s: got %#v, want %#v", tc.expr, got, tc.want)
				}
			}
		})
	}
}

func TestIsNotFoundAndMissingKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want bool
		key  string
	}{
		{name: "nil", err: nil},
		{name: "other", err: errors.New("x")},
		{name: "wrapped", err: errors.Join(errors.New("ctx"), notFound(t, "k")), want: true, key: "k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsNotFound(tc.err); got != tc.want {
				t.Fatalf("IsNotFound = %v, want %v", got, tc.want)
			}
			key, ok := MissingKey(tc.err)
			if ok != tc.want || key != tc.key {
				t.Fatalf("MissingKey = %q, %v; want %q, %v", key, ok, tc.key, tc.want)
			}
		})
	}
}

func notFound(t *testing.T, key string) error {
	t.Helper()
	_, err := New().Search(key, map[string]any{})
	var nf gojmespath.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("expected NotFoundError, got %v", err)
	}
	return err
}

func TestCompile(t *testing.T) {
	t.Parallel()
	in := New()
	cases := []struct {
		name string
		expr string
		err  string
	}{
		{name: "valid", expr: "a.b[?c == 'd'] | length(@)"},
		{name: "unterminated bracket", expr: "foo[", err: `invalid JMESPath expression "foo["`},
		{name: "bad token", expr: "a.^", err: "SyntaxError"},
		{name: "empty", expr: "", err: "invalid JMESPath expression"},
		{name: "unterminated literal", expr: "`{", err: "invalid JMESPath expression"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := in.Compile(tc.expr)
			if tc.err == "" {
				if err != nil || q == nil || q.Expression() != tc.expr {
					t.Fatalf("Compile(%q) = %v, %v", tc.expr, q, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("Compile(%q) error %v, want fragment %q", tc.expr, err, tc.err)
			}
			var se gojmespath.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) error %T does not wrap SyntaxError", tc.expr, err)
			}
			if _, err := in.Search(tc.expr, nil); err == nil {
				t.Fatalf("Search(%q) accepted an invalid expression", tc.expr)
			}
		})
	}
}

func TestSearchCache(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		size     int
		sameHits bool
	}{
		{name: "default cache reuses queries", size: defaultCacheSize, sameHits: true},
		{name: "disabled cache compiles each time", size: 0, sameHits: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := New(WithCacheSize(tc.size))
			q1, err := in.cached("a.b")
			if err != nil {
				t.Fatal(err)
			}
			q2, _ := in.cached("a.b")
			if (q1 == q2) != tc.sameHits {
				t.Fatalf("same query = %v, want %v", q1 == q2, tc.sameHits)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		in := New(WithCacheSize(2))
		for _, e := range []string{"a", "b", "c", "d"} {
			if _, err := in.Search(e, map[string]any{e: 1.0}); err != nil {
				t.Fatal(err)
			}
		}
		in.mu.RLock()
		n := len(in.cache)
		in.mu.RUnlock()
		if n != 2 {
			t.Fatalf("cache size %d, want 2", n)
		}
	})
}

func TestQuerySearchCompiledOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data string
		want any
	}{
		{name: "match", data: `{"a":{"b":"x"}}`, want: "X"},
		{name: "other", data: `{"a":{"b":"y"}}`, want: "Y"},
	}
	q, err := New().Compile("to_upper(a.b)")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := q.Search(fromJSON(t, tc.data))
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestFunctionsListed(t *testing.T) {
	t.Parallel()
	required := []string{"compare", "equal_fold", "replace", "replace_all", "to_upper",
		"to_lower", "trim", "trim_prefix", "split", "regex_replace_all", "regex_replace_all_literal",
		"regex_match", "pattern_match", "label_match", "to_boolean", "add", "sum", "subtract", "multiply", "divide",
		"modulo", "round", "base64_decode", "base64_encode", "time_since", "time_now", "time_now_utc",
		"time_add", "time_after", "time_before", "time_between", "time_diff", "time_parse", "time_to_cron",
		"time_truncate", "time_utc", "path_canonicalize", "truncate", "semver_compare", "parse_json",
		"parse_yaml", "lookup", "items", "object_from_lists", "random", "x509_decode", "image_normalize",
		"is_external_url", "sha256", "md5"}
	infos := New().Functions()
	byName := map[string]FunctionInfo{}
	for idx, f := range infos {
		byName[f.Name] = f
		if idx > 0 && infos[idx-1].Name >= f.Name {
			t.Fatalf("functions not sorted at %q", f.Name)
		}
	}
	for _, name := range required {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, ok := byName[name]
			if !ok {
				t.Fatalf("%s not listed", name)
			}
			if f.Note == "" || f.ReturnType == "" {
				t.Fatalf("%s lacks note or return type: %+v", name, f)
			}
		})
	}
	t.Run("signatures", func(t *testing.T) {
		t.Parallel()
		want := map[string]string{
			"add":          "add(any, any) any",
			"regex_match":  "regex_match(string, string|number) boolean",
			"lookup":       "lookup(object|array, string|number) any",
			"time_now":     "time_now() string",
			"label_match":  "label_match(object, object) boolean",
			"time_between": "time_between(string, string, string) boolean",
		}
		for name, sig := range want {
			if got := byName[name].Signature(); got != sig {
				t.Errorf("%s signature %q, want %q", name, got, sig)
			}
		}
		if _, ok := byName["contains"]; ok {
			t.Errorf("builtin override contains must not be listed")
		}
	})
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want any
	}{
		{name: "int", in: 3, want: 3.0},
		{name: "json number", in: json.Number("1.5"), want: 1.5},
		{name: "nested", in: map[string]any{"a": []any{int64(1), "x", map[string]any{"b": float32(2)}}},
			want: map[string]any{"a": []any{1.0, "x", map[string]any{"b": 2.0}}}},
		{name: "string slices and maps", in: map[string]any{"l": []string{"a"}, "m": map[string]string{"k": "v"}},
			want: map[string]any{"l": []any{"a"}, "m": map[string]any{"k": "v"}}},
		{name: "untouched", in: map[string]any{"a": 1.0}, want: map[string]any{"a": 1.0}},
		{name: "nil", in: nil, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before, _ := json.Marshal(tc.in)
			got := Normalize(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Normalize = %#v, want %#v", got, tc.want)
			}
			after, _ := json.Marshal(tc.in)
			if string(before) != string(after) {
				t.Fatalf("input mutated: %s -> %s", before, after)
			}
		})
	}
	t.Run("no copy when already normalized", func(t *testing.T) {
		t.Parallel()
		in := map[string]any{"a": []any{1.0}}
		out := Normalize(in).(map[string]any)
		if reflect.ValueOf(out).Pointer() != reflect.ValueOf(in).Pointer() {
			t.Fatalf("expected the same map back")
		}
	})
	t.Run("builtins after normalize", func(t *testing.T) {
		t.Parallel()
		data := map[string]any{"n": 2, "l": []any{1, 5}}
		got, err := New().Search("n > `1` && max(l)", Normalize(data))
		if err != nil || got != 5.0 {
			t.Fatalf("got %v, %v", got, err)
		}
	})
}

func TestCustomFunctionsAcceptGoNumbers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		expr string
		data map[string]any
		want any
	}{
		{name: "add ints", expr: "add(a, b)", data: map[string]any{"a": 1, "b": int64(2)}, want: 3.0},
		{name: "truncate int", expr: "truncate('abcdef', n)", data: map[string]any{"n": 2}, want: "ab"},
		{name: "regex_match json number", expr: "regex_match('^4', n)", data: map[string]any{"n": json.Number("42")}, want: true},
		{name: "lookup int index", expr: "lookup(l, i)", data: map[string]any{"l": []any{"x", "y"}, "i": uint8(1)}, want: "y"},
	}
	in := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.Search(tc.expr, tc.data)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestRandom(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern string
		match   string
	}{
		{name: "class with count", pattern: "[0-9a-z]{5}", match: `^[0-9a-z]{5}$`},
		{name: "alternation and groups", pattern: "(foo|bar)-[A-F]+", match: `^(foo|bar)-[A-F]+$`},
		{name: "anchors and any", pattern: "^x.?y*$", match: `^x.?y*$`},
		{name: "negated class", pattern: "[^a-z]{3}", match: `^[^a-z]{3}$`},
	}
	in := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			re := regexp.MustCompile(tc.match)
			for range 20 {
				got, err := in.Search("random('"+tc.pattern+"')", map[string]any{})
				if err != nil {
					t.Fatal(err)
				}
				if s, ok := got.(string); !ok || !re.MatchString(s) {
					t.Fatalf("random(%q) = %q does not match %s", tc.pattern, got, tc.match)
				}
			}
		})
	}
}

func TestX509Decode(t *testing.T) {
	t.Parallel()
	rsaKeyPair, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "portcullis.test"},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	certPEM := func(pub, priv any) string {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr.test"}}, rsaKeyPair)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pem  string
		expr string
		want any
		err  string
	}{
		{name: "rsa certificate", pem: certPEM(&rsaKeyPair.PublicKey, rsaKeyPair),
			expr: "x509_decode(pem).[Subject.CommonName, PublicKey.E, SerialNumber, NotAfter]",
			want: []any{"portcullis.test", 65537.0, 42.0, "2034-01-01T00:00:00Z"}},
		{name: "rsa modulus as string", pem: certPEM(&rsaKeyPair.PublicKey, rsaKeyPair),
			expr: "x509_decode(pem).PublicKey.N", want: rsaKeyPair.N.String()},
		{name: "csr", pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
			expr: "x509_decode(pem).Subject.CommonName", want: "csr.test"},
		{name: "ec certificate rejected", pem: certPEM(&ecKey.PublicKey, ecKey),
			expr: "x509_decode(pem)", err: "certificate should use rsa algorithm"},
		{name: "wrong block type", pem: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})),
			expr: "x509_decode(pem)", err: "PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST"},
		{name: "corrupt certificate", pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})),
			expr: "x509_decode(pem)", err: "JMESPath function 'x509_decode'"},
	}
	in := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := in.Search(tc.expr, map[string]any{"pem": tc.pem})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want fragment %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts []Option
		expr string
		want any
	}{
		{name: "clock", opts: []Option{WithClock(func() time.Time { return time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC) })},
			expr: "time_now_utc()", want: "2020-05-06T07:08:09Z"},
		{name: "nil clock ignored", opts: []Option{WithClock(nil), nil}, expr: "length(time_now_utc())", want: 20.0},
		{name: "registry", opts: []Option{WithDefaultRegistry("registry.local")}, expr: "image_normalize('app')",
			want: "registry.local/library/app:latest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := New(tc.opts...).Search(tc.expr, map[string]any{})
			if err != nil || got != tc.want {
				t.Fatalf("got %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestConcurrentSearch(t *testing.T) {
	t.Parallel()
	in := New()
	data := fromJSON(t, podDoc)
	exprs := []string{
		"request.object.spec.containers[].name",
		"regex_match('^web', request.object.metadata.name)",
		"add('1Gi', '512Mi')",
		"length(request.object.spec.volumes)",
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 200 {
				if _, err := in.Search(exprs[(g+n)%len(exprs)], data); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
