package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/podspec"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

const (
	// maxDepth bounds how deep objects are checked; deeper values are
	// reported once.
	maxDepth = 100
	// MaxErrors bounds the problems reported per document; the rest are
	// counted in a last one.
	MaxErrors = 50
)

// Validator checks objects against the schema of their kind. It is safe
// for concurrent use; schemas are compiled on first use and kept.
type Validator struct {
	builtin map[k8sschema.GroupVersionKind]reflect.Type
	// byKind lists the built-in versions of each kind, preferred first,
	// for documents without an apiVersion.
	byKind map[string][]k8sschema.GroupVersionKind

	mu    sync.Mutex
	types typeBuilder
	roots map[k8sschema.GroupVersionKind]*node
	crds  map[k8sschema.GroupVersionKind]*node
}

// New returns a Validator knowing the built-in kinds of client-go's scheme
// (every group of k8s.io/api) and CustomResourceDefinition.
func New() *Validator {
	v := &Validator{
		builtin: map[k8sschema.GroupVersionKind]reflect.Type{},
		byKind:  map[string][]k8sschema.GroupVersionKind{},
		types:   typeBuilder{nodes: map[reflect.Type]*node{}},
		roots:   map[k8sschema.GroupVersionKind]*node{},
		crds:    map[k8sschema.GroupVersionKind]*node{},
	}
	add := func(gvk k8sschema.GroupVersionKind, t reflect.Type) {
		if gvk.Version == internalVersion || strings.HasSuffix(gvk.Kind, "List") || t.Kind() != reflect.Struct {
			return
		}
		if _, ok := t.FieldByName("TypeMeta"); !ok {
			return
		}
		v.builtin[gvk] = t
		v.byKind[gvk.Kind] = append(v.byKind[gvk.Kind], gvk)
	}
	for gvk, t := range scheme.Scheme.AllKnownTypes() {
		add(gvk, t)
	}
	add(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"), reflect.TypeOf(apiextensionsv1.CustomResourceDefinition{}))
	for k, l := range v.byKind {
		sort.Slice(l, func(i, j int) bool { return preferred(l[i], l[j]) })
		v.byKind[k] = l
	}
	return v
}

const internalVersion = "__internal"

// preferred orders versions of one kind: the core group, then GA before
// beta before alpha, then by name.
func preferred(a, b k8sschema.GroupVersionKind) bool {
	if (a.Group == "") != (b.Group == "") {
		return a.Group == ""
	}
	ra, rb := stability(a.Version), stability(b.Version)
	if ra != rb {
		return ra < rb
	}
	if a.Group != b.Group {
		return a.Group < b.Group
	}
	return a.Version > b.Version
}

func stability(v string) int {
	switch {
	case strings.Contains(v, "alpha"):
		return 2
	case strings.Contains(v, "beta"):
		return 1
	}
	return 0
}

// Known reports whether there is a schema for apiVersion and kind.
func (v *Validator) Known(apiVersion, kind string) bool {
	gvk := k8sschema.FromAPIVersionAndKind(apiVersion, kind)
	v.mu.Lock()
	defer v.mu.Unlock()
	_, crd := v.crds[gvk]
	_, builtin := v.builtin[gvk]
	return crd || builtin
}

// root returns the schema of gvk, or nil.
func (v *Validator) root(gvk k8sschema.GroupVersionKind) *node {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n, ok := v.crds[gvk]; ok {
		return n
	}
	if n, ok := v.roots[gvk]; ok {
		return n
	}
	t, ok := v.builtin[gvk]
	if !ok {
		return nil
	}
	n := v.types.build(t)
	v.roots[gvk] = n
	return n
}

func (v *Validator) isBuiltin(gvk k8sschema.GroupVersionKind) bool {
	_, ok := v.builtin[gvk]
	return ok
}

// metadata returns the ObjectMeta schema.
func (v *Validator) metadata() *node {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.types.build(reflect.TypeOf(metav1.ObjectMeta{}))
}

// Validate checks obj against the schema of its apiVersion and kind and
// returns its problems (at most MaxErrors, sorted by path), with paths
// written as manifest.CheckFields writes them ("spec.containers[0].image")
// and no line. known is false when there is no schema for the kind (then
// only a missing apiVersion or name is reported). A document without an
// apiVersion is checked against the preferred built-in version of its
// kind. The top-level status is not checked: the API server ignores it.
func (v *Validator) Validate(obj map[string]any) (errs []manifest.FieldError, known bool) {
	w := &walker{}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if _, ok := obj["apiVersion"]; !ok || apiVersion == "" {
		w.fail("apiVersion", "required field is missing")
	}
	if _, ok := obj["kind"]; !ok || kind == "" {
		w.fail("kind", "required field is missing")
	}
	gvk := k8sschema.FromAPIVersionAndKind(apiVersion, kind)
	if apiVersion == "" {
		if l := v.byKind[kind]; len(l) > 0 {
			gvk = l[0]
		}
	}
	root := v.root(gvk)
	if meta, _ := obj["metadata"].(map[string]any); meta["name"] == nil && meta["generateName"] == nil {
		w.fail("metadata.name", "required field is missing (or metadata.generateName)")
	}
	if root == nil {
		return w.done(), false
	}
	if path, ok := podspec.Path(gvk.Kind); ok && v.isBuiltin(gvk) {
		w.requirePath(obj, path)
	}
	top := make(map[string]any, len(obj))
	for k, x := range obj {
		if k != "status" {
			top[k] = x
		}
	}
	w.value(top, root, 0)
	return w.done(), true
}

type walker struct {
	errs []manifest.FieldError
	more int
	// path is the field being checked, as a stack of segments: a key, or
	// a list index when key is "". Its text is built only for a problem.
	path []segment
}

type segment struct {
	key   string
	index int
}

// at returns the text of the current path followed by key (when key is
// not empty): "spec.containers[0].image".
func (w *walker) at(key string) string {
	var b strings.Builder
	for _, s := range w.path {
		if s.key == "" {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	if key != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(key)
	}
	return b.String()
}

// into checks v below the current path's segment s.
func (w *walker) into(s segment, v any, n *node, depth int) {
	w.path = append(w.path, s)
	w.value(v, n, depth)
	w.path = w.path[:len(w.path)-1]
}

func (w *walker) fail(path, format string, args ...any) {
	if len(w.errs) >= MaxErrors {
		w.more++
		return
	}
	w.errs = append(w.errs, manifest.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) done() []manifest.FieldError {
	sort.SliceStable(w.errs, func(i, j int) bool { return w.errs[i].Path < w.errs[j].Path })
	// The pod-spec requirement and a required field may name one path.
	out := w.errs[:0]
	for i, e := range w.errs {
		if i == 0 || e != w.errs[i-1] {
			out = append(out, e)
		}
	}
	w.errs = out
	if w.more > 0 {
		w.errs = append(w.errs, manifest.FieldError{Msg: fmt.Sprintf("and %d more schema problems", w.more)})
	}
	return w.errs
}

// requirePath reports the first missing object along path (the pod spec
// of a Pod or pod controller, which the API server requires).
func (w *walker) requirePath(obj map[string]any, path []string) {
	cur := obj
	for i, seg := range path {
		next, ok := cur[seg].(map[string]any)
		if !ok {
			if _, present := cur[seg]; !present || cur[seg] == nil {
				w.fail(strings.Join(path[:i+1], "."), "required field is missing")
			}
			return
		}
		cur = next
	}
}

func (w *walker) value(v any, n *node, depth int) {
	if v == nil || n.kind == kindAny {
		return // null is accepted anywhere, as the API server's decoder does
	}
	if depth > maxDepth {
		w.fail(w.at(""), "nested more than %d levels deep", maxDepth)
		return
	}
	switch n.kind {
	case kindObject:
		m, ok := v.(map[string]any)
		if !ok {
			w.fail(w.at(""), "want an object, got %s", manifest.JSONType(v))
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := n.fields[k]
			switch {
			case ok:
				w.into(segment{key: k}, m[k], f, depth+1)
			case n.preserve:
			default:
				msg := "unknown field"
				if s := manifest.Nearest(k, n.names); s != "" {
					msg += "; did you mean " + s + "?"
				}
				w.fail(w.at(k), "%s", msg)
			}
		}
		for _, r := range n.required {
			if _, ok := m[r]; !ok {
				w.fail(w.at(r), "required field is missing")
			}
		}
	case kindMap:
		m, ok := v.(map[string]any)
		if !ok {
			w.fail(w.at(""), "want an object, got %s", manifest.JSONType(v))
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.into(segment{key: k}, m[k], n.elem, depth+1)
		}
	case kindList:
		l, ok := v.([]any)
		if !ok {
			w.fail(w.at(""), "want a list, got %s", manifest.JSONType(v))
			return
		}
		for i, x := range l {
			w.into(segment{index: i}, x, n.elem, depth+1)
		}
	case kindString:
		s, ok := v.(string)
		if !ok {
			w.fail(w.at(""), "want a string, got %s", manifest.JSONType(v))
			return
		}
		if len(n.enum) > 0 && !contains(n.enum, s) {
			w.fail(w.at(""), "unsupported value %q; want one of %s", s, strings.Join(n.enum, ", "))
		}
	case kindBytes:
		s, ok := v.(string)
		if !ok {
			w.fail(w.at(""), "want a base64 string, got %s", manifest.JSONType(v))
			return
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			w.fail(w.at(""), "invalid base64 data: %v", err)
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			w.fail(w.at(""), "want a boolean, got %s", manifest.JSONType(v))
		}
	case kindInt:
		if f, ok := manifest.Number(v); !ok || f != float64(int64(f)) {
			w.fail(w.at(""), "want an integer, got %s", manifest.JSONType(v))
		}
	case kindNumber:
		if _, ok := manifest.Number(v); !ok {
			w.fail(w.at(""), "want a number, got %s", manifest.JSONType(v))
		}
	case kindIntOrString:
		if _, ok := v.(string); ok {
			return
		}
		if f, ok := manifest.Number(v); !ok || f != float64(int64(f)) {
			w.fail(w.at(""), "want an integer or a string, got %s", manifest.JSONType(v))
		}
	case kindCustom:
		data, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(data, reflect.New(n.custom).Interface())
		}
		if err != nil {
			w.fail(w.at(""), "invalid value: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
