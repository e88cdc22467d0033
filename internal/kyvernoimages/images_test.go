package kyvernoimages

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestResourceImages(t *testing.T) {
	t.Parallel()
	const sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	var pod map[string]any
	if err := json.Unmarshal([]byte(`{"kind": "Pod", "spec": {
		"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "ghcr.io/org/app:1@`+sha+`"}],
		"initContainers": [{"name": "i", "image": "docker.io/busybox:1.36"}]}}`), &pod); err != nil {
		t.Fatal(err)
	}
	got, err := resourceImages(pod)
	if err != nil {
		t.Fatal(err)
	}
	want := []image{
		{name: "docker.io/busybox:1.36", pointer: "/spec/initContainers/0/image"},
		{name: "docker.io/nginx:latest", pointer: "/spec/containers/0/image"},
		{name: "ghcr.io/org/app@" + sha, digest: sha, pointer: "/spec/containers/1/image"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resourceImages =\n%+v\nwant\n%+v", got, want)
	}
	if d := got[1].withDigest(sha); d != "docker.io/nginx:latest@"+sha {
		t.Errorf("withDigest = %q", d)
	}
	if none, err := resourceImages(map[string]any{"kind": "ConfigMap"}); err != nil || len(none) != 0 {
		t.Errorf("ConfigMap: %v, %v", none, err)
	}
	if _, err := resourceImages(map[string]any{"kind": "Pod", "spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "Bad"}}}}); err == nil {
		t.Error("expected an error for an unparsable image")
	}
}
