package admission

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/portcullis/portcullis/internal/vcache"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
)

// cacheFixture serves a Handler with the verification cache on, an
// enforce and a warn ClusterImagePolicy, a real registry and a verifier
// without its in-process cache (a cold replica on every request).
type cacheFixture struct {
	reg                      *registrytest.Registry
	signed, unsigned         string // tags
	signedPin, unsignedPin   string
	warnSigned, warnUnsigned string // pinned images under the warn policy
	h                        *Handler
	srv                      *httptestServer
	src                      *AtomicSource
	key                      registrytest.Key
	clock                    *testClock
	keys                     *keyBox
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type keyBox struct {
	mu sync.Mutex
	ks vcache.KeySet
}

func (k *keyBox) Get() (vcache.KeySet, bool) { k.mu.Lock(); defer k.mu.Unlock(); return k.ks, true }
func (k *keyBox) Set(ks vcache.KeySet)       { k.mu.Lock(); defer k.mu.Unlock(); k.ks = ks }

func cipDoc(name, mode, glob, authority string, key registrytest.Key) string {
	return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: %s}
spec:
  mode: %s
  images: [{glob: "%s"}]
  authorities:
  - name: %s
    key:
      data: |
        %s
`, name, mode, glob, authority, strings.ReplaceAll(strings.TrimSpace(string(key.PublicPEM)), "\n", "\n        "))
}

func compileCIPs(t testing.TB, docs ...string) *policy.Set {
	t.Helper()
	ds, err := manifest.Decode("cip.yaml", []byte(strings.Join(docs, "---\n")))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(ds, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func startCacheFixture(t testing.TB) *cacheFixture {
	t.Helper()
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	ud := reg.PushRandom(t, "team/app", "unsigned")
	wd := reg.PushRandom(t, "warn/app", "signed")
	reg.Sign(t, "warn/app", wd, key, nil)
	wud := reg.PushRandom(t, "warn/app", "unsigned")
	f := &cacheFixture{reg: reg, key: key,
		signed: reg.Ref("team/app", "signed"), unsigned: reg.Ref("team/app", "unsigned"),
		signedPin: reg.Ref("team/app", "signed") + "@" + d.String(), unsignedPin: reg.Ref("team/app", "unsigned") + "@" + ud.String(),
		warnSigned: reg.Ref("warn/app", "signed") + "@" + wd.String(), warnUnsigned: reg.Ref("warn/app", "unsigned") + "@" + wud.String(),
		clock: &testClock{now: time.Now()},
	}
	ks, err := vcache.NewKeySet(f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.keys = &keyBox{ks: ks}
	f.src = NewAtomicSource(f.policies(t, "team-key"))
	v := imageverify.New(imageverify.Options{TTL: -1, NegativeTTL: -1, TagTTL: -1, Transport: CountRegistryRequests(nil)})
	eng := engine.New(engine.WithImagePolicyVerifier(v, engine.ImagePolicyOptions{}))
	f.h = newHandler(t, HandlerOptions{Policies: f.src, Engine: eng,
		VerificationCache: &VerificationCacheOptions{Keys: f.keys.Get, TTL: time.Hour, Now: f.clock.Now}})
	f.srv = newTLSServer(t, f.h)
	return f
}

// policies is the fixture's policy set, the enforce policy's authority
// named authority (a new name is a new policy generation).
func (f *cacheFixture) policies(t testing.TB, authority string) *policy.Set {
	return compileCIPs(t, cipDoc("team-signed", "enforce", f.reg.Host+"/team/**", authority, f.key),
		cipDoc("warn-signed", "warn", f.reg.Host+"/warn/**", "warn-key", f.key))
}

func deploymentJSON(namespace string, annotation string, images ...string) string {
	var containers []any
	for i, img := range images {
		containers = append(containers, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
	}
	meta := map[string]any{"labels": map[string]any{"app": "web"}}
	if annotation != "" {
		meta["annotations"] = map[string]any{vcache.Annotation: annotation}
	}
	obj := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": namespace},
		"spec": map[string]any{"replicas": 3, "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{"metadata": meta, "spec": map[string]any{"containers": containers}}}}
	data, _ := json.Marshal(obj)
	return string(data)
}

// childJSON is a ReplicaSet (template) or a Pod (its own metadata) with
// the annotation, as the controllers create them from a template.
func childJSON(kind, namespace, annotation string, images ...string) string {
	s := deploymentJSON(namespace, annotation, images...)
	var obj map[string]any
	_ = json.Unmarshal([]byte(s), &obj)
	obj["kind"] = kind
	if kind == "Pod" {
		tmpl := obj["spec"].(map[string]any)["template"].(map[string]any)
		meta := tmpl["metadata"].(map[string]any)
		meta["name"], meta["namespace"] = "web-abc", namespace
		obj["metadata"], obj["spec"] = meta, tmpl["spec"]
		obj["apiVersion"] = "v1"
	}
	data, _ := json.Marshal(obj)
	return string(data)
}

// mutateDeployment sends a Deployment with images to /mutate and returns
// the record annotation its patch adds ("" when none) and the patch.
func (f *cacheFixture) mutateDeployment(t *testing.T, namespace string, images ...string) (string, []engine.Patch) {
	t.Helper()
	resp := admit(t, f.srv, PathMutate, reviewReq{kind: "Deployment", namespace: namespace, name: "web", object: deploymentJSON(namespace, "", images...)})
	if !resp.Allowed {
		t.Fatalf("mutate denied: %+v", resp.Result)
	}
	var patches []engine.Patch
	if resp.PatchType != nil && *resp.PatchType == admissionv1.PatchTypeJSONPatch {
		if err := json.Unmarshal(resp.Patch, &patches); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range patches {
		if p.Path == "/spec/template/metadata/annotations" {
			if m, ok := p.Value.(map[string]any); ok {
				s, _ := m[vcache.Annotation].(string)
				return s, patches
			}
		}
	}
	return "", patches
}

// validate sends obj (of kind) to /validate and returns the response and
// the registry requests it caused.
func (f *cacheFixture) validate(t *testing.T, kind, namespace, obj string) (*admissionv1.AdmissionResponse, int64) {
	t.Helper()
	f.reg.Reset()
	resp := admit(t, f.srv, PathValidate, reviewReq{kind: kind, namespace: namespace, name: "web", object: obj})
	return resp, f.reg.Count()
}

func (f *cacheFixture) misses(reason string) float64 {
	return testutil.ToFloat64(f.h.vc.misses.WithLabelValues(reason))
}

func TestVerificationCacheParentAndChildren(t *testing.T) {
	f := startCacheFixture(t)
	f.reg.Reset()
	ann, patches := f.mutateDeployment(t, "shop", f.signed)
	if ann == "" {
		t.Fatalf("mutating a verified Deployment added no record: %+v", patches)
	}
	if f.reg.Count() == 0 {
		t.Fatal("the Deployment was recorded without asking the registry")
	}
	if len(patches) != 2 || patches[0].Value != f.signedPin {
		t.Fatalf("patches = %+v, want the pin then the annotation", patches)
	}
	// The Deployment as stored, then the ReplicaSet and the Pods made from
	// its template: no registry request.
	hits := testutil.ToFloat64(f.h.vc.hits)
	for _, c := range []struct{ kind, obj string }{
		{"Deployment", deploymentJSON("shop", ann, f.signedPin)},
		{"ReplicaSet", childJSON("ReplicaSet", "shop", ann, f.signedPin)},
		{"Pod", childJSON("Pod", "shop", ann, f.signedPin)},
		{"Pod", childJSON("Pod", "shop", ann, f.signedPin)},
		{"Pod", childJSON("Pod", "shop", ann, f.signedPin)},
	} {
		resp, n := f.validate(t, c.kind, "shop", c.obj)
		if !resp.Allowed || n != 0 {
			t.Fatalf("%s with the record: allowed %v, %d registry requests, want allowed with 0", c.kind, resp.Allowed, n)
		}
	}
	if got := testutil.ToFloat64(f.h.vc.hits) - hits; got != 5 {
		t.Fatalf("hits = %v, want 5", got)
	}
	// Registry requests per admission: the mutation of the Deployment
	// made them all, the five validations none.
	if sum := registrySum(t, f.h, PathValidate); sum != 0 {
		t.Fatalf("portcullis_verification_registry_requests{endpoint=/validate} sums %v, want 0", sum)
	}
	if sum := registrySum(t, f.h, PathMutate); sum == 0 {
		t.Fatal("portcullis_verification_registry_requests{endpoint=/mutate} counted no request of the Deployment")
	}
	// The mutating webhook leaves a recorded child alone, without asking
	// the registry (nothing to pin, nothing to re-sign).
	f.reg.Reset()
	resp := admit(t, f.srv, PathMutate, reviewReq{kind: "ReplicaSet", namespace: "shop", name: "web", object: childJSON("ReplicaSet", "shop", ann, f.signedPin)})
	if !resp.Allowed || resp.Patch != nil || f.reg.Count() != 0 {
		t.Fatalf("mutate of a recorded ReplicaSet: allowed %v, patch %s, %d registry requests", resp.Allowed, resp.Patch, f.reg.Count())
	}
	// A Pod by tag is pinned to the recorded digest, by the record.
	f.reg.Reset()
	resp = admit(t, f.srv, PathMutate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: childJSON("Pod", "shop", ann, f.signed)})
	if !resp.Allowed || !strings.Contains(string(resp.Patch), f.signedPin) || f.reg.Count() != 0 {
		t.Fatalf("tag pinned from the record: patch %s, %d registry requests", resp.Patch, f.reg.Count())
	}
}

// registrySum is the sum of portcullis_verification_registry_requests for
// endpoint.
func registrySum(t *testing.T, h *Handler, endpoint string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(h.vc.registry); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					return m.GetHistogram().GetSampleSum()
				}
			}
		}
	}
	t.Fatalf("no portcullis_verification_registry_requests{endpoint=%q}", endpoint)
	return 0
}

func TestAnnotationPatch(t *testing.T) {
	for _, tc := range []struct {
		kind, obj, want string
	}{
		{"Deployment", `{"spec":{"template":{"spec":{}}}}`, `[{"op":"add","path":"/spec/template/metadata","value":{"annotations":{"portcullis.dev/verified":"V"}}}]`},
		{"Deployment", `{"spec":{"template":{"metadata":{"labels":{"a":"b"}}}}}`, `[{"op":"add","path":"/spec/template/metadata/annotations","value":{"portcullis.dev/verified":"V"}}]`},
		{"CronJob", `{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"x":"y"}}}}}}}`, `[{"op":"add","path":"/spec/jobTemplate/spec/template/metadata/annotations/portcullis.dev~1verified","value":"V"}]`},
	} {
		var obj map[string]any
		if err := json.Unmarshal([]byte(tc.obj), &obj); err != nil {
			t.Fatal(err)
		}
		p, err := annotationPatch(tc.kind, obj, "V")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(p); string(got) != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.kind, tc.obj, got, tc.want)
		}
	}
}

func TestVerificationCacheForgeries(t *testing.T) {
	f := startCacheFixture(t)
	ann, _ := f.mutateDeployment(t, "shop", f.signed)
	if ann == "" {
		t.Fatal("no record")
	}
	parts := strings.Split(ann, ".")
	sig := parts[3]
	editedSig := parts[0] + "." + parts[1] + "." + parts[2] + "." + sig[:5] + string("AB"[boolInt(sig[5] == 'A')]) + sig[6:]

	t.Run("copied to a Pod with an unsigned image: verified and denied", func(t *testing.T) {
		before := f.misses(string(vcache.ReasonImageNotCovered))
		resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.unsignedPin))
		if resp.Allowed || n == 0 || !strings.Contains(resp.Result.Message, "no signature") {
			t.Fatalf("allowed %v with %d registry requests: %+v", resp.Allowed, n, resp.Result)
		}
		if f.misses(string(vcache.ReasonImageNotCovered)) != before+1 {
			t.Fatal("miss not counted as image_not_covered")
		}
	})
	t.Run("copied next to an unsigned sidecar: the sidecar is verified", func(t *testing.T) {
		resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin, f.unsignedPin))
		if resp.Allowed || n == 0 {
			t.Fatalf("allowed %v with %d registry requests", resp.Allowed, n)
		}
	})
	for _, tc := range []struct {
		name, ns, value string
		reason          vcache.Reason
	}{
		{"replayed into another namespace", "other", ann, vcache.ReasonNamespace},
		{"one byte of the signature edited", "shop", editedSig, vcache.ReasonBadSignature},
		{"garbage", "shop", "trust me", vcache.ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.misses(string(tc.reason))
			// Signed image: admitted, but only after asking the registry.
			resp, n := f.validate(t, "Pod", tc.ns, childJSON("Pod", tc.ns, tc.value, f.signedPin))
			if !resp.Allowed || n == 0 {
				t.Fatalf("signed image: allowed %v with %d registry requests, want the registry asked", resp.Allowed, n)
			}
			// Unsigned image: denied whatever the annotation says.
			resp, _ = f.validate(t, "Pod", tc.ns, childJSON("Pod", tc.ns, tc.value, f.unsignedPin))
			if resp.Allowed {
				t.Fatal("unsigned image admitted")
			}
			if got := f.misses(string(tc.reason)); got != before+2 {
				t.Fatalf("misses{%s} went from %v to %v, want +2", tc.reason, before, got)
			}
		})
	}
	t.Run("signed by another key", func(t *testing.T) {
		other, err := vcache.NewKeySet(f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		rec, reason, err := vcache.Open(ann, f.keys.ks, f.clock.Now())
		if reason != "" {
			t.Fatal(err)
		}
		rec.Images[0].Ref = f.unsignedPin
		rec.Images[0].Digest = f.unsignedPin[strings.Index(f.unsignedPin, "@")+1:]
		for i := range rec.Results {
			rec.Results[i].Image = f.unsignedPin
		}
		forged, err := vcache.Seal(*rec, other)
		if err != nil {
			t.Fatal(err)
		}
		resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", forged, f.unsignedPin))
		if resp.Allowed || n == 0 {
			t.Fatalf("forged record for an unsigned image: allowed %v, %d registry requests", resp.Allowed, n)
		}
	})
	t.Run("older version of the policy", func(t *testing.T) {
		old := f.src.Current()
		f.src.Store(f.policies(t, "team-key-v2"))
		defer f.src.Store(old)
		before := f.misses(string(vcache.ReasonPolicyChanged))
		resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin))
		if !resp.Allowed || n == 0 || f.misses(string(vcache.ReasonPolicyChanged)) != before+1 {
			t.Fatalf("after a policy change: allowed %v, %d registry requests, misses %v", resp.Allowed, n, f.misses(string(vcache.ReasonPolicyChanged))-before)
		}
	})
	t.Run("expired", func(t *testing.T) {
		f.clock.Add(time.Hour)
		defer f.clock.Add(-time.Hour)
		resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin))
		if !resp.Allowed || n == 0 || f.misses(string(vcache.ReasonExpired)) != 1 {
			t.Fatalf("expired: allowed %v, %d registry requests", resp.Allowed, n)
		}
	})
}

// TestVerificationCacheNoRolloutOnUpdate: an UPDATE that leaves the pod
// template as it is (a scale, a label on the Deployment) must not write a
// fresh record into it, which would roll every Pod; one that changes the
// template anyway gets one.
func TestVerificationCacheNoRolloutOnUpdate(t *testing.T) {
	f := startCacheFixture(t)
	ann, _ := f.mutateDeployment(t, "shop", f.signed)
	f.clock.Add(2 * time.Hour) // the record expired
	stored := deploymentJSON("shop", ann, f.signedPin)
	resp := admit(t, f.srv, PathMutate, reviewReq{op: "UPDATE", kind: "Deployment", namespace: "shop", name: "web",
		object: strings.Replace(stored, `"replicas":3`, `"replicas":5`, 1), oldObject: stored})
	if !resp.Allowed || resp.Patch != nil {
		t.Fatalf("scaling a Deployment with an expired record: patch %s, want none", resp.Patch)
	}
	changed := deploymentJSON("shop", ann, f.signed) // kubectl apply of the tag: pinned again, same template
	resp = admit(t, f.srv, PathMutate, reviewReq{op: "UPDATE", kind: "Deployment", namespace: "shop", name: "web", object: changed, oldObject: stored})
	if strings.Contains(string(resp.Patch), "annotations") {
		t.Fatalf("re-applying the same template wrote a record: %s", resp.Patch)
	}
	restarted := strings.Replace(stored, `"labels":{"app":"web"}}`, `"labels":{"app":"web","restarted":"1"}}`, 1)
	if restarted == stored {
		t.Fatal("test object not changed")
	}
	resp = admit(t, f.srv, PathMutate, reviewReq{op: "UPDATE", kind: "Deployment", namespace: "shop", name: "web", object: restarted, oldObject: stored})
	if !strings.Contains(string(resp.Patch), vcache.Annotation[strings.Index(vcache.Annotation, "/")+1:]) {
		t.Fatalf("a changed template with an expired record got no fresh record: %s", resp.Patch)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestVerificationCacheKeyRotation(t *testing.T) {
	f := startCacheFixture(t)
	ann, _ := f.mutateDeployment(t, "shop", f.signed)
	old := f.keys.ks
	rotated, err := old.Rotate(f.clock.Now(), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f.keys.Set(rotated)
	if resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin)); !resp.Allowed || n != 0 {
		t.Fatalf("previous key inside the overlap: allowed %v, %d registry requests, want 0", resp.Allowed, n)
	}
	fresh, _ := f.mutateDeployment(t, "shop", f.signed)
	if !strings.HasPrefix(fresh, "v1."+rotated.Current.ID+".") {
		t.Fatalf("new records not signed by the new key: %.20s", fresh)
	}
	f.clock.Add(11 * time.Minute)
	if resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin)); !resp.Allowed || n == 0 {
		t.Fatalf("previous key after the overlap: allowed %v, %d registry requests, want the registry asked", resp.Allowed, n)
	}
	if resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", fresh, f.signedPin)); !resp.Allowed || n != 0 {
		t.Fatalf("current key: allowed %v, %d registry requests", resp.Allowed, n)
	}
}

func TestVerificationCacheWarnings(t *testing.T) {
	f := startCacheFixture(t)
	ann, _ := f.mutateDeployment(t, "shop", f.signedPin, f.warnUnsigned)
	if ann == "" {
		t.Fatal("a Deployment admitted with a warning was not recorded")
	}
	resp, n := f.validate(t, "Pod", "shop", childJSON("Pod", "shop", ann, f.signedPin, f.warnUnsigned))
	if !resp.Allowed || n != 0 {
		t.Fatalf("allowed %v, %d registry requests", resp.Allowed, n)
	}
	if len(resp.Warnings) == 0 || !strings.Contains(strings.Join(resp.Warnings, "\n"), "warn-signed") {
		t.Fatalf("warnings = %q, want the cached warning re-emitted", resp.Warnings)
	}
	// A denied Deployment is not recorded.
	if ann, _ := f.mutateDeployment(t, "shop", f.unsignedPin); ann != "" {
		t.Fatal("a Deployment that will be denied was recorded")
	}
}

func TestVerificationCacheOff(t *testing.T) {
	f := startCacheFixture(t)
	ann, _ := f.mutateDeployment(t, "shop", f.signed)
	v := imageverify.New(imageverify.Options{TTL: -1, NegativeTTL: -1, TagTTL: -1})
	off := newHandler(t, HandlerOptions{Policies: f.src, Engine: engine.New(engine.WithImagePolicyVerifier(v, engine.ImagePolicyOptions{}))})
	srv := newTLSServer(t, off)
	f.reg.Reset()
	resp := admit(t, srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: childJSON("Pod", "shop", ann, f.signedPin)})
	if !resp.Allowed || f.reg.Count() == 0 {
		t.Fatalf("cache off: a record was trusted (allowed %v, %d registry requests)", resp.Allowed, f.reg.Count())
	}
}
