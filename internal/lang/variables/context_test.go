package variables

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sets    [][2]any // path, value
		want    string   // JSON of the context
		wantErr string
	}{
		{"dotted path", [][2]any{{"a.b.c", "v"}}, `{"a":{"b":{"c":"v"}}}`, ""},
		{"quoted segment", [][2]any{{`labels."app.kubernetes.io/name"`, "x"}}, `{"labels":{"app.kubernetes.io/name":"x"}}`, ""},
		{"quote inside quotes", [][2]any{{`"a""b".c`, 1.0}}, `{"a\"b":{"c":1}}`, ""},
		{"maps merge", [][2]any{{"a", map[string]any{"x": 1.0, "m": map[string]any{"p": 1.0}}}, {"a", map[string]any{"y": 2.0, "m": map[string]any{"q": 2.0}}}},
			`{"a":{"m":{"p":1,"q":2},"x":1,"y":2}}`, ""},
		{"scalar replaces map", [][2]any{{"a.b", 1.0}, {"a", "s"}}, `{"a":"s"}`, ""},
		{"numbers normalised", [][2]any{{"n", map[string]any{"i": 3, "j": int64(4), "k": json.Number("5.5"), "l": []any{float32(1.5), uint8(2)}}}},
			`{"n":{"i":3,"j":4,"k":5.5,"l":[1.5,2]}}`, ""},
		{"empty path", [][2]any{{"", 1.0}}, "", "empty name"},
		{"bare quote", [][2]any{{`a"b`, 1.0}}, "", "bare quote"},
		{"unterminated quote", [][2]any{{`"ab`, 1.0}}, "", "unterminated"},
		{"text after quote", [][2]any{{`"a"b`, 1.0}}, "", "unexpected character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewContext(forkSearcher{})
			var err error
			for _, s := range tt.sets {
				if err = c.Set(s[0].(string), s[1]); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Set: %v", err)
			}
			if got := toJSON(t, c.Data()); got != tt.want {
				t.Errorf("context = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSetDoesNotModifyValues(t *testing.T) {
	t.Parallel()
	c := NewContext(forkSearcher{})
	first := map[string]any{"m": map[string]any{"p": 1.0}}
	if err := c.Set("a", first); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("a.m.q", 2.0); err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, first); got != `{"m":{"p":1}}` {
		t.Errorf("caller value modified: %s", got)
	}
	if got := toJSON(t, c.Data()); got != `{"a":{"m":{"p":1,"q":2}}}` {
		t.Errorf("context = %s", got)
	}
}

func TestSetRequest(t *testing.T) {
	t.Parallel()
	obj := mustMap(t, `{"kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team-a"}}`)
	old := mustMap(t, `{"kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "team-a", "labels": {"v": "1"}}}`)
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"create defaults", Request{Object: obj},
			`{"request":{"namespace":"team-a","object":{"kind":"ConfigMap","metadata":{"name":"cm","namespace":"team-a"}},"operation":"CREATE"}}`},
		{"update with user", Request{Operation: "UPDATE", Object: obj, OldObject: old, Namespace: "explicit",
			UserInfo: &UserInfo{Username: "alice", UID: "1", Groups: []string{"dev"}, Extra: map[string][]string{"k": {"v"}}},
			Roles:    []string{"ns:r"}, ClusterRoles: []string{"cr"}},
			`{"request":{"clusterRoles":["cr"],"namespace":"explicit","object":{"kind":"ConfigMap","metadata":{"name":"cm","namespace":"team-a"}},` +
				`"oldObject":{"kind":"ConfigMap","metadata":{"labels":{"v":"1"},"name":"cm","namespace":"team-a"}},"operation":"UPDATE","roles":["ns:r"],` +
				`"userInfo":{"extra":{"k":["v"]},"groups":["dev"],"uid":"1","username":"alice"}},"serviceAccountName":"","serviceAccountNamespace":""}`},
		{"delete uses old object namespace", Request{Operation: "DELETE", OldObject: old, UserInfo: &UserInfo{Username: "system:serviceaccount:ns:sa"}},
			`{"request":{"namespace":"team-a","oldObject":{"kind":"ConfigMap","metadata":{"labels":{"v":"1"},"name":"cm","namespace":"team-a"}},"operation":"DELETE",` +
				`"userInfo":{"username":"system:serviceaccount:ns:sa"}},"serviceAccountName":"sa","serviceAccountNamespace":"ns"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewContext(forkSearcher{})
			c.SetRequest(tt.req)
			if got := toJSON(t, c.Data()); got != tt.want {
				t.Errorf("context =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSetRequestReplacesObjects(t *testing.T) {
	t.Parallel()
	c := NewContext(forkSearcher{})
	c.SetRequest(Request{Object: mustMap(t, `{"a": 1, "b": 2}`), OldObject: mustMap(t, `{"o": 1}`)})
	if err := c.Set("extra", "kept"); err != nil {
		t.Fatal(err)
	}
	c.SetRequest(Request{Object: mustMap(t, `{"a": 3}`)})
	if got := toJSON(t, c.Data()); got != `{"extra":"kept","request":{"namespace":"","object":{"a":3},"operation":"CREATE"}}` {
		t.Errorf("context = %s", got)
	}
}

func TestServiceAccountOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, user, wantName, wantNS string
	}{
		{"service account", "system:serviceaccount:kube-system:builder", "builder", "kube-system"},
		{"extra segments", "system:serviceaccount:ns:sa:x", "sa", "ns"},
		{"prefix only", "system:serviceaccount:", "", ""},
		{"missing name", "system:serviceaccount:ns", "", ""},
		{"regular user", "alice", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name, ns := serviceAccountOf(tt.user)
			if name != tt.wantName || ns != tt.wantNS {
				t.Errorf("serviceAccountOf(%q) = %q, %q, want %q, %q", tt.user, name, ns, tt.wantName, tt.wantNS)
			}
		})
	}
}

func TestCheckpointRestore(t *testing.T) {
	t.Parallel()
	c := NewContext(forkSearcher{})
	if err := c.Set("a", map[string]any{"x": 1.0}); err != nil {
		t.Fatal(err)
	}
	c.Checkpoint()
	c.SetElement(map[string]any{"name": "e0"}, 0, 0)
	if err := c.Set("a.y", 2.0); err != nil {
		t.Fatal(err)
	}
	c.Checkpoint()
	c.SetElement("inner", 3, 1)
	if got := toJSON(t, c.Data()); got != `{"a":{"x":1,"y":2},"element":"inner","element0":{"name":"e0"},"element1":"inner","elementIndex":3,"elementIndex0":0,"elementIndex1":3}` {
		t.Fatalf("nested element context = %s", got)
	}
	v, err := c.Query("elementIndex0")
	if err != nil || v != int64(0) {
		t.Fatalf("elementIndex0 = %#v, %v; want int64(0)", v, err)
	}
	c.Restore()
	if got := toJSON(t, c.Data()); got != `{"a":{"x":1,"y":2},"element":{"name":"e0"},"element0":{"name":"e0"},"elementIndex":0,"elementIndex0":0}` {
		t.Fatalf("after inner restore = %s", got)
	}
	if err := c.Set("z", true); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	if got := toJSON(t, c.Data()); got != `{"a":{"x":1}}` {
		t.Fatalf("after reset = %s", got)
	}
	if err := c.Set("z", true); err != nil {
		t.Fatal(err)
	}
	c.Restore()
	if got := toJSON(t, c.Data()); got != `{"a":{"x":1}}` {
		t.Fatalf("after restore = %s", got)
	}
	c.Restore() // no checkpoint left: no-op
	c.Reset()
	if got := toJSON(t, c.Data()); got != `{"a":{"x":1}}` {
		t.Fatalf("after extra restore = %s", got)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expr    string
		want    string
		wantErr string
	}{
		{"simple", "request.object.metadata.name", `"web"`, ""},
		{"trimmed", "  request.namespace  ", `"prod"`, ""},
		{"null value", "cfg.nil", `null`, ""},
		{"projection", "request.object.spec.containers[].name", `["c1","side"]`, ""},
		{"images loaded lazily", "images.containers.c1.tag", `"1.25"`, ""},
		{"empty", "   ", "", "invalid query (nil)"},
		{"missing", "request.nope", "", `JMESPath query failed: Unknown key "nope" in path`},
		{"syntax", "request.[", "", "incorrect query request.["},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestContext(t)
			got, err := c.Query(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Query(%q) error = %v, want %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Query(%q): %v", tt.expr, err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("Query(%q) = %s, want %s", tt.expr, g, tt.want)
			}
		})
	}
}

func TestImagesAcrossCheckpoints(t *testing.T) {
	t.Parallel()
	c := newTestContext(t)
	c.Checkpoint()
	if _, err := c.Query("images.containers.c1.name"); err != nil {
		t.Fatal(err)
	}
	c.Restore()
	if _, ok := c.Data()["images"]; ok {
		t.Fatalf("images should not survive restore to a checkpoint taken before loading")
	}
	v, err := c.Query("images.containers.c1.name")
	if err != nil || v != "nginx" {
		t.Fatalf("images after restore = %v, %v", v, err)
	}
}

func TestImagesErrorSurfacesOnQuery(t *testing.T) {
	t.Parallel()
	c := NewContext(forkSearcher{})
	c.SetRequest(Request{Object: mustMap(t, `{"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "Bad Image"}]}}`)})
	if _, err := c.Query("request.object.metadata.name"); err != nil {
		t.Fatalf("unrelated query failed: %v", err)
	}
	_, err := c.Query("images.containers.c.name")
	if err == nil || !strings.Contains(err.Error(), "failed to load images: invalid image 'Bad Image'") {
		t.Fatalf("error = %v", err)
	}
}

func TestSplitTopLevelOr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{"none", "a.b", []string{"a.b"}},
		{"two", "a || b", []string{"a", "b"}},
		{"quoted", `a || '||' || "x||y"`, []string{"a", "'||'", `"x||y"`}},
		{"literal", "a || `\"||\"`", []string{"a", "`\"||\"`"}},
		{"nested parens", "(a || b) || c", []string{"(a || b)", "c"}},
		{"pipe is not or", "a | b", []string{"a | b"}},
		{"escaped quote", `'it\'s||' || b`, []string{`'it\'s||'`, "b"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := splitTopLevelOr(tt.expr); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitTopLevelOr(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func FuzzSplitVariablePath(f *testing.F) {
	for _, s := range []string{"a.b", `"a.b".c`, `"a""b"`, `a"b`, "", ".", "..", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields, err := splitVariablePath(s)
		if err == nil && len(fields) == 0 {
			t.Fatalf("splitVariablePath(%q) returned no fields and no error", s)
		}
		c := NewContext(forkSearcher{})
		if err := c.Set(s, 1.0); (err == nil) != (len(fields) > 0) {
			t.Fatalf("Set(%q) error %v inconsistent with split", s, err)
		}
		_ = splitTopLevelOr(s)
	})
}
