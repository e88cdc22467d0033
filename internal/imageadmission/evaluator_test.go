package imageadmission

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"sigs.k8s.io/yaml"
)

func loadCIPs(t *testing.T, doc string) []*imagepolicy.Policy {
	t.Helper()
	docs, err := manifest.Decode("cip.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := imagepolicy.Load(docs)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func indent(pem []byte) string {
	return "        " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n        ")
}

func object(t *testing.T, y string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(y), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func pod(t *testing.T, labels string, images ...string) map[string]any {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, labels: {%s}}\nspec:\n  containers:\n", labels)
	for i, img := range images {
		fmt.Fprintf(&b, "  - name: c%d\n    image: %s\n", i, img)
	}
	return object(t, b.String())
}

func podRequest(obj map[string]any) Request {
	return Request{Kind: "Pod", Version: "v1", Resource: "pods", Namespace: "ns", Object: obj}
}

type fixture struct {
	reg               *registrytest.Registry
	signed, unsigned  string // tag references through the proxy
	signedDigest      string
	key               registrytest.Key
	enforce, warnOnly []*imagepolicy.Policy
	ev                *Evaluator
}

func setup(t *testing.T) *fixture {
	t.Helper()
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	reg.PushRandom(t, "team/app", "unsigned")
	policy := func(name, mode, match string) string {
		return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: %s}
spec:
  mode: %s
  images: [{glob: "%s/team/**"}]
%s  authorities:
  - name: team-key
    key:
      data: |
%s
`, name, mode, reg.Host, match, indent(key.PublicPEM))
	}
	f := &fixture{
		reg: reg, key: key,
		signed: reg.Ref("team/app", "signed"), unsigned: reg.Ref("team/app", "unsigned"),
		signedDigest: d.String(),
		enforce:      loadCIPs(t, policy("team-signed", "enforce", "")),
		warnOnly:     loadCIPs(t, policy("team-warn", "warn", "")),
	}
	ev, err := New(Options{Verifier: imageverify.New(imageverify.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	f.ev = ev
	return f
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestValidate(t *testing.T) {
	f := setup(t)
	ctx := ctxFor(t)

	t.Run("signed image admitted", func(t *testing.T) {
		d := f.ev.Validate(ctx, f.enforce, podRequest(pod(t, "", f.signed)))
		if !d.Allowed || len(d.Denials) != 0 || d.Checked != 1 {
			t.Fatalf("decision = %+v, want allowed with 1 image checked", d)
		}
	})
	t.Run("unsigned image denied naming image, field, policy and reason", func(t *testing.T) {
		d := f.ev.Validate(ctx, f.enforce, podRequest(pod(t, "", f.signed, f.unsigned)))
		if d.Allowed || len(d.Denials) != 1 {
			t.Fatalf("decision = %+v, want one denial", d)
		}
		for _, want := range []string{f.unsigned, "spec.containers[1].image", "ClusterImagePolicy team-signed", "team-key: no signature"} {
			if !strings.Contains(d.Denials[0], want) {
				t.Errorf("denial %q does not contain %q", d.Denials[0], want)
			}
		}
	})
	t.Run("image outside the globs is not checked", func(t *testing.T) {
		d := f.ev.Validate(ctx, f.enforce, podRequest(pod(t, "", f.reg.Host+"/other/app:1")))
		if !d.Allowed || d.Checked != 0 {
			t.Fatalf("decision = %+v, want allowed, nothing checked", d)
		}
	})
	t.Run("warn mode warns", func(t *testing.T) {
		d := f.ev.Validate(ctx, f.warnOnly, podRequest(pod(t, "", f.unsigned)))
		if !d.Allowed || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "team-warn") {
			t.Fatalf("decision = %+v, want allowed with a warning", d)
		}
	})
	t.Run("deployment template images", func(t *testing.T) {
		dep := object(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec:
  template:
    spec:
      initContainers: [{name: init, image: %q}]
      containers: [{name: app, image: %q}]
`, f.unsigned, f.signed))
		d := f.ev.Validate(ctx, f.enforce, Request{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Namespace: "ns", Object: dep})
		if d.Allowed || len(d.Denials) != 1 || !strings.Contains(d.Denials[0], "spec.template.spec.initContainers[0].image") {
			t.Fatalf("decision = %+v, want the init container denied", d)
		}
	})
	t.Run("malformed pod spec denied", func(t *testing.T) {
		obj := object(t, `{"kind":"Pod","spec":{"containers":[{"name":"c","image":42}]}}`)
		d := f.ev.Validate(ctx, f.enforce, podRequest(obj))
		if d.Allowed || !strings.Contains(d.Message(), "spec.containers[0].image is not a string") {
			t.Fatalf("decision = %+v, want a denial for the malformed image", d)
		}
	})
	t.Run("invalid reference denied", func(t *testing.T) {
		d := f.ev.Validate(ctx, f.enforce, podRequest(pod(t, "", f.reg.Host+"/team/App:UPPER case")))
		if d.Allowed {
			t.Fatalf("decision = %+v, want denied", d)
		}
	})
}

func TestValidateMatch(t *testing.T) {
	f := setup(t)
	ctx := ctxFor(t)
	cips := loadCIPs(t, fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: prod-only}
spec:
  images: [{glob: "%s/team/**"}]
  match:
  - {group: "", version: v1, resource: pods, selector: {matchLabels: {env: prod}}}
  authorities:
  - key:
      data: |
%s
`, f.reg.Host, indent(f.key.PublicPEM)))
	if d := f.ev.Validate(ctx, cips, podRequest(pod(t, "env: dev", f.unsigned))); !d.Allowed || d.Checked != 0 {
		t.Errorf("dev pod: %+v, want not checked", d)
	}
	if d := f.ev.Validate(ctx, cips, podRequest(pod(t, "env: prod", f.unsigned))); d.Allowed {
		t.Errorf("prod pod: %+v, want denied", d)
	}
	dep := object(t, fmt.Sprintf(`{"kind":"Deployment","metadata":{"labels":{"env":"prod"}},"spec":{"template":{"spec":{"containers":[{"name":"c","image":%q}]}}}}`, f.unsigned))
	if d := f.ev.Validate(ctx, cips, Request{Kind: "Deployment", Group: "apps", Version: "v1", Resource: "deployments", Object: dep}); !d.Allowed {
		t.Errorf("deployment: %+v, want not matched (policy matches pods only)", d)
	}
}

func TestValidateRegistryFailures(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		name   string
		status int
		delay  time.Duration
		want   string
	}{
		{"rate limited", http.StatusTooManyRequests, 0, "registry unreachable"},
		{"failing", http.StatusServiceUnavailable, 0, "registry unreachable"},
		{"slow past the deadline", 0, 5 * time.Second, "registry unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := New(Options{Verifier: imageverify.New(imageverify.Options{})})
			if err != nil {
				t.Fatal(err)
			}
			f.reg.SetFault(func(*http.Request) (int, time.Duration) { return tc.status, tc.delay })
			defer f.reg.SetFault(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			d := ev.Validate(ctx, f.enforce, podRequest(pod(t, "", f.signed)))
			if d.Allowed || !strings.Contains(d.Message(), tc.want) || !strings.Contains(d.Message(), f.signed) {
				t.Fatalf("decision = %+v, want denied with %q", d, tc.want)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v: the deadline must bound it", elapsed)
			}
			// The same failure under a warn policy admits with a warning.
			wd := ev.Validate(ctx, f.warnOnly, podRequest(pod(t, "", f.signed)))
			if !wd.Allowed || len(wd.Warnings) != 1 {
				t.Fatalf("warn decision = %+v, want allowed with a warning", wd)
			}
		})
	}
}

func TestMutate(t *testing.T) {
	f := setup(t)
	ctx := ctxFor(t)
	byDigest := f.reg.Ref("team/app", f.signedDigest)
	obj := pod(t, "", f.signed, byDigest, f.reg.Host+"/other/app:1")
	d := f.ev.Mutate(ctx, f.enforce, podRequest(obj))
	if len(d.Patches) != 1 {
		t.Fatalf("patches = %+v, want one (the tag covered by the policy)", d.Patches)
	}
	p := d.Patches[0]
	if p.Op != "replace" || p.Path != "/spec/containers/0/image" || p.Value != f.signed+"@"+f.signedDigest {
		t.Fatalf("patch = %+v", p)
	}
	// A missing tag is left alone with a warning.
	d = f.ev.Mutate(ctx, f.enforce, podRequest(pod(t, "", f.reg.Ref("team/app", "missing"))))
	if len(d.Patches) != 0 || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "not pinned") {
		t.Fatalf("decision = %+v, want no patch and a warning", d)
	}
}

func TestImages(t *testing.T) {
	cron := object(t, `{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1"}],"ephemeralContainers":[{"name":"e","image":"y@sha256:abc"}]}}}}}}`)
	imgs, err := Images("CronJob", cron)
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{
		{Ref: "x:1", Pointer: "/spec/jobTemplate/spec/template/spec/containers/0/image", Field: "spec.jobTemplate.spec.template.spec.containers[0].image"},
		{Ref: "y@sha256:abc", Pointer: "/spec/jobTemplate/spec/template/spec/ephemeralContainers/0/image", Field: "spec.jobTemplate.spec.template.spec.ephemeralContainers[0].image"},
	}
	if fmt.Sprint(imgs) != fmt.Sprint(want) {
		t.Fatalf("Images = %+v, want %+v", imgs, want)
	}
	if imgs, err := Images("ConfigMap", cron); imgs != nil || err != nil {
		t.Errorf("ConfigMap: %v %v", imgs, err)
	}
	for bad, msg := range map[string]string{
		`{"spec":{"containers":"nope"}}`:                                      "spec.containers is not a list",
		`{"spec":{"containers":{"a":{"image":"x"}}}}`:                         "spec.containers is not a list",
		`{"spec":{"containers":["nope"]}}`:                                    "spec.containers[0] is not an object",
		`{"spec":{"containers":[null]}}`:                                      "spec.containers[0] is not an object",
		`{"spec":{"initContainers":[{"image":3}],"containers":"nope"}}`:       "spec.initContainers[0].image is not a string",
		`{"spec":{"initContainers":[{"image":"x"}],"ephemeralContainers":1}}`: "spec.ephemeralContainers is not a list",
	} {
		if _, err := Images("Pod", object(t, bad)); err == nil || err.Error() != msg {
			t.Errorf("Images(%s): error %v, want %q", bad, err, msg)
		}
	}
}
