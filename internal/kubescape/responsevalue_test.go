package kubescape

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// term is the Rego value of a Go value written as JSON decodes (numbers
// written as ast.Number to keep their text).
func term(t *testing.T, x any) ast.Value {
	t.Helper()
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestValueResponsesAsJSON: a rule's value is read into the responses,
// or refused with the error, that decoding it through JSON gives
// (jsonResponses, as Kubescape decodes them), whether or not the scan
// strips the objects; the plain shapes without that decoding.
func TestValueResponsesAsJSON(t *testing.T) {
	obj := map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": map[string]any{"n": ast.Number("1e6"), "f": ast.Number("2.50")},
		"metadata": map[string]any{"name": "p", "namespace": "ns", "labels": map[string]any{"a": "b"}, "uid": "u"}}
	full := map[string]any{
		"alertMessage": "m", "failedPaths": []any{"a.b", nil}, "reviewPaths": []any{}, "deletePaths": []any{"c"},
		"fixPaths":   []any{map[string]any{"path": "spec.x", "value": "true", "other": 1}},
		"fixCommand": "kubectl x", "ruleStatus": "", "packagename": "armo_builtins", "alertScore": ast.Number("7"),
		"alertObject":    map[string]any{"k8sApiObjects": []any{obj}, "externalObjects": map[string]any{"name": "s", "n": 1}},
		"relatedObjects": []any{map[string]any{"object": obj, "failedPaths": []any{"x"}, "fixPaths": nil}},
		"context":        []any{"c"}, "rulename": "r", "somethingElse": map[string]any{"x": []any{1, "y"}},
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range full {
			m[k] = v
		}
		m[k] = v
		return m
	}
	list := func(x ...any) ast.Value { return term(t, x) }
	set := ast.NewSet(ast.NewTerm(term(t, full)), ast.NewTerm(term(t, with("alertMessage", "n"))))
	cases := []struct {
		note  string
		value ast.Value
		plain bool   // read without JSON
		err   string // part of the error, "" for none
	}{
		{"every field", list(full), true, ""},
		{"a set of responses", set, true, ""},
		{"null", ast.NullValue, true, ""},
		{"no responses", list(), true, ""},
		{"null fields", list(map[string]any{"alertMessage": nil, "failedPaths": nil, "alertScore": nil, "alertObject": nil, "fixPaths": nil}), true, ""},
		{"null objects", list(map[string]any{"alertObject": map[string]any{"k8sApiObjects": nil, "externalObjects": nil}}), true, ""},
		{"deny not a list", ast.Boolean(true), false, "cannot unmarshal bool into Go value of type []kubescape.Response"},
		{"deny an object", term(t, full), false, "cannot unmarshal object into Go value of type []kubescape.Response"},
		{"deny a string", ast.String("x"), false, "cannot unmarshal string"},
		{"a response not an object", list("x"), false, "cannot unmarshal string into Go value of type kubescape.Response"},
		{"a null response", list(nil, full), false, ""},
		{"alertMessage a number", list(with("alertMessage", 1)), false, "cannot unmarshal number"},
		{"alertMessage an object", list(with("alertMessage", map[string]any{})), false, "cannot unmarshal object"},
		{"failedPaths a string", list(with("failedPaths", "a")), false, "cannot unmarshal string"},
		{"failedPaths with a number", list(with("failedPaths", []any{"a", 1})), false, "cannot unmarshal number"},
		{"fixPaths an object", list(with("fixPaths", map[string]any{"path": "a"})), false, "cannot unmarshal object"},
		{"a fix path a string", list(with("fixPaths", []any{"a"})), false, "cannot unmarshal string"},
		{"a fix value a bool", list(with("fixPaths", []any{map[string]any{"path": "a", "value": true}})), false, "cannot unmarshal bool"},
		{"alertScore a string", list(with("alertScore", "7")), false, "cannot unmarshal string"},
		{"alertScore beyond float32", list(with("alertScore", ast.Number("1e39"))), false, "cannot unmarshal number 1e39"},
		{"alertScore a fraction", list(with("alertScore", ast.Number("0.1"))), true, ""},
		{"alertObject a string", list(with("alertObject", "x")), false, "cannot unmarshal string"},
		{"k8sApiObjects an object", list(with("alertObject", map[string]any{"k8sApiObjects": obj})), false, "cannot unmarshal object"},
		{"an object a string", list(with("alertObject", map[string]any{"k8sApiObjects": []any{"x"}})), false, "cannot unmarshal string"},
		{"a null object", list(with("alertObject", map[string]any{"k8sApiObjects": []any{nil}})), false, ""},
		{"externalObjects a list", list(with("alertObject", map[string]any{"externalObjects": []any{}})), false, "cannot unmarshal array"},
		{"a related object a string", list(with("relatedObjects", []any{map[string]any{"object": "x"}})), false, "cannot unmarshal string"},
		{"relatedObjects a string", list(with("relatedObjects", "x")), false, "cannot unmarshal string"},
		{"a number beyond float64", list(with("alertObject", map[string]any{"externalObjects": map[string]any{"n": ast.Number("1e400")}})), false, "cannot unmarshal number 1e400"},
		{"a name in another case", list(with("AlertMessage", "other")), false, ""},
		{"a name folded to a field (Kelvin sign)", list(with("alertObject", map[string]any{"\u212a8sApiObjects": []any{obj}})), false, ""},
		{"a string not UTF-8", list(with("alertMessage", "a\xffb")), false, ""},
		{"a name not UTF-8", list(with("alertObject", map[string]any{"externalObjects": map[string]any{"\xff": 1}})), false, ""},
	}
	// A name that is not a string: ast.JSON writes it as JSON.
	keyed := term(t, full).(ast.Object).Copy()
	keyed.Insert(ast.IntNumberTerm(1), ast.StringTerm("x"))
	cases = append(cases, struct {
		note  string
		value ast.Value
		plain bool
		err   string
	}{"a name not a string", ast.NewArray(ast.NewTerm(keyed)), false, ""})
	for _, tc := range cases {
		for _, strip := range []bool{false, true} {
			note := fmt.Sprintf("%s (strip %v)", tc.note, strip)
			want, wantErr := jsonResponses(tc.value, strip)
			want = append([]Response(nil), want...) // as packageResponses collects them
			pkg := ast.NewObject([2]*ast.Term{ast.StringTerm("deny"), ast.NewTerm(tc.value)})
			got, err := packageResponses(pkg, strip)
			if fmt.Sprint(err) != fmt.Sprint(wrapRule("deny", wantErr)) {
				t.Errorf("%s: error %v\nwant %v", note, err, wrapRule("deny", wantErr))
			}
			if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", note, err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("%s: responses\n%#v\nwant\n%#v", note, got, want)
			}
			if _, plain := valueResponses(tc.value, strip); plain != tc.plain {
				t.Errorf("%s: read without JSON = %v, want %v", note, plain, tc.plain)
			}
		}
	}
}

func wrapRule(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("rule %s: %w", name, err)
}

// TestPackageResponsesStripped: a scan reads of the responses' Kubernetes
// objects only what reports keep (two responses that differ elsewhere
// stay two), as decoding the whole responses then reducing them does;
// the rules the compiler added are left out.
func TestPackageResponsesStripped(t *testing.T) {
	pod := func(uid string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": map[string]any{"x": 1},
			"metadata": map[string]any{"name": "p", "namespace": "ns", "labels": map[string]any{"a": "b"}, "uid": uid}}
	}
	deny := ast.NewSet()
	for _, uid := range []string{"u1", "u2"} {
		deny.Add(ast.NewTerm(term(t, map[string]any{"alertMessage": "m", "alertObject": map[string]any{"k8sApiObjects": []any{pod(uid)}}})))
	}
	noMeta := term(t, []any{map[string]any{"alertObject": map[string]any{"k8sApiObjects": []any{map[string]any{"kind": "Pod", "metadata": "x"}}}}})
	pkg := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("deny"), ast.NewTerm(deny)},
		[2]*ast.Term{ast.StringTerm("other"), ast.NewTerm(noMeta)},
		[2]*ast.Term{ast.StringTerm(hoistPrefix + "0"), ast.ArrayTerm(ast.StringTerm("not responses"))},
	)
	got, err := packageResponses(pkg, true)
	if err != nil {
		t.Fatal(err)
	}
	var want []Response
	for _, rule := range []ast.Value{deny, noMeta} {
		x, err := ast.JSON(rule)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := decodeResponses(x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			for j, o := range rs[i].AlertObject.K8sAPIObjects {
				rs[i].AlertObject.K8sAPIObjects[j] = reportFields(o)
			}
		}
		want = append(want, rs...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stripped responses\n%v\nwant\n%v", got, want)
	}
	if s := fmt.Sprint(got); len(got) != 3 || strings.Contains(s, "uid") || strings.Contains(s, "spec") {
		t.Fatalf("kept whole objects or merged responses: %v", s)
	}
}
