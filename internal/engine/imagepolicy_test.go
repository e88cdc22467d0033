package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// The ClusterImagePolicy handler against a real registry with real cosign
// signatures (internal/testing/registrytest).

// The real verifier implements the engine's seam (checked here: the engine
// itself does not import it).
var _ ImagePolicyVerifier = (*imageverify.Verifier)(nil)

func cipSet(t *testing.T, doc string) *policy.Set {
	t.Helper()
	docs, err := manifest.Decode("cip.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Images) == 0 {
		t.Fatal("no ClusterImagePolicy compiled")
	}
	return set
}

func indentPEM(pem []byte) string {
	return "        " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n        ")
}

func cipObject(t *testing.T, y string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(y), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func cipPod(t *testing.T, labels string, images ...string) map[string]any {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, labels: {%s}}\nspec:\n  containers:\n", labels)
	for i, img := range images {
		fmt.Fprintf(&b, "  - name: c%d\n    image: %s\n", i, img)
	}
	return cipObject(t, b.String())
}

type cipFixture struct {
	reg              *registrytest.Registry
	signed, unsigned string // tag references through the proxy
	signedDigest     string
	// signedPin and unsignedPin are the tags pinned to their digests, as
	// the mutating webhook leaves them for validation.
	signedPin, unsignedPin string
	key                    registrytest.Key
	enforce, warnOnly      *policy.Set
	eng                    *Engine
}

func setupCIP(t *testing.T) *cipFixture {
	t.Helper()
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	ud := reg.PushRandom(t, "team/app", "unsigned")
	doc := func(name, mode, match string) string {
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
`, name, mode, reg.Host, match, indentPEM(key.PublicPEM))
	}
	return &cipFixture{
		reg: reg, key: key,
		signed: reg.Ref("team/app", "signed"), unsigned: reg.Ref("team/app", "unsigned"),
		signedDigest: d.String(),
		signedPin:    reg.Ref("team/app", "signed") + "@" + d.String(), unsignedPin: reg.Ref("team/app", "unsigned") + "@" + ud.String(),
		enforce:  cipSet(t, doc("team-signed", "enforce", "")),
		warnOnly: cipSet(t, doc("team-warn", "warn", "")),
		eng:      New(WithImagePolicyVerifier(imageverify.New(imageverify.Options{}), ImagePolicyOptions{})),
	}
}

func cipCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// decideCIP evaluates obj in phase and decides.
func decideCIP(t *testing.T, ctx context.Context, e *Engine, set *policy.Set, obj map[string]any, phase Phase) (Decision, []Result) {
	t.Helper()
	results, err := e.Evaluate(ctx, set, Input{Resource: obj, Phase: phase})
	if err != nil {
		t.Fatal(err)
	}
	return Decide(set, results), results
}

func TestImagePolicyValidate(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	t.Run("signed image admitted", func(t *testing.T) {
		d, rs := decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.signedPin), PhaseValidate)
		if !d.Allowed || len(rs) != 1 {
			t.Fatalf("decision = %+v, results %+v, want allowed with 1 image checked", d, rs)
		}
		want := Result{Policy: "team-signed", PolicyKind: KindClusterImagePolicy, Rule: RuleVerifyImage,
			Resource: Resource{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "p"}, Status: StatusPass,
			Message: fmt.Sprintf("image %s (spec.containers[0].image) satisfies ClusterImagePolicy team-signed (authority team-key)", f.signedPin),
			Path:    "/spec/containers/0/image", Enforce: true, Image: f.signedPin, Digest: f.signedDigest}
		if rs[0] != want {
			t.Fatalf("result =\n\t%+v\nwant\n\t%+v", rs[0], want)
		}
	})
	t.Run("unsigned image denied naming image, field, policy and reason", func(t *testing.T) {
		d, rs := decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.signedPin, f.unsignedPin), PhaseValidate)
		if d.Allowed || len(rs) != 2 || rs[1].Status != StatusFail || rs[1].Path != "/spec/containers/1/image" {
			t.Fatalf("decision = %+v, results %+v, want one denial", d, rs)
		}
		for _, want := range []string{"resource Pod/ns/p was blocked by image policies:\n- image " + f.unsignedPin, "spec.containers[1].image", "ClusterImagePolicy team-signed", "team-key: no signature"} {
			if !strings.Contains(d.Message, want) {
				t.Errorf("denial %q does not contain %q", d.Message, want)
			}
		}
		if strings.Join(d.Blocked, ",") != BlockedImagePolicies {
			t.Errorf("blocked = %v", d.Blocked)
		}
	})
	t.Run("image outside the globs is not checked", func(t *testing.T) {
		d, rs := decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.reg.Host+"/other/app:1"), PhaseValidate)
		if !d.Allowed || len(rs) != 0 {
			t.Fatalf("decision = %+v, results %+v, want allowed, nothing checked", d, rs)
		}
	})
	t.Run("warn mode warns", func(t *testing.T) {
		d, rs := decideCIP(t, ctx, f.eng, f.warnOnly, cipPod(t, "", f.unsignedPin), PhaseValidate)
		if !d.Allowed || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "team-warn") || rs[0].Status != StatusWarn || rs[0].Enforce {
			t.Fatalf("decision = %+v, results %+v, want allowed with a warning", d, rs)
		}
	})
	t.Run("deployment template images", func(t *testing.T) {
		dep := cipObject(t, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec:
  template:
    spec:
      initContainers: [{name: init, image: %q}]
      containers: [{name: app, image: %q}]
`, f.unsignedPin, f.signedPin))
		d, _ := decideCIP(t, ctx, f.eng, f.enforce, dep, PhaseValidate)
		if d.Allowed || strings.Count(d.Message, "\n- ") != 1 || !strings.Contains(d.Message, "spec.template.spec.initContainers[0].image") {
			t.Fatalf("decision = %+v, want the init container denied", d)
		}
	})
	t.Run("malformed pod spec denied", func(t *testing.T) {
		obj := cipObject(t, `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"c","image":42}]}}`)
		d, rs := decideCIP(t, ctx, f.eng, f.enforce, obj, PhaseValidate)
		if d.Allowed || !strings.Contains(d.Message, "spec.containers[0].image is not a string") || rs[0].Status != StatusError {
			t.Fatalf("decision = %+v, want a denial for the malformed image", d)
		}
		// Even under a warn-mode policy: an unreadable pod spec fails closed.
		if d, _ := decideCIP(t, ctx, f.eng, f.warnOnly, obj, PhaseValidate); d.Allowed {
			t.Fatalf("warn policy: decision = %+v, want denied", d)
		}
	})
	t.Run("invalid reference denied", func(t *testing.T) {
		d, _ := decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.reg.Host+"/team/App:UPPER case"), PhaseValidate)
		if d.Allowed || !strings.Contains(d.Message, "is not a valid image reference") {
			t.Fatalf("decision = %+v, want denied", d)
		}
		d, _ = decideCIP(t, ctx, f.eng, f.warnOnly, cipPod(t, "", f.reg.Host+"/team/App:UPPER case"), PhaseValidate)
		if !d.Allowed || len(d.Warnings) != 1 {
			t.Fatalf("warn policy: decision = %+v, want allowed with a warning", d)
		}
	})
	t.Run("ephemeral container and image changed on UPDATE checked", func(t *testing.T) {
		// kubectl debug: UPDATE of pods/ephemeralcontainers carries the Pod.
		debug := cipPod(t, "", f.signedPin)
		debug["spec"].(map[string]any)["ephemeralContainers"] = []any{map[string]any{"name": "debugger", "image": f.unsignedPin}}
		for _, in := range []Input{
			{Resource: debug, OldResource: cipPod(t, "", f.signedPin), Subresource: "ephemeralcontainers", Operation: "UPDATE"},
			{Resource: cipPod(t, "", f.unsignedPin), OldResource: cipPod(t, "", f.signedPin), Operation: "UPDATE"},
		} {
			rs, err := f.eng.Evaluate(ctx, f.enforce, in)
			if err != nil {
				t.Fatal(err)
			}
			d := Decide(f.enforce, rs)
			if d.Allowed || !strings.Contains(d.Message, f.unsignedPin) {
				t.Fatalf("UPDATE %q: decision = %+v, results %+v; want the unsigned image denied", in.Subresource, d, rs)
			}
		}
		if !strings.Contains(fmt.Sprint(Decide(f.enforce, must(f.eng.Evaluate(ctx, f.enforce, Input{Resource: debug, Subresource: "ephemeralcontainers", Operation: "UPDATE"}))).Message), "spec.ephemeralContainers[0].image") {
			t.Error("ephemeral container denial does not name spec.ephemeralContainers[0].image")
		}
	})
	t.Run("delete and subresources are not checked", func(t *testing.T) {
		for _, in := range []Input{
			{Resource: cipPod(t, "", f.unsignedPin), Operation: "DELETE"},
			{Resource: cipPod(t, "", f.unsignedPin), Subresource: "status", Operation: "UPDATE"},
		} {
			rs, err := f.eng.Evaluate(ctx, f.enforce, in)
			if err != nil || len(rs) != 0 {
				t.Fatalf("%s %s: results %+v, %v; want none", in.Operation, in.Subresource, rs, err)
			}
		}
	})
}

func TestImagePolicyMatch(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	set := cipSet(t, fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
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
`, f.reg.Host, indentPEM(f.key.PublicPEM)))
	if d, rs := decideCIP(t, ctx, f.eng, set, cipPod(t, "env: dev", f.unsigned), PhaseValidate); !d.Allowed || len(rs) != 0 {
		t.Errorf("dev pod: %+v %+v, want not checked", d, rs)
	}
	if d, _ := decideCIP(t, ctx, f.eng, set, cipPod(t, "env: prod", f.unsigned), PhaseValidate); d.Allowed {
		t.Errorf("prod pod: %+v, want denied", d)
	}
	dep := cipObject(t, fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"env":"prod"}},"spec":{"template":{"spec":{"containers":[{"name":"c","image":%q}]}}}}`, f.unsigned))
	if d, _ := decideCIP(t, ctx, f.eng, set, dep, PhaseValidate); !d.Allowed {
		t.Errorf("deployment: %+v, want not matched (policy matches pods only)", d)
	}
}

// TestImagePolicyTagNotPinned: at admission, a tag covered by an enforce
// policy is denied with policy-controller's reason (the kubelet could pull
// another image under it than the one verified) unless the mutating
// phase pinned it; a warn policy still verifies the tag; bare references
// (verify) and offline scans keep checking tags as given; and the normal
// path (mutate pins, validate sees the digest) admits.
func TestImagePolicyTagNotPinned(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	admit := func(set *policy.Set, obj map[string]any) (Decision, []Result) {
		t.Helper()
		rs := must(f.eng.Evaluate(ctx, set, Input{Resource: obj, RequireDigests: true}))
		return Decide(set, rs), rs
	}
	d, rs := admit(f.enforce, cipPod(t, "", f.signed))
	want := fmt.Sprintf(MsgMustBeDigest, f.signed+" (spec.containers[0].image)", "team-signed")
	if d.Allowed || len(rs) != 1 || rs[0].Status != StatusFail || rs[0].Message != want {
		t.Fatalf("signed tag under enforce: decision %+v, results %+v; want denied: %s", d, rs, want)
	}
	if d, rs := admit(f.warnOnly, cipPod(t, "", f.signed)); !d.Allowed || len(rs) != 1 || rs[0].Status != StatusPass {
		t.Fatalf("signed tag under warn: decision %+v, results %+v; want verified and admitted", d, rs)
	}
	if rs := f.eng.EvaluateImages(ctx, f.enforce, []string{f.signed}); len(rs) != 1 || rs[0].Status != StatusPass {
		t.Fatalf("bare tag (verify): %+v, want verified", rs)
	}
	if d, rs := decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.signed), PhaseValidate); !d.Allowed || rs[0].Status != StatusPass {
		t.Fatalf("without RequireDigests (scan, test): %+v, want the tag verified", rs)
	}
	// Mutate pins, then validation of the patched pod admits.
	pod := cipPod(t, "", f.signed)
	md, _ := decideCIP(t, ctx, f.eng, f.enforce, pod, PhaseMutate)
	if len(md.Patches) != 1 {
		t.Fatalf("mutate: %+v, want one pin", md)
	}
	pod["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = md.Patches[0].Value
	if d, _ := admit(f.enforce, pod); !d.Allowed {
		t.Fatalf("pinned pod: %+v, want admitted", d)
	}
}

func TestImagePolicyRegistryFailures(t *testing.T) {
	f := setupCIP(t)
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
			eng := New(WithImagePolicyVerifier(imageverify.New(imageverify.Options{}), ImagePolicyOptions{}))
			f.reg.SetFault(func(*http.Request) (int, time.Duration) { return tc.status, tc.delay })
			defer f.reg.SetFault(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			d, _ := decideCIP(t, ctx, eng, f.enforce, cipPod(t, "", f.signedPin), PhaseValidate)
			if d.Allowed || !strings.Contains(d.Message, tc.want) || !strings.Contains(d.Message, f.signedPin) {
				t.Fatalf("decision = %+v, want denied with %q", d, tc.want)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v: the deadline must bound it", elapsed)
			}
			// The same failure under a warn policy admits with a warning.
			wd, _ := decideCIP(t, ctx, eng, f.warnOnly, cipPod(t, "", f.signedPin), PhaseValidate)
			if !wd.Allowed || len(wd.Warnings) != 1 {
				t.Fatalf("warn decision = %+v, want allowed with a warning", wd)
			}
		})
	}
}

func TestImagePolicyMutate(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	byDigest := f.reg.Ref("team/app", f.signedDigest)
	obj := cipPod(t, "", f.signed, byDigest, f.reg.Host+"/other/app:1")
	d, rs := decideCIP(t, ctx, f.eng, f.enforce, obj, PhaseMutate)
	if !d.Allowed || len(d.Patches) != 1 || len(rs) != 1 || rs[0].Rule != RulePinDigest || rs[0].Digest != f.signedDigest {
		t.Fatalf("decision %+v, results %+v, want one patch (the tag covered by the policy)", d, rs)
	}
	p := d.Patches[0]
	if p.Op != "replace" || p.Path != "/spec/containers/0/image" || p.Value != f.signed+"@"+f.signedDigest {
		t.Fatalf("patch = %+v", p)
	}
	// The validate phase pins nothing.
	if d, _ := decideCIP(t, ctx, f.eng, f.enforce, obj, PhaseValidate); len(d.Patches) != 0 {
		t.Fatalf("validate phase patches = %+v", d.Patches)
	}
	// A missing tag is left alone with a warning.
	d, _ = decideCIP(t, ctx, f.eng, f.enforce, cipPod(t, "", f.reg.Ref("team/app", "missing")), PhaseMutate)
	if !d.Allowed || len(d.Patches) != 0 || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "not pinned") {
		t.Fatalf("decision = %+v, want no patch and a warning", d)
	}
	// Offline (no verifier), nothing is pinned.
	if rs, err := New().Evaluate(ctx, f.enforce, Input{Resource: obj, Phase: PhaseMutate}); err != nil || len(rs) != 0 {
		t.Fatalf("offline mutate: %+v %v", rs, err)
	}
}

// TestImagePolicyOffline: without a verifier (scan, test) each covered
// image reports an error, as verifyImages rules do.
func TestImagePolicyOffline(t *testing.T) {
	f := setupCIP(t)
	rs, err := New().Evaluate(cipCtx(t), f.enforce, Input{Resource: cipPod(t, "", f.signed, f.reg.Host+"/other/app:1")})
	if err != nil || len(rs) != 1 || rs[0].Status != StatusError || rs[0].Message != MsgImageVerificationOffline || rs[0].Path != "/spec/containers/0/image" {
		t.Fatalf("results %+v, %v", rs, err)
	}
	if f.reg.Count() != 0 {
		t.Errorf("offline evaluation reached the registry: %v", f.reg.Log())
	}
}

func TestEvaluateImages(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	rs := f.eng.EvaluateImages(ctx, f.enforce, []string{f.signed, f.unsigned, f.reg.Host + "/other/app:1"})
	if len(rs) != 2 || rs[0].Status != StatusPass || rs[1].Status != StatusFail || rs[0].Resource != (Resource{Kind: "Image", Name: f.signed}) {
		t.Fatalf("results = %+v", rs)
	}
	if want := fmt.Sprintf("image %s fails ClusterImagePolicy team-signed: team-key: no signature", f.unsigned); rs[1].Message != want || rs[1].Path != "" {
		t.Fatalf("message = %q, want %q", rs[1].Message, want)
	}
}

func TestImages(t *testing.T) {
	cron := cipObject(t, `{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x:1"}],"ephemeralContainers":[{"name":"e","image":"y@sha256:abc"}]}}}}}}`)
	imgs, err := podImages("CronJob", cron)
	if err != nil {
		t.Fatal(err)
	}
	want := []image{
		{ref: "x:1", pointer: "/spec/jobTemplate/spec/template/spec/containers/0/image", field: "spec.jobTemplate.spec.template.spec.containers[0].image"},
		{ref: "y@sha256:abc", pointer: "/spec/jobTemplate/spec/template/spec/ephemeralContainers/0/image", field: "spec.jobTemplate.spec.template.spec.ephemeralContainers[0].image"},
	}
	if fmt.Sprint(imgs) != fmt.Sprint(want) {
		t.Fatalf("podImages = %+v, want %+v", imgs, want)
	}
	if imgs, err := podImages("ConfigMap", cron); imgs != nil || err != nil {
		t.Errorf("ConfigMap: %v %v", imgs, err)
	}
	for _, bad := range []string{
		`{"spec":{"containers":"nope"}}`,
		`{"spec":{"containers":["nope"]}}`,
	} {
		if _, err := podImages("Pod", cipObject(t, bad)); err == nil {
			t.Errorf("podImages(%s): no error", bad)
		}
	}
}

// TestImagePolicyPullSecrets: a registry that needs credentials is
// verified with the pod's imagePullSecrets; without them the check fails
// closed.
func TestImagePolicyPullSecrets(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("robot", "s3cret"))
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, reg.Host, auth)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}},
	)
	set := cipSet(t, fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: private}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - key:
      data: |
%s
`, reg.Host, indentPEM(key.PublicPEM)))
	newEngine := func() *Engine {
		return New(WithImagePolicyVerifier(imageverify.New(imageverify.Options{}),
			ImagePolicyOptions{Keychain: regauth.PullSecretsKeychain(regauth.ClientsetReader(cs))}))
	}
	img := reg.Ref("team/app", "signed") + "@" + d.String()
	with := cipObject(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"ns"},"spec":{"imagePullSecrets":[{"name":"pull"}],"containers":[{"name":"c","image":%q}]}}`, img))
	if dec, _ := decideCIP(t, cipCtx(t), newEngine(), set, with, PhaseValidate); !dec.Allowed {
		t.Fatalf("with the pull secret: %+v", dec)
	}
	// A fresh verifier: verdicts are cached per digest whoever asked (the
	// image is signed either way; pulling it still needs credentials).
	without := cipObject(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"ns"},"spec":{"containers":[{"name":"c","image":%q}]}}`, img))
	dec, _ := decideCIP(t, cipCtx(t), newEngine(), set, without, PhaseValidate)
	if dec.Allowed || !strings.Contains(dec.Message, "401") {
		t.Fatalf("without credentials: %+v, want a denial naming the 401", dec)
	}
	if strings.Contains(dec.Message, "s3cret") || strings.Contains(dec.Message, auth) {
		t.Fatal("the denial leaks the credentials")
	}
}

// must returns v, panicking on err (test helper for one-line checks).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestImagePolicyInvalidReferences: under a ClusterImagePolicy with a
// "**" glob, an image reference that does not parse (uppercase
// repository, trailing space, truncated digest) is denied, naming the
// reference, its field and why; under warn mode it warns. No registry is
// needed: the reference is refused before any check.
func TestImagePolicyInvalidReferences(t *testing.T) {
	t.Parallel()
	doc := func(mode string) *policy.Set {
		return cipSet(t, `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: everything}
spec:
  mode: `+mode+`
  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
`)
	}
	for _, tc := range []struct{ ref, why string }{
		{"ghcr.io/Org/App:1.2", "repository can only contain"},
		{"ghcr.io/org/app:1.2 ", "tag can only contain"},
		{"ghcr.io/org/app@sha256:abc", "digest"},
	} {
		for _, mode := range []string{"enforce", "warn"} {
			set := doc(mode)
			rs := must(New().Evaluate(context.Background(), set, Input{Resource: cipPod(t, "", fmt.Sprintf("%q", tc.ref)), RequireDigests: true}))
			d := Decide(set, rs)
			want := fmt.Sprintf("image %q (spec.containers[0].image) is not a valid image reference", tc.ref)
			text := d.Message + strings.Join(d.Warnings, "\n")
			if d.Allowed != (mode == "warn") || !strings.Contains(text, want) || !strings.Contains(text, tc.why) {
				t.Errorf("%s %q: decision %+v, want allowed=%v naming %q and %q", mode, tc.ref, d, mode == "warn", want, tc.why)
			}
		}
	}
}
