package variables

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	jmespath "github.com/kyverno/go-jmespath"
)

// Searcher evaluates a JMESPath expression against data.
//
// Implementations must not modify data. A missing key is expected to be
// reported the way github.com/kyverno/go-jmespath does it (a
// jmespath.NotFoundError, possibly wrapped), which [IsNotFound] recognises.
type Searcher interface {
	Search(expr string, data any) (any, error)
}

// UserInfo is the authenticated user of an admission request.
type UserInfo struct {
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
}

// Request describes the admission request a policy is evaluated for.
type Request struct {
	// Operation is CREATE, UPDATE, DELETE or CONNECT. Empty means CREATE,
	// which is what the Kyverno CLI uses by default.
	Operation string
	// Object is the new resource (request.object). Nil leaves the key absent.
	Object map[string]any
	// OldObject is the previous resource (request.oldObject), set for
	// UPDATE and DELETE. Nil leaves the key absent.
	OldObject map[string]any
	// Namespace is request.namespace. Empty means the metadata.namespace of
	// Object (or of OldObject when Object is nil).
	Namespace string
	// UserInfo, when non-nil, sets request.userInfo, serviceAccountName and
	// serviceAccountNamespace.
	UserInfo *UserInfo
	// Roles and ClusterRoles set request.roles and request.clusterRoles
	// when non-empty.
	Roles        []string
	ClusterRoles []string
}

// state is the part of a Context that Checkpoint saves. Maps reachable from
// root are never modified in place (every write copies the maps along its
// path), so saving a state is O(1).
type state struct {
	root map[string]any
	// gen identifies root: every change of root takes a new generation
	// of the Context, so two states with the same gen hold the same
	// document (QueryShared relies on it).
	gen uint64
	// images is the lazily computed "images" variable of the current request.
	images *imageCache
}

// imageCache computes the "images" variable of one resource at most once.
type imageCache struct {
	source   map[string]any
	computed bool
	value    map[string]any
	err      error
}

// Context is the JSON document variables resolve against ("request",
// "images", "element", ...). It is not safe for concurrent mutation; it is
// cheap to create per evaluation.
//
// Values passed to Set, SetRequest and SetElement are retained by reference
// and must not be modified by the caller afterwards. Values returned by
// Query alias the context and must be treated as read-only.
type Context struct {
	searcher Searcher
	cur      state
	saved    []state
	// gens counts the generations handed out by setRoot.
	gens uint64
	// shared holds what QueryShared computed, by expression, with the
	// generation of the document it was computed on.
	shared map[string]sharedResult
}

// sharedResult is a QueryShared result and the generation of the
// document it was computed on.
type sharedResult struct {
	gen   uint64
	value any
}

// setRoot makes root the context document, under a new generation.
func (c *Context) setRoot(root map[string]any) {
	c.gens++
	c.cur.root, c.cur.gen = root, c.gens
}

// NewContext returns an empty context whose queries are evaluated by s.
func NewContext(s Searcher) *Context {
	return &Context{searcher: s, cur: state{root: map[string]any{}}}
}

// Set adds value at the dotted path (Kyverno's AddVariable): "a.b.c" creates
// or extends nested maps. A path segment may be double-quoted to contain
// dots ("labels.\"app.kubernetes.io/name\""; a quote inside quotes is
// written twice). When both the existing and the new value at a key are
// maps they are merged recursively; otherwise the new value replaces the
// old one. Numbers of any Go numeric type or json.Number are stored as
// float64. It returns an error for an empty path or malformed quoting.
func (c *Context) Set(path string, value any) error {
	fields, err := splitVariablePath(path)
	if err != nil {
		return fmt.Errorf("invalid variable name %q: %w", path, err)
	}
	c.setRoot(mergeMaps(c.cur.root, nest(normalizeValue(value), fields)))
	return nil
}

// Replace is like Set but first removes any existing value at path, so maps
// are not merged (Kyverno's AddResource / SetTargetResource semantics).
func (c *Context) Replace(path string, value any) error {
	fields, err := splitVariablePath(path)
	if err != nil {
		return fmt.Errorf("invalid variable name %q: %w", path, err)
	}
	c.setRoot(mergeMaps(deleteAt(c.cur.root, fields), nest(normalizeValue(value), fields)))
	return nil
}

// SetRequest loads an admission request the way Kyverno builds its policy
// context: request.object / request.oldObject (replacing previous values),
// request.namespace, request.operation (default CREATE), request.userInfo,
// request.roles, request.clusterRoles, serviceAccountName and
// serviceAccountNamespace (derived from a "system:serviceaccount:<ns>:<name>"
// user name, empty otherwise), and the "images" variable, which is computed
// lazily from Object (or OldObject when Object is nil) on the first query
// that mentions "images".
func (c *Context) SetRequest(req Request) {
	op := req.Operation
	if op == "" {
		op = "CREATE"
	}
	root := deleteAt(c.cur.root, []string{"request", "object"})
	root = deleteAt(root, []string{"request", "oldObject"})
	request := map[string]any{"operation": op}
	if req.Object != nil {
		request["object"] = req.Object
	}
	if req.OldObject != nil {
		request["oldObject"] = req.OldObject
	}
	source := req.Object
	if source == nil {
		source = req.OldObject
	}
	ns := req.Namespace
	if ns == "" {
		if md, ok := source["metadata"].(map[string]any); ok {
			ns, _ = md["namespace"].(string)
		}
	}
	request["namespace"] = ns
	if len(req.Roles) > 0 {
		request["roles"] = stringsToAny(req.Roles)
	}
	if len(req.ClusterRoles) > 0 {
		request["clusterRoles"] = stringsToAny(req.ClusterRoles)
	}
	top := map[string]any{"request": request}
	if u := req.UserInfo; u != nil {
		info := map[string]any{}
		if u.Username != "" {
			info["username"] = u.Username
		}
		if u.UID != "" {
			info["uid"] = u.UID
		}
		if len(u.Groups) > 0 {
			info["groups"] = stringsToAny(u.Groups)
		}
		if len(u.Extra) > 0 {
			extra := make(map[string]any, len(u.Extra))
			for k, v := range u.Extra {
				extra[k] = stringsToAny(v)
			}
			info["extra"] = extra
		}
		request["userInfo"] = info
		name, namespace := serviceAccountOf(u.Username)
		top["serviceAccountName"] = name
		top["serviceAccountNamespace"] = namespace
	}
	c.setRoot(mergeMaps(root, top))
	c.cur.images = nil
	if source != nil {
		c.cur.images = &imageCache{source: source}
	}
}

// SetElement sets the foreach loop variables (Kyverno's AddElement):
// element, element<nesting>, elementIndex and elementIndex<nesting>. The
// indexes are stored as int64, as Kyverno does. Previous values of these
// keys are replaced, not merged.
func (c *Context) SetElement(value any, index, nesting int) {
	root := cloneMap(c.cur.root, 4)
	root["element"] = value
	root[nestedKey("element", nesting)] = value
	root["elementIndex"] = int64(index)
	root[nestedKey("elementIndex", nesting)] = int64(index)
	c.setRoot(root)
}

// nestedKey is name followed by the nesting level ("element0"), without
// building the string for the usual levels: SetElement runs for every
// element of every foreach.
func nestedKey(name string, nesting int) string {
	if nesting >= 0 && nesting < 4 {
		switch name {
		case "element":
			return [...]string{"element0", "element1", "element2", "element3"}[nesting]
		case "elementIndex":
			return [...]string{"elementIndex0", "elementIndex1", "elementIndex2", "elementIndex3"}[nesting]
		}
	}
	return name + strconv.Itoa(nesting)
}

// Checkpoint saves the current content; Restore or Reset return to it. It
// is O(1). Checkpoints nest.
func (c *Context) Checkpoint() {
	c.saved = append(c.saved, c.cur)
}

// Restore returns to the most recent checkpoint and removes it. Without a
// checkpoint it does nothing.
func (c *Context) Restore() {
	if n := len(c.saved); n > 0 {
		c.cur = c.saved[n-1]
		c.saved = c.saved[:n-1]
	}
}

// Reset returns to the most recent checkpoint and keeps it. Without a
// checkpoint it does nothing.
func (c *Context) Reset() {
	if n := len(c.saved); n > 0 {
		c.cur = c.saved[n-1]
	}
}

// Operation returns request.operation, or "" when it is not a string.
func (c *Context) Operation() string {
	if req, ok := c.cur.root["request"].(map[string]any); ok {
		if op, ok := req["operation"].(string); ok {
			return op
		}
	}
	return ""
}

// Data returns the context document. It must be treated as read-only.
func (c *Context) Data() map[string]any {
	return c.cur.root
}

// Query evaluates a JMESPath expression against the context, like
// Kyverno's context.Query:
//   - an empty expression is an error;
//   - a syntax error is reported as "incorrect query <expr>: ...";
//   - a missing key is an error wrapping jmespath.NotFoundError (see
//     [IsNotFound]), except that an expression with a top-level `||` falls
//     back operand by operand, treating missing keys as null, and returns
//     the first truthy operand (or the last one);
//   - the "images" variable is materialised on first use; an image that
//     cannot be parsed makes queries mentioning "images" fail.
func (c *Context) Query(expr string) (any, error) {
	expr, err := c.prepare(expr)
	if err != nil {
		return nil, err
	}
	return c.evaluate(expr)
}

// prepare trims expr and refuses an empty one; an expression mentioning
// "images" has the images variable loaded first (loading it changes the
// document, so QueryShared looks up its kept results after this).
func (c *Context) prepare(expr string) (string, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return "", errors.New("invalid query (nil)")
	}
	if strings.Contains(expr, "images") {
		if err := c.loadImages(); err != nil {
			return "", err
		}
	}
	return expr, nil
}

// QueryShared is Query, but a successful result is kept and returned
// again, without evaluating expr, to later QueryShared calls with the
// same expression while the context holds the same document (the state
// it was computed in, or that state restored by Restore or Reset): the
// rules of one evaluation that iterate over the same list expression
// compute it once. One result is kept per expression, that of the last
// document it was computed on; errors are not kept. Like Query's, the
// result must be treated as read-only, all the more as callers share it.
// Unlike Query, it changes the Context (what it keeps): it must not run
// concurrently with other calls on the same Context.
func (c *Context) QueryShared(expr string) (any, error) {
	expr, err := c.prepare(expr)
	if err != nil {
		return nil, err
	}
	if r, ok := c.shared[expr]; ok && r.gen == c.cur.gen {
		return r.value, nil
	}
	v, err := c.evaluate(expr)
	if err != nil {
		return nil, err
	}
	if c.shared == nil {
		c.shared = map[string]sharedResult{}
	}
	c.shared[expr] = sharedResult{gen: c.cur.gen, value: v}
	return v, nil
}

func (c *Context) evaluate(expr string) (any, error) {
	res, err := c.searcher.Search(expr, c.cur.root)
	if err == nil {
		return res, nil
	}
	var syntaxErr jmespath.SyntaxError
	if errors.As(err, &syntaxErr) {
		return nil, fmt.Errorf("incorrect query %s: %w", expr, err)
	}
	if IsNotFound(err) && strings.Contains(expr, "||") {
		parts := splitTopLevelOr(expr)
		inner := expr
		for len(parts) == 1 && strings.HasPrefix(inner, "(") && strings.HasSuffix(inner, ")") {
			inner = strings.TrimSpace(inner[1 : len(inner)-1])
			parts = splitTopLevelOr(inner)
		}
		if len(parts) > 1 {
			var last any
			for _, part := range parts {
				v, perr := c.evaluate(part)
				if perr != nil {
					if IsNotFound(perr) {
						last = nil
						continue
					}
					return nil, fmt.Errorf("fallback JMESPath query %q failed: %w", part, perr)
				}
				last = v
				if truthy(v) {
					return v, nil
				}
			}
			return last, nil
		}
	}
	return nil, fmt.Errorf("JMESPath query failed: %w", err)
}

// IsNotFound reports whether err (or an error it wraps) is a JMESPath
// "unknown key" error, i.e. the expression reached a key that does not exist.
func IsNotFound(err error) bool {
	var nf jmespath.NotFoundError
	return errors.As(err, &nf)
}

func (c *Context) loadImages() error {
	ic := c.cur.images
	if ic == nil {
		return nil
	}
	if _, present := c.cur.root["images"]; present {
		return nil
	}
	if !ic.computed {
		ic.value, ic.err = ImageInfos(ic.source)
		ic.computed = true
	}
	if ic.err != nil {
		return fmt.Errorf("failed to load images: %w", ic.err)
	}
	if len(ic.value) > 0 {
		root := cloneMap(c.cur.root, 1)
		root["images"] = ic.value
		c.setRoot(root)
	}
	return nil
}

func serviceAccountOf(username string) (name, namespace string) {
	const prefix = "system:serviceaccount:"
	if len(username) <= len(prefix) {
		return "", ""
	}
	parts := strings.Split(username[len(prefix):], ":")
	if len(parts) >= 2 {
		return parts[1], parts[0]
	}
	return "", ""
}

// truthy implements JMESPath truthiness.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// splitTopLevelOr splits expr on `||` operators that are outside quotes,
// raw strings, literals and brackets. Parts are trimmed.
func splitTopLevelOr(expr string) []string {
	var parts []string
	var quote byte
	depth, start := 0, 0
	for i := 0; i < len(expr); i++ {
		ch := expr[i]
		if quote != 0 {
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
			continue
		}
		switch ch {
		case '\'', '"', '`':
			quote = ch
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '|':
			if depth == 0 && i+1 < len(expr) && expr[i+1] == '|' {
				parts = append(parts, strings.TrimSpace(expr[start:i]))
				i++
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(expr[start:]); rest != "" || len(parts) > 0 {
		parts = append(parts, rest)
	}
	return parts
}

// splitVariablePath splits a dotted variable name into fields. Fields may be
// double-quoted (CSV style, '.' separated): a quoted field may contain dots,
// and "" inside it stands for one quote.
func splitVariablePath(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("empty name")
	}
	var fields []string
	var b strings.Builder
	i := 0
	for {
		b.Reset()
		if i < len(path) && path[i] == '"' {
			i++
			closed := false
			for i < len(path) {
				if path[i] == '"' {
					if i+1 < len(path) && path[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(path[i])
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted field")
			}
			if i < len(path) && path[i] != '.' {
				return nil, errors.New("unexpected character after quoted field")
			}
		} else {
			for i < len(path) && path[i] != '.' {
				if path[i] == '"' {
					return nil, errors.New("bare quote in unquoted field")
				}
				b.WriteByte(path[i])
				i++
			}
		}
		fields = append(fields, b.String())
		if i >= len(path) {
			return fields, nil
		}
		i++ // skip '.'
	}
}

// nest wraps value in maps keyed by fields, outermost first.
func nest(value any, fields []string) map[string]any {
	for i := len(fields) - 1; i > 0; i-- {
		value = map[string]any{fields[i]: value}
	}
	return map[string]any{fields[0]: value}
}

// mergeMaps returns dst with src merged in, without modifying either:
// nested maps present on both sides are merged recursively, anything else
// in src replaces the value in dst.
func mergeMaps(dst, src map[string]any) map[string]any {
	out := cloneMap(dst, len(src))
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// deleteAt returns root without the value at fields, copying the maps along
// the path. It returns root unchanged when the path does not exist.
func deleteAt(root map[string]any, fields []string) map[string]any {
	if len(fields) == 0 || root == nil {
		return root
	}
	v, ok := root[fields[0]]
	if !ok {
		return root
	}
	out := cloneMap(root, 0)
	if len(fields) == 1 {
		delete(out, fields[0])
		return out
	}
	child, ok := v.(map[string]any)
	if !ok {
		return root
	}
	out[fields[0]] = deleteAt(child, fields[1:])
	return out
}

func cloneMap(m map[string]any, extra int) map[string]any {
	out := make(map[string]any, len(m)+extra)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringsToAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// normalizeValue converts Go numeric types and json.Number to float64,
// copying only the containers that hold such values.
func normalizeValue(v any) any {
	n, _ := normalize(v)
	return n
}

// normalize is normalizeValue that also reports whether anything changed.
func normalize(v any) (any, bool) {
	switch t := v.(type) {
	case float64, string, bool, nil:
		return v, false
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			n, changed := normalize(e)
			if changed && out == nil {
				out = cloneMap(t, 0)
			}
			if out != nil {
				out[k] = n
			}
		}
		if out != nil {
			return out, true
		}
		return t, false
	case []any:
		var out []any
		for i, e := range t {
			n, changed := normalize(e)
			if changed && out == nil {
				out = append([]any(nil), t...)
			}
			if out != nil {
				out[i] = n
			}
		}
		if out != nil {
			return out, true
		}
		return t, false
	}
	if f, ok := toFloat(v); ok {
		return f, true
	}
	return v, false
}

// toFloat converts the numeric kinds this package accepts to float64.
func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case float32:
		return float64(t), true
	case int:
		return float64(t), true
	case int8:
		return float64(t), true
	case int16:
		return float64(t), true
	case int32:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint:
		return float64(t), true
	case uint8:
		return float64(t), true
	case uint16:
		return float64(t), true
	case uint32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		if err != nil || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}
