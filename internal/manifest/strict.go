package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one field of a document that its Go type does not accept:
// an unknown field (with the nearest known name when one is close) or a
// value of the wrong JSON type.
type FieldError struct {
	// Path is the field's JSON path, e.g. "spec.rules[0].validate.messag".
	Path string
	// Line is the field's 1-based line in its file (0 when unknown).
	Line int
	// Msg says what is wrong, e.g. "unknown field; did you mean message?".
	Msg string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// StrictOptions tune CheckFields.
type StrictOptions struct {
	// Loose are paths whose value is accepted as is, whether or not the Go
	// type has the field ("status", "spec.rules[*].verifyImages"); "[*]"
	// stands for any list index.
	Loose []string
}

// CheckFields checks the decoded object obj against the Go type of v (a
// struct or a pointer to one) the way a strict Kubernetes decoder would,
// but reports every problem instead of the first: fields the type does not
// have (matched case-sensitively, as the API server matches them) and
// values of the wrong JSON type. Fields typed as interface values, or as
// map[string]any, are free-form (rule bodies such as patterns) and are not
// looked into; types with their own JSON decoding (quantities, times,
// int-or-string) are checked by decoding them. Problems are sorted by path.
func CheckFields(obj map[string]any, v any, opts StrictOptions) []FieldError {
	c := &fieldChecker{loose: map[string]bool{}}
	for _, p := range opts.Loose {
		c.loose[p] = true
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	c.value("", obj, t)
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Path < c.errs[j].Path })
	return c.errs
}

type fieldChecker struct {
	loose map[string]bool
	errs  []FieldError
}

var (
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	indexRE         = regexp.MustCompile(`\[\d+\]`)
)

func (c *fieldChecker) fail(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *fieldChecker) isLoose(path string) bool {
	return len(c.loose) > 0 && c.loose[indexRE.ReplaceAllString(path, "[*]")]
}

func (c *fieldChecker) value(path string, v any, t reflect.Type) {
	if v == nil || c.isLoose(path) {
		return // null decodes into anything, as encoding/json does
	}
	if t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(unmarshalerType) {
		data, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(data, reflect.New(t).Interface())
		}
		if err != nil {
			c.fail(path, "invalid value: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Pointer:
		c.value(path, v, t.Elem())
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want an object, got %s", JSONType(v))
			return
		}
		fields := structFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := join(path, k)
			ft, ok := fields[k]
			switch {
			case ok:
				c.value(p, m[k], ft)
			case c.isLoose(p):
			default:
				msg := "unknown field"
				if s := nearest(k, fields); s != "" {
					msg += "; did you mean " + s + "?"
				}
				c.fail(p, "%s", msg)
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "want an object, got %s", JSONType(v))
			return
		}
		for k, x := range m {
			c.value(join(path, k), x, t.Elem())
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if _, ok := v.(string); !ok {
				c.fail(path, "want a base64 string, got %s", JSONType(v))
			}
			return
		}
		l, ok := v.([]any)
		if !ok {
			c.fail(path, "want a list, got %s", JSONType(v))
			return
		}
		for i, x := range l {
			c.value(fmt.Sprintf("%s[%d]", path, i), x, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.fail(path, "want a string, got %s", JSONType(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.fail(path, "want a boolean, got %s", JSONType(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// YAML and JSON decoders give float64; objects from the API
		// server (unstructured) give int64.
		if f, ok := Number(v); !ok || f != float64(int64(f)) {
			c.fail(path, "want an integer, got %s", JSONType(v))
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := Number(v); !ok {
			c.fail(path, "want a number, got %s", JSONType(v))
		}
	}
}

// structFields returns the JSON names of t's fields and their types,
// embedded structs without a name (or with ",inline") merged in.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && ft.Kind() == reflect.Struct && (f.Anonymous || strings.Contains(opts, "inline")) {
			for k, v := range structFields(ft) {
				if _, dup := out[k]; !dup {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// nearest returns the known name closest to k (see Nearest).
func nearest(k string, known map[string]reflect.Type) string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	return Nearest(k, names)
}

// Nearest returns the name of known closest to k: the same name in
// another case, or one within a small edit distance; "" when none is
// close. It suggests the field meant by a misspelt one.
func Nearest(k string, known []string) string {
	best, bestDist := "", len(k)/3+2
	names := append([]string(nil), known...)
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, k) {
			return n
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Number returns a decoded JSON/YAML number as a float64 (every numeric
// type decoders and the API server's objects use); false when v is none.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// JSONType names the JSON type of a decoded value for error messages
// ("an object", "a list", "a string", "a number", "a boolean").
func JSONType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64, float32, int64, int32, int, uint64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// FieldLine returns the 1-based line of the field at path (as CheckFields
// writes paths: "spec.rules[0].name") in the document text raw, offset so
// that raw starts on line start; the line of the deepest existing parent
// when the path does not exist, 0 when raw does not parse.
func FieldLine(raw []byte, start int, path string) int {
	return FieldLines(raw, start, []string{path})[0]
}

// FieldLines is FieldLine for several paths of one document, which is
// parsed once.
func FieldLines(raw []byte, start int, paths []string) []int {
	out := make([]int, len(paths))
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		return out
	}
	if start < 1 {
		start = 1
	}
	for i, p := range paths {
		out[i] = start + nodeLine(doc.Content[0], p) - 1
	}
	return out
}

// nodeLine returns the line of path below root (see FieldLine), counted
// from the start of the document.
func nodeLine(root *yaml.Node, path string) int {
	n, line := root, root.Line
	for _, seg := range pathSegments(path) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		next := (*yaml.Node)(nil)
		switch {
		case seg.index >= 0 && n.Kind == yaml.SequenceNode && seg.index < len(n.Content):
			next = n.Content[seg.index]
			line = next.Line
		case seg.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.key {
					next, line = n.Content[i+1], n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

type pathSegment struct {
	key   string
	index int // -1 for a key
}

// pathSegments splits "a.b[2].c" into a, b, [2], c.
func pathSegments(path string) []pathSegment {
	var out []pathSegment
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, pathSegment{key: part, index: -1})
				break
			}
			if i > 0 {
				out = append(out, pathSegment{key: part[:i], index: -1})
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				out = append(out, pathSegment{key: part[i:], index: -1})
				break
			}
			var idx int
			if _, err := fmt.Sscanf(part[i+1:i+j], "%d", &idx); err != nil {
				idx = -2
			}
			out = append(out, pathSegment{index: idx})
			part = part[i+j+1:]
		}
	}
	return out
}
