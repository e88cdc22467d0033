package kubescape

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Response is one deny response of a rule, with the fields and JSON names
// of Kubescape's RuleResponse: what a rule test's expected.json holds and
// what SARIF fixes are made from.
type Response struct {
	AlertMessage   string          `json:"alertMessage"`
	FailedPaths    []string        `json:"failedPaths"`
	ReviewPaths    []string        `json:"reviewPaths"`
	DeletePaths    []string        `json:"deletePaths"`
	FixPaths       []FixPath       `json:"fixPaths"`
	FixCommand     string          `json:"fixCommand,omitempty"`
	RuleStatus     string          `json:"ruleStatus"`
	PackageName    string          `json:"packagename"`
	AlertScore     float32         `json:"alertScore"`
	AlertObject    AlertObject     `json:"alertObject"`
	RelatedObjects []RelatedObject `json:"relatedObjects,omitempty"`
	Context        []string        `json:"context,omitempty"`
	RuleName       string          `json:"rulename,omitempty"`
}

// FixPath is a field to set to a value to fix the resource.
type FixPath struct {
	Path  string `json:"path"`
	Value string `json:"value"`
}

// AlertObject holds the objects a response is about: Kubernetes objects,
// or one object built by the rule (a subject, a cloud resource).
type AlertObject struct {
	K8sAPIObjects   []map[string]any `json:"k8sApiObjects,omitempty"`
	ExternalObjects map[string]any   `json:"externalObjects,omitempty"`
}

// RelatedObject is an object involved in a failure of another one, with
// its own paths.
type RelatedObject struct {
	Object      map[string]any `json:"object"`
	FailedPaths []string       `json:"failedPaths"`
	ReviewPaths []string       `json:"reviewPaths"`
	DeletePaths []string       `json:"deletePaths"`
	FixPaths    []FixPath      `json:"fixPaths"`
	FixCommand  string         `json:"fixCommand,omitempty"`
}

// Objects returns the objects the response fails: its Kubernetes objects
// and its external object.
func (r *Response) Objects() []map[string]any {
	out := append([]map[string]any{}, r.AlertObject.K8sAPIObjects...)
	if r.AlertObject.ExternalObjects != nil {
		out = append(out, r.AlertObject.ExternalObjects)
	}
	return out
}

// FirstPath is the first failed path of the response (else review, delete,
// then fix path), as written by the rule ("spec.containers[0].image").
func (r *Response) FirstPath() string {
	for _, ps := range [][]string{r.FailedPaths, r.ReviewPaths, r.DeletePaths} {
		if len(ps) > 0 {
			return ps[0]
		}
	}
	if len(r.FixPaths) > 0 {
		return r.FixPaths[0].Path
	}
	return ""
}

// decodeResponses turns the value of a rule's deny set into responses, as
// Kubescape does (through JSON into its RuleResponse type: a response of
// the wrong shape is an error).
func decodeResponses(v any) ([]Response, error) {
	if v == nil {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode deny: %w", err)
	}
	var out []Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("deny responses are not rule responses: %w", err)
	}
	return out, nil
}

// jsonResponses decodes the value of a rule's deny set as Kubescape
// does: its Go value (ast.JSON; with strip, the Kubernetes objects of each
// response reduced to their report fields first) through JSON into
// responses (decodeResponses). valueResponses reads most values without
// it.
func jsonResponses(v ast.Value, strip bool) ([]Response, error) {
	var x any
	var err error
	if n, iter := collection(v); strip && iter != nil {
		x, err = strippedResponses(n, iter)
	} else {
		x, err = ast.JSON(v)
	}
	if err != nil {
		return nil, fmt.Errorf("convert responses: %w", err)
	}
	return decodeResponses(x)
}

// strippedResponse is ast.JSON of one response with its Kubernetes objects
// reduced to their report fields (reportFieldsValue).
func strippedResponse(v ast.Value) (any, error) {
	resp, ok := v.(ast.Object)
	if !ok {
		return ast.JSON(v)
	}
	ao, ok := objectAt(resp, "alertObject")
	if !ok {
		return ast.JSON(v)
	}
	objs := ao.Get(ast.InternedTerm("k8sApiObjects"))
	if objs == nil {
		return ast.JSON(v)
	}
	var items []*ast.Term
	switch c := objs.Value.(type) {
	case *ast.Array:
		c.Foreach(func(t *ast.Term) { items = append(items, t) })
	case ast.Set:
		c.Foreach(func(t *ast.Term) { items = append(items, t) })
	default:
		return ast.JSON(v)
	}
	stripped := make([]*ast.Term, len(items))
	for i, t := range items {
		stripped[i] = t
		if o, ok := t.Value.(ast.Object); ok {
			stripped[i] = ast.NewTerm(reportFieldsValue(o))
		}
	}
	ao2 := ast.NewObject()
	ao.Foreach(func(k, x *ast.Term) {
		if ast.InternedTerm("k8sApiObjects").Equal(k) {
			x = ast.ArrayTerm(stripped...)
		}
		ao2.Insert(k, x)
	})
	resp2 := ast.NewObject()
	resp.Foreach(func(k, x *ast.Term) {
		if ast.InternedTerm("alertObject").Equal(k) {
			x = ast.NewTerm(ao2)
		}
		resp2.Insert(k, x)
	})
	return ast.JSON(resp2)
}

// objectAt is the object under key of o.
func objectAt(o ast.Object, key string) (ast.Object, bool) {
	t := o.Get(ast.InternedTerm(key))
	if t == nil {
		return nil, false
	}
	v, ok := t.Value.(ast.Object)
	return v, ok
}

// reportFieldsValue is reportFields of an object as OPA holds it.
func reportFieldsValue(o ast.Object) ast.Object {
	kept := ast.NewObject()
	for _, k := range []string{"kind", "apiVersion"} {
		if v := o.Get(ast.InternedTerm(k)); v != nil {
			kept.Insert(ast.InternedTerm(k), v)
		}
	}
	if md, ok := objectAt(o, "metadata"); ok {
		m := ast.NewObject()
		for _, k := range []string{"name", "namespace", "labels"} {
			if v := md.Get(ast.InternedTerm(k)); v != nil {
				m.Insert(ast.InternedTerm(k), v)
			}
		}
		kept.Insert(ast.InternedTerm("metadata"), ast.NewTerm(m))
	}
	return kept
}

// keepFields strips the Kubernetes objects of responses down to what
// Kubescape keeps in its reports (kind, apiVersion, metadata.name and
// metadata.labels).
func keepFields(rs []Response) {
	for i := range rs {
		for j, o := range rs[i].AlertObject.K8sAPIObjects {
			kept := map[string]any{}
			for _, k := range []string{"kind", "apiVersion", "metadata"} {
				if v, ok := o[k]; ok {
					kept[k] = v
				}
			}
			if md, ok := kept["metadata"].(map[string]any); ok {
				m := map[string]any{}
				for _, k := range []string{"name", "labels"} {
					if v, ok := md[k]; ok {
						m[k] = v
					}
				}
				kept["metadata"] = m
			}
			rs[i].AlertObject.K8sAPIObjects[j] = kept
		}
	}
}

// Pointer turns a path as Kubescape rules write it
// ("spec.containers[0].securityContext.privileged", a key with dots in
// brackets: metadata.annotations["a.b/c"]) into the path form of
// engine.Result ("/spec/containers/0/securityContext/privileged/").
func Pointer(path string) string {
	if path == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('/')
	i := 0
	for i < len(path) {
		switch c := path[i]; c {
		case '.':
			b.WriteByte('/')
			i++
		case '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				b.WriteString(path[i:])
				i = len(path)
				continue
			}
			key := path[i+1 : i+end]
			if uq, err := strconv.Unquote(key); err == nil {
				key = uq
			}
			if b.Len() > 1 && !strings.HasSuffix(b.String(), "/") {
				b.WriteByte('/')
			}
			b.WriteString(key)
			i += end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	s := b.String()
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s
}

// strippedResponses is the list of the stripped responses of a rule's
// value of n elements, iterated by iter (a set's or an array's Iter).
func strippedResponses(n int, iter func(func(*ast.Term) error) error) ([]any, error) {
	list := make([]any, 0, n)
	err := iter(func(e *ast.Term) error {
		j, err := strippedResponse(e.Value)
		list = append(list, j)
		return err
	})
	return list, err
}
