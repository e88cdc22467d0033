package cel

import (
	"context"
	"errors"
	"testing"
)

func TestParseImageReference(t *testing.T) {
	t.Parallel()
	const dig = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in                   string
		registry, repository string
		tag, digest          string
		wantErr              bool
	}{
		{in: "nginx", registry: "index.docker.io", repository: "library/nginx", tag: "latest"},
		{in: "nginx:1.25", registry: "index.docker.io", repository: "library/nginx", tag: "1.25"},
		{in: "docker.io/nginx:1.25", registry: "index.docker.io", repository: "library/nginx", tag: "1.25"},
		{in: "docker.io/bitnami/redis", registry: "index.docker.io", repository: "bitnami/redis", tag: "latest"},
		{in: "ghcr.io/kyverno/test-busybox:1.35", registry: "ghcr.io", repository: "kyverno/test-busybox", tag: "1.35"},
		{in: "localhost:5000/app", registry: "localhost:5000", repository: "app", tag: "latest"},
		{in: "localhost/app:v1", registry: "localhost", repository: "app", tag: "v1"},
		{in: "ghcr.io/a/b@" + dig, registry: "ghcr.io", repository: "a/b", digest: dig},
		{in: "nginx:1.25@" + dig, registry: "index.docker.io", repository: "library/nginx", digest: dig},
		// go-containerregistry (v0.22) accepts one-character repositories.
		{in: "a", registry: "index.docker.io", repository: "library/a", tag: "latest"},
		{in: "ghcr.io/a:1", registry: "ghcr.io", repository: "a", tag: "1"},
		{in: "Nginx", wantErr: true},
		{in: "nginx ", wantErr: true},
		{in: "nginx@sha512:" + dig[7:] + dig[7:], wantErr: true},
		{in: "nginx:", wantErr: true},
		{in: "nginx@sha256:abc", wantErr: true},
		{in: "a@b@c", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			r, err := ParseImageReference(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("expected an error, got %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Registry != tc.registry || r.Repository != tc.repository || r.Tag != tc.tag || r.Digest != tc.digest {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

func TestImageLibrary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr string
	}{
		{"tag", "parseImageReference('nginx:1.25').tag() == '1.25'"},
		{"default tag", "image('nginx').identifier() == 'latest'"},
		{"digest", "parseImageReference('ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef').containsDigest()"},
		{"no digest", "!parseImageReference('ghcr.io/a/b:1').containsDigest() && parseImageReference('ghcr.io/a/b:1').digest() == ''"},
		{"identifierWithSeparator", "parseImageReference('ghcr.io/a/b:1').identifierWithSeparator() == ':1'"},
		{"isImage", "isImage('nginx') && !isImage('NOT VALID')"},
		{"equality", "parseImageReference('nginx') == parseImageReference('nginx')"},
		{"service account", "parseServiceAccount('system:serviceaccount:ns:sa') == parseServiceAccount('system:serviceaccount:ns:sa') && parseServiceAccount('alice').Name == ''"},
		{"time", "time.now() == timestamp('2025-06-01T12:00:00Z') && time.truncate(timestamp('2025-06-01T12:34:56Z'), duration('1h')) == timestamp('2025-06-01T12:00:00Z') && time.toCron(timestamp('2025-06-01T12:34:56Z')) == '34 12 1 6 0'"},
		{"global context", "globalContext.Get('deployments', 'count') == 3 && globalContext.Get('deployments').count == 3 && globalContext.Get('missing') == null"},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, Spec{Dialect: Kyverno, Validations: []Validation{{Expression: tc.expr}}})
			out := validateOne(t, p, Input{GlobalContext: MemoryGlobalContext{"deployments": map[string]any{"count": 3.0}}})
			if out.Status != Pass {
				t.Fatalf("%v: %s", out.Status, out.Message)
			}
		})
	}
}

func TestMemoryStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := NewMemoryResources(
		mustYAML(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: ns}}`),
		mustYAML(t, `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: i, namespace: ns}}`),
		mustYAML(t, `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: p, namespace: ns}}`),
		mustYAML(t, `{apiVersion: v1, kind: Namespace, metadata: {name: ns}}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range [][4]string{
		{"v1", "configmaps", "ns", "a"},
		{"v1", "configmap", "ns", "a"},
		{"networking.k8s.io/v1", "ingresses", "ns", "i"},
		{"policy/v1", "poddisruptionbudgets", "ns", "p"},
		{"v1", "namespaces", "", "ns"},
	} {
		if _, err := r.Get(ctx, q[0], q[1], q[2], q[3]); err != nil {
			t.Errorf("Get%v: %v", q, err)
		}
	}
	if _, err := r.Get(ctx, "v1", "configmaps", "other", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get in another namespace: %v, want ErrNotFound", err)
	}
	if _, err := r.Get(ctx, "apps/v1", "configmaps", "ns", "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get with another group: %v, want ErrNotFound", err)
	}
	if l, err := r.List(ctx, "v1", "configmaps", "ns"); err != nil || len(l) != 1 {
		t.Errorf("List: %v %v", l, err)
	}
	if l, err := r.List(ctx, "v1", "secrets", "ns"); err != nil || len(l) != 0 {
		t.Errorf("List of nothing: %v %v", l, err)
	}
	if _, err := NewMemoryResources(map[string]any{"kind": "ConfigMap"}); err == nil {
		t.Error("expected an error for an object without apiVersion")
	}

	imgs, err := NewMemoryImages(mustYAML(t, `{image: "nginx:1", config: {created: x}, extra: dropped, tag: ""}`))
	if err != nil {
		t.Fatal(err)
	}
	d, err := imgs.GetMetadata(ctx, "nginx:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d["extra"]; ok || d["resolvedImage"] != "" || d["registry"] != "" || d["config"] == nil {
		t.Errorf("unexpected image data %v", d)
	}
	if _, ok := d["tag"]; ok {
		t.Errorf("empty tag kept: %v", d)
	}
	if _, err := imgs.GetMetadata(ctx, "nginx"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMetadata of an unknown image: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Get(cancelled, "v1", "configmaps", "ns", "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
}

func TestToValueNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{1.0, "int"}, {0.0, "int"}, {-3.0, "int"}, {1.5, "double"}, {1e300, "double"}, {int64(2), "int"},
	}
	for _, tc := range tests {
		if got := ToValue(tc.in).Type().TypeName(); got != tc.want {
			t.Errorf("ToValue(%v) is %s, want %s", tc.in, got, tc.want)
		}
	}
}
