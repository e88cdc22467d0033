package kubescape

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The responses of a rule are read from its Rego value directly
// (valueResponses) when they have the shape rules write, which a scan's
// ~30,000 responses nearly all have: no Go values of the whole value,
// no JSON text, no decoding of it. Anything else — a field of another
// type, a name encoding/json would match only without regard to case, a
// string that is not UTF-8, a number that does not fit — is decoded as
// Kubescape decodes it, through JSON into Response (decodeResponses),
// which judges it and words the error: the fast reading accepts only
// what that decoding accepts, and gives what it gives.

// errNotPlain stops a reading that leaves the value to decodeResponses.
var errNotPlain = errors.New("not a plain response")

// valueResponses reads the responses of a rule's value v (a set or an
// array of responses, or null), with the Kubernetes objects of each
// response reduced to their report fields when strip is set (as
// strippedResponse reduces them). ok is false when v is not of the plain
// shape: the caller decodes it through JSON instead.
func valueResponses(v ast.Value, strip bool) (rs []Response, ok bool) {
	n, iter := collection(v)
	if iter == nil {
		return nil, isNull(v)
	}
	out := make([]Response, n)
	i := 0
	err := iter(func(t *ast.Term) error {
		if i >= n || !readResponse(t.Value, strip, &out[i]) {
			return errNotPlain
		}
		i++
		return nil
	})
	if err != nil || i != n {
		return nil, false
	}
	return out, true
}

// collection is the length and the iteration of an array or a set (nil
// for any other value).
func collection(v ast.Value) (int, func(func(*ast.Term) error) error) {
	switch c := v.(type) {
	case *ast.Array:
		return c.Len(), c.Iter
	case ast.Set:
		return c.Len(), c.Iter
	}
	return 0, nil
}

func isNull(v ast.Value) bool {
	_, ok := v.(ast.Null)
	return ok
}

// members calls f with each member of the object v, whose name must be
// a string; false when v is not an object or f refuses a member.
func members(v ast.Value, f func(name string, x ast.Value) bool) bool {
	o, ok := v.(ast.Object)
	if !ok {
		return false
	}
	return o.Iter(func(k, x *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok || !f(string(name), x.Value) {
			return errNotPlain
		}
		return nil
	}) == nil
}

func readResponse(v ast.Value, strip bool, r *Response) bool {
	return members(v, func(name string, x ast.Value) bool {
		switch name {
		case "alertMessage":
			return readString(x, &r.AlertMessage)
		case "failedPaths":
			return readStrings(x, &r.FailedPaths)
		case "reviewPaths":
			return readStrings(x, &r.ReviewPaths)
		case "deletePaths":
			return readStrings(x, &r.DeletePaths)
		case "fixPaths":
			return readFixPaths(x, &r.FixPaths)
		case "fixCommand":
			return readString(x, &r.FixCommand)
		case "ruleStatus":
			return readString(x, &r.RuleStatus)
		case "packagename":
			return readString(x, &r.PackageName)
		case "alertScore":
			return readScore(x, &r.AlertScore)
		case "alertObject":
			return readAlertObject(x, strip, &r.AlertObject)
		case "relatedObjects":
			return readRelatedObjects(x, &r.RelatedObjects)
		case "context":
			return readStrings(x, &r.Context)
		case "rulename":
			return readString(x, &r.RuleName)
		}
		return ignored(name, x, "alertMessage", "failedPaths", "reviewPaths", "deletePaths", "fixPaths", "fixCommand",
			"ruleStatus", "packagename", "alertScore", "alertObject", "relatedObjects", "context", "rulename")
	})
}

// ignored reports whether encoding/json would skip the member name of a
// type whose members are names: it matches none of them, even without
// regard to case, and its value encodes.
func ignored(name string, x ast.Value, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return false
		}
	}
	_, ok := decodedJSON(x, 0)
	return ok
}

// readString reads a string member (null leaves it as it is).
func readString(x ast.Value, dst *string) bool {
	switch s := x.(type) {
	case ast.String:
		if !utf8.ValidString(string(s)) {
			return false // encoding/json would replace the bytes
		}
		*dst = string(s)
		return true
	case ast.Null:
		return true
	}
	return false
}

// readList reads a JSON array (null: nil) into dst, each element by
// read; false when x or an element is of another shape.
func readList[T any](x ast.Value, dst *[]T, read func(ast.Value, *T) bool) bool {
	if isNull(x) {
		*dst = nil
		return true
	}
	n, iter := collection(x)
	if iter == nil {
		return false
	}
	out := make([]T, 0, n)
	err := iter(func(t *ast.Term) error {
		var e T
		if !read(t.Value, &e) {
			return errNotPlain
		}
		out = append(out, e)
		return nil
	})
	*dst = out
	return err == nil
}

func readStrings(x ast.Value, dst *[]string) bool { return readList(x, dst, readString) }

func readFixPaths(x ast.Value, dst *[]FixPath) bool { return readList(x, dst, readFixPath) }

func readFixPath(x ast.Value, fp *FixPath) bool {
	return members(x, func(name string, x ast.Value) bool {
		switch name {
		case "path":
			return readString(x, &fp.Path)
		case "value":
			return readString(x, &fp.Value)
		}
		return ignored(name, x, "path", "value")
	})
}

func readScore(x ast.Value, dst *float32) bool {
	switch n := x.(type) {
	case ast.Number:
		if !jsonNumber(string(n)) {
			return false
		}
		f, err := strconv.ParseFloat(string(n), 32)
		if err != nil {
			return false
		}
		*dst = float32(f)
		return true
	case ast.Null:
		return true
	}
	return false
}

func readAlertObject(x ast.Value, strip bool, dst *AlertObject) bool {
	if isNull(x) {
		return true
	}
	readK8s := readObject
	if strip {
		readK8s = readReportFields
	}
	return members(x, func(name string, x ast.Value) bool {
		switch name {
		case "k8sApiObjects":
			return readList(x, &dst.K8sAPIObjects, func(x ast.Value, m *map[string]any) bool {
				return !isNull(x) && readK8s(x, m)
			})
		case "externalObjects":
			return readObject(x, &dst.ExternalObjects)
		}
		return ignored(name, x, "k8sApiObjects", "externalObjects")
	})
}

// readObject reads a JSON object (null: nil) into dst as encoding/json
// decodes it.
func readObject(x ast.Value, dst *map[string]any) bool {
	if isNull(x) {
		*dst = nil
		return true
	}
	o, ok := x.(ast.Object)
	if !ok {
		return false
	}
	*dst, ok = jsonObject(o, 0)
	return ok
}

// readReportFields reads a Kubernetes object's report fields (see
// reportFieldsJSON).
func readReportFields(x ast.Value, dst *map[string]any) bool {
	o, ok := x.(ast.Object)
	if !ok {
		return false
	}
	*dst, ok = reportFieldsJSON(o)
	return ok
}

func readRelatedObjects(x ast.Value, dst *[]RelatedObject) bool {
	return readList(x, dst, readRelatedObject)
}

func readRelatedObject(x ast.Value, ro *RelatedObject) bool {
	return members(x, func(name string, x ast.Value) bool {
		switch name {
		case "object":
			return readObject(x, &ro.Object)
		case "failedPaths":
			return readStrings(x, &ro.FailedPaths)
		case "reviewPaths":
			return readStrings(x, &ro.ReviewPaths)
		case "deletePaths":
			return readStrings(x, &ro.DeletePaths)
		case "fixPaths":
			return readFixPaths(x, &ro.FixPaths)
		case "fixCommand":
			return readString(x, &ro.FixCommand)
		}
		return ignored(name, x, "object", "failedPaths", "reviewPaths", "deletePaths", "fixPaths", "fixCommand")
	})
}

// reportFieldsJSON is reportFields of the object o as OPA holds it, as
// encoding/json decodes it (see decodedJSON).
func reportFieldsJSON(o ast.Object) (map[string]any, bool) {
	kept := map[string]any{}
	if !copyMembers(kept, o, "kind", "apiVersion") {
		return nil, false
	}
	if md, ok := objectAt(o, "metadata"); ok {
		m := map[string]any{}
		if !copyMembers(m, md, "name", "namespace", "labels") {
			return nil, false
		}
		kept["metadata"] = m
	}
	return kept, true
}

// copyMembers sets in dst the members keys of o that it has.
func copyMembers(dst map[string]any, o ast.Object, keys ...string) bool {
	for _, k := range keys {
		t := o.Get(ast.InternedTerm(k))
		if t == nil {
			continue
		}
		x, ok := decodedJSON(t.Value, 0)
		if !ok {
			return false
		}
		dst[k] = x
	}
	return true
}

// decodedJSON is the Go value encoding/json decodes (into any) of the JSON
// encoding of ast.JSON(v); ok is false when it cannot say: a number that
// is not a JSON number or does not fit a float64, a string or a name
// that is not UTF-8, a name that is not a string, a value that is not
// JSON, or one nested deeper than maxJSONDepth. depth is v's nesting
// within the response.
func decodedJSON(v ast.Value, depth int) (any, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	switch x := v.(type) {
	case ast.Null:
		return nil, true
	case ast.Boolean:
		return bool(x), true
	case ast.Number:
		if !jsonNumber(string(x)) {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case ast.String:
		return string(x), utf8.ValidString(string(x))
	case ast.Object:
		return jsonObject(x, depth)
	}
	n, iter := collection(v)
	if iter == nil {
		return nil, false
	}
	out := make([]any, 0, n)
	err := iter(func(t *ast.Term) error {
		e, ok := decodedJSON(t.Value, depth+1)
		if !ok {
			return errNotPlain
		}
		out = append(out, e)
		return nil
	})
	return out, err == nil
}

// maxJSONDepth bounds the nesting decodedJSON reads, well within
// encoding/json's limit of 10,000 levels (with the response's own).
const maxJSONDepth = 5000

func jsonObject(o ast.Object, depth int) (map[string]any, bool) {
	m := make(map[string]any, o.Len())
	ok := members(o, func(name string, x ast.Value) bool {
		if !utf8.ValidString(name) {
			return false
		}
		e, ok := decodedJSON(x, depth+1)
		m[name] = e
		return ok
	})
	if !ok {
		return nil, false
	}
	return m, true
}

// jsonNumber reports whether s is a JSON number literal (what
// encoding/json encodes a json.Number as, without an error).
func jsonNumber(s string) bool {
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	return json.Valid([]byte(s))
}
