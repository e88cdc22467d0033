package admission

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	admissionv1 "k8s.io/api/admission/v1"
)

type imageFixture struct {
	reg              *registrytest.Registry
	signed, unsigned string
	digest           string
	// signedPin and unsignedPin are the tags pinned to their digests, as
	// the mutating webhook leaves them for /validate.
	signedPin, unsignedPin string
	srv                    *httptestServer
	verifier               *imageverify.Verifier
	key                    registrytest.Key
}

// startImageAdmission serves a Handler with one enforce ClusterImagePolicy
// requiring the test key for <registry>/team/**.
func startImageAdmission(t testing.TB, set *policy.Set) *imageFixture {
	t.Helper()
	reg := registrytest.Start(t)
	key := registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	ud := reg.PushRandom(t, "team/app", "unsigned")
	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: team-signed}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: team-key
    key:
      data: |
        %s
`, reg.Host, strings.ReplaceAll(strings.TrimSpace(string(key.PublicPEM)), "\n", "\n        "))
	docs, err := manifest.Decode("cip.yaml", []byte(cip))
	if err != nil {
		t.Fatal(err)
	}
	cips, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The ClusterImagePolicy joins the given set, as the watcher compiles
	// every kind into one set.
	withImages := *set
	withImages.Images = cips.Images
	v := imageverify.New(imageverify.Options{})
	eng := engine.New(engine.WithImagePolicyVerifier(v, engine.ImagePolicyOptions{}))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(&withImages), Engine: eng})
	return &imageFixture{
		reg: reg, signed: reg.Ref("team/app", "signed"), unsigned: reg.Ref("team/app", "unsigned"),
		digest: d.String(), srv: newTLSServer(t, h), verifier: v, key: key,
		signedPin: reg.Ref("team/app", "signed") + "@" + d.String(), unsignedPin: reg.Ref("team/app", "unsigned") + "@" + ud.String(),
	}
}

func podWithImage(image string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - name: app\n    image: %s\n", image)
}

func TestImagePolicies(t *testing.T) {
	f := startImageAdmission(t, &policy.Set{})

	t.Run("signed image admitted", func(t *testing.T) {
		resp := admit(t, f.srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.signedPin)})
		if !resp.Allowed {
			t.Fatalf("denied: %+v", resp.Result)
		}
	})
	t.Run("tag not pinned by the mutating webhook denied", func(t *testing.T) {
		resp := admit(t, f.srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.signed)})
		if resp.Allowed || !strings.Contains(resp.Result.Message, f.signed+" (spec.containers[0].image) must be an image digest") {
			t.Fatalf("response = %+v, want the signed tag denied as not a digest", resp.Result)
		}
	})
	t.Run("unsigned image denied with image, policy and reason", func(t *testing.T) {
		resp := admit(t, f.srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.unsignedPin)})
		if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden {
			t.Fatalf("response = %+v, want 403", resp)
		}
		for _, want := range []string{"Pod/shop/web", f.unsigned, "spec.containers[0].image", "ClusterImagePolicy team-signed", "team-key: no signature"} {
			if !strings.Contains(resp.Result.Message, want) {
				t.Errorf("message %q does not contain %q", resp.Result.Message, want)
			}
		}
	})
	t.Run("mutate pins the tag to its digest", func(t *testing.T) {
		resp := admit(t, f.srv, PathMutate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.signed)})
		if !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Fatalf("response = %+v, want a JSON patch", resp)
		}
		var patch []map[string]any
		if err := json.Unmarshal(resp.Patch, &patch); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`[map[op:replace path:/spec/containers/0/image value:%s@%s]]`, f.signed, f.digest)
		if fmt.Sprint(patch) != want {
			t.Fatalf("patch = %v, want %s", patch, want)
		}
	})
	t.Run("delete is not checked", func(t *testing.T) {
		resp := admit(t, f.srv, PathValidate, reviewReq{op: "DELETE", kind: "Pod", namespace: "shop", name: "web", oldObject: podWithImage(f.unsigned)})
		if !resp.Allowed {
			t.Fatalf("DELETE denied: %+v", resp.Result)
		}
	})
	t.Run("registry rate limiting denies with a clear message within the deadline", func(t *testing.T) {
		f.reg.SetFault(func(*http.Request) (int, time.Duration) { return http.StatusTooManyRequests, 0 })
		defer f.reg.SetFault(nil)
		img := f.reg.Ref("team/app", "sha256:"+strings.Repeat("a", 64)) // not cached
		start := time.Now()
		resp := admit(t, f.srv, PathValidate+"?timeout=2s", reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(img)})
		if resp.Allowed || !strings.Contains(resp.Result.Message, "registry unreachable") || !strings.Contains(resp.Result.Message, "429") {
			t.Fatalf("response = %+v, want a denial naming the 429", resp.Result)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("answered after %v, past the request timeout", elapsed)
		}
	})
	t.Run("rule denial and image denial both reported", func(t *testing.T) {
		g := startImageAdmission(t, pssSet(t, policy.Enforce))
		obj := podWithImage(g.unsignedPin) + "    securityContext: {privileged: true}\n"
		resp := admit(t, g.srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: obj})
		if resp.Allowed || !strings.Contains(resp.Result.Message, "privileged") || !strings.Contains(resp.Result.Message, "team-key: no signature") {
			t.Fatalf("message = %q, want both the rule and the image denial", resp.Result.Message)
		}
	})
}

// TestConcurrentAdmissionsOneFetch: 100 concurrent admissions of one new
// image cause one verification fetch sequence.
func TestConcurrentAdmissionsOneFetch(t *testing.T) {
	f := startImageAdmission(t, &policy.Set{})
	// Slow the registry a little so all admissions overlap the first fetch.
	f.reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 20 * time.Millisecond })
	f.reg.Reset()
	const n = 100
	body := reviewBody(t, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: podWithImage(f.signedPin)})
	var wg sync.WaitGroup
	denied := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, data := post(t, f.srv, PathValidate, "application/json", body)
			var review admissionv1.AdmissionReview
			if code != http.StatusOK || json.Unmarshal(data, &review) != nil || !review.Response.Allowed {
				denied <- string(data)
			}
		}()
	}
	wg.Wait()
	close(denied)
	for d := range denied {
		t.Errorf("admission not allowed: %s", d)
	}
	// ping, GET .sig manifest, GET signature blob (the digest needs no
	// resolution): at most four, and at least the two that verify the
	// signature (a path that never reaches the registry must not pass).
	log := f.reg.Log()
	if got := f.reg.Count(); got > 4 {
		t.Errorf("registry requests = %d for %d concurrent admissions of one image, want <= 4: %v", got, n, log)
	}
	sig := "/v2/team/app/manifests/" + strings.Replace(f.digest, ":", "-", 1) + ".sig"
	for _, want := range []string{sig, "/v2/team/app/blobs/sha256:"} {
		if !slices.ContainsFunc(log, func(req string) bool { return strings.Contains(req, " "+want) }) {
			t.Errorf("no registry request for %s: the image was not verified against the registry: %v", want, log)
		}
	}
}
