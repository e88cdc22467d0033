package variables

import (
	"encoding/json"
	"sync"
	"testing"

	jmespath "github.com/kyverno/go-jmespath"
)

// forkSearcher evaluates expressions with the Kyverno go-jmespath fork.
type forkSearcher struct{}

func (forkSearcher) Search(expr string, data any) (any, error) {
	return jmespath.Search(expr, data)
}

// cachingSearcher compiles each expression once, as a production Searcher
// is expected to do.
type cachingSearcher struct {
	mu    sync.Mutex
	cache map[string]*jmespath.JMESPath
}

func (s *cachingSearcher) Search(expr string, data any) (any, error) {
	s.mu.Lock()
	q, ok := s.cache[expr]
	if !ok {
		var err error
		if q, err = jmespath.Compile(expr); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if s.cache == nil {
			s.cache = map[string]*jmespath.JMESPath{}
		}
		s.cache[expr] = q
	}
	s.mu.Unlock()
	return q.Search(data)
}

// mustJSON decodes a JSON literal the way resources and policies are decoded.
func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %q: %v", s, err)
	}
	return v
}

func mustMap(t testing.TB, s string) map[string]any {
	t.Helper()
	m, ok := mustJSON(t, s).(map[string]any)
	if !ok {
		t.Fatalf("test JSON is not an object: %s", s)
	}
	return m
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(raw)
}

const podJSON = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "web",
    "namespace": "prod",
    "labels": {"app": "nginx", "app.kubernetes.io/name": "web-app"},
    "annotations": {"template": "{{cfg.n}}"}
  },
  "spec": {
    "hostNetwork": false,
    "initContainers": [{"name": "init", "image": "busybox"}],
    "containers": [
      {"name": "c1", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
      {"name": "side", "image": "localhost:5000/a/b:tag"}
    ]
  }
}`

// newTestContext returns a context with podJSON as request.object and a
// "cfg" variable holding assorted values.
func newTestContext(t testing.TB) *Context {
	t.Helper()
	return newTestContextWith(t, forkSearcher{})
}

func newTestContextWith(t testing.TB, s Searcher) *Context {
	t.Helper()
	c := NewContext(s)
	c.SetRequest(Request{
		Object:   mustMap(t, podJSON),
		UserInfo: &UserInfo{Username: "system:serviceaccount:kube-system:builder", Groups: []string{"system:serviceaccounts"}},
	})
	cfg := mustMap(t, `{
	  "n": 5, "f": 1.5, "big": 1e21, "neg": -2, "nil": null, "yes": true,
	  "list": ["a", "b"], "html": {"h": "<b>&"},
	  "labelKey": "app", "self": "x{{cfg.self}}", "indirect": "{{cfg.n}}",
	  "keyNum": 7
	}`)
	if err := c.Set("cfg", cfg); err != nil {
		t.Fatalf("Set: %v", err)
	}
	return c
}
