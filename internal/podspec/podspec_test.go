package podspec

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       string
		spec, meta string
	}{
		{"Pod", "spec", "metadata"},
		{"Deployment", "spec.template.spec", "spec.template.metadata"},
		{"DaemonSet", "spec.template.spec", "spec.template.metadata"},
		{"ReplicaSet", "spec.template.spec", "spec.template.metadata"},
		{"ReplicationController", "spec.template.spec", "spec.template.metadata"},
		{"StatefulSet", "spec.template.spec", "spec.template.metadata"},
		{"Job", "spec.template.spec", "spec.template.metadata"},
		{"CronJob", "spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"},
	}
	for _, tc := range tests {
		spec, ok := Path(tc.kind)
		meta, ok2 := MetadataPath(tc.kind)
		if !ok || !ok2 || strings.Join(spec, ".") != tc.spec || strings.Join(meta, ".") != tc.meta {
			t.Errorf("%s: Path %v %v, MetadataPath %v %v", tc.kind, spec, ok, meta, ok2)
		}
	}
	for _, kind := range []string{"Service", "PodTemplate", "pod", ""} {
		if _, ok := Path(kind); ok {
			t.Errorf("Path(%q) found", kind)
		}
		if _, ok := MetadataPath(kind); ok {
			t.Errorf("MetadataPath(%q) found", kind)
		}
	}
}

func TestLookupAndOf(t *testing.T) {
	t.Parallel()
	obj := mustMap(t, `{"spec": {"template": {"spec": {"containers": []}, "metadata": null}, "bad": [1]}}`)
	spec, err := Lookup(obj, []string{"spec", "template", "spec"})
	if err != nil || spec == nil || spec["containers"] == nil {
		t.Fatalf("Lookup = %v, %v", spec, err)
	}
	if m, err := Lookup(obj, []string{"spec", "template", "metadata"}); m != nil || err != nil {
		t.Errorf("null step: %v, %v", m, err)
	}
	if m, err := Lookup(obj, []string{"spec", "missing", "spec"}); m != nil || err != nil {
		t.Errorf("missing step: %v, %v", m, err)
	}
	_, err = Lookup(obj, []string{"spec", "bad", "spec"})
	var fe *FieldError
	if !errors.As(err, &fe) || err.Error() != "spec.bad is a []interface {}, not an object" {
		t.Errorf("non-object step: %v", err)
	}
	if got, path := Of("Deployment", obj); got == nil || strings.Join(path, ".") != "spec.template.spec" {
		t.Errorf("Of(Deployment) = %v, %v", got, path)
	}
	for _, kind := range []string{"Pod", "CronJob", "Service"} {
		if got, path := Of(kind, mustMap(t, `{"spec": "x"}`)); got != nil || path != nil {
			t.Errorf("Of(%s) of a malformed object = %v, %v", kind, got, path)
		}
	}
}

func TestContainers(t *testing.T) {
	t.Parallel()
	spec := mustMap(t, `{
		"containers": [{"name": "a"}, "junk", null],
		"initContainers": [{"name": "i"}],
		"ephemeralContainers": null}`)
	cs, err := Containers(spec, []string{"spec", "template", "spec"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		_, isObj := c.Object()
		got = append(got, c.Pointer()+" "+c.Field()+" "+c.Group+" "+c.Key+" "+map[bool]string{true: "object", false: "other"}[isObj])
	}
	want := []string{
		"/spec/template/spec/initContainers/0 spec.template.spec.initContainers[0] initContainers 0 object",
		"/spec/template/spec/containers/0 spec.template.spec.containers[0] containers 0 object",
		"/spec/template/spec/containers/1 spec.template.spec.containers[1] containers 1 other",
		"/spec/template/spec/containers/2 spec.template.spec.containers[2] containers 2 other",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Containers =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	objectList := mustMap(t, `{"containers": {"10": {"name": "ten"}, "9": {"name": "nine"}, "b": {}, "a": {}}}`)
	_, err = Containers(objectList, []string{"spec"})
	var fe *FieldError
	if !errors.As(err, &fe) || err.Error() != "spec.containers is a map[string]interface {}, not a list" {
		t.Errorf("object list without ObjectLists: %v", err)
	}
	cs, err = Containers(objectList, []string{"spec"}, ObjectLists())
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range cs {
		got = append(got, c.Pointer()+" "+c.Field())
		if c.Index != -1 {
			t.Errorf("object entry %s has index %d", c.Key, c.Index)
		}
	}
	want = []string{"/spec/containers/9 spec.containers.9", "/spec/containers/10 spec.containers.10", "/spec/containers/a spec.containers.a", "/spec/containers/b spec.containers.b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("object list = %v, want %v", got, want)
	}

	for _, bad := range []string{`{"containers": 3}`, `{"initContainers": "x"}`, `{"ephemeralContainers": true}`} {
		if _, err := Containers(mustMap(t, bad), []string{"spec"}, ObjectLists()); !errors.As(err, &fe) || fe.Want != "a list" {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if cs, err := Containers(map[string]any{}, []string{"spec"}); err != nil || len(cs) != 0 {
		t.Errorf("empty spec: %v, %v", cs, err)
	}
}
