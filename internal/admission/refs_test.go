package admission

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/kyvernoimages"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// TestInvalidImageReferenceDenied: through /validate, an image reference
// that does not parse is denied (403) under an enforce ClusterImagePolicy
// with a "**" glob and under an Enforce verifyImages rule on "*" (even
// with failurePolicy Ignore), the message naming the reference and why.
func TestInvalidImageReferenceDenied(t *testing.T) {
	t.Parallel()
	cip := compile(t, `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: everything}
spec:
  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
`)
	kyv := compile(t, strings.ReplaceAll(verifyImagesPolicy, "%s", "Ignore"))
	for _, tc := range []struct{ name, ref, why string }{
		{"uppercase repository", "ghcr.io/Org/App:1.2", "Org/App"},
		{"truncated digest", "ghcr.io/org/app@sha256:abc", "digest"},
	} {
		for policyName, h := range map[string]*Handler{
			"ClusterImagePolicy": newHandler(t, HandlerOptions{Policies: NewAtomicSource(cip)}),
			"verifyImages": newHandler(t, HandlerOptions{Policies: NewAtomicSource(kyv),
				Engine: engine.New(engine.WithImageVerifier(kyvernoimages.New(imageverify.New(imageverify.Options{}), kyvernoimages.Options{})))}),
		} {
			srv := newTLSServer(t, h)
			obj := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - {name: a, image: \"" + tc.ref + "\"}\n"
			resp := admit(t, srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: obj})
			if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden ||
				!strings.Contains(resp.Result.Message, tc.ref) || !strings.Contains(resp.Result.Message, tc.why) {
				t.Errorf("%s, %s: response %+v, want 403 naming %q and %q", policyName, tc.name, resp.Result, tc.ref, tc.why)
			}
		}
	}
}

// TestOneDeadlineAnswersBeforeTheAPIServer: with a registry slower than
// the request's ?timeout, a verifyImages rule (no ClusterImagePolicy in
// the set) is answered with a denial before the API server's timeout, not
// at it: the whole evaluation runs under the timeout minus a margin.
func TestOneDeadlineAnswersBeforeTheAPIServer(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 10 * time.Second })
	set := compile(t, strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail"))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(set),
		Engine: engine.New(engine.WithImageVerifier(kyvernoimages.New(imageverify.New(imageverify.Options{}), kyvernoimages.Options{})))})
	srv := newTLSServer(t, h)
	obj := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - {name: a, image: \"" + reg.Ref("team/app", "sha256:"+strings.Repeat("a", 64)) + "\"}\n"
	start := time.Now()
	resp := admit(t, srv, PathValidate+"?timeout=10s", reviewReq{kind: "Pod", namespace: "shop", name: "web", object: obj})
	elapsed := time.Since(start)
	if resp.Allowed {
		t.Fatalf("admitted with the registry down: %+v", resp)
	}
	// The margin of a 10 s timeout is 1 s: the answer comes at about 9 s.
	// Without the margin it came at the timeout or after. The bound leaves
	// 800 ms for a loaded machine under -race to answer (at a 4 s timeout,
	// a 250 ms cushion was once 8 ms short in CI).
	if elapsed >= 9800*time.Millisecond {
		t.Fatalf("answered after %v: the API server (timeout 10s) would have given up", elapsed)
	}
}
