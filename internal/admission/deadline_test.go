package admission

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/kyvernoimages"
	"github.com/portcullis/portcullis/internal/lang/jmespath"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// hostileJMESPathPolicy doubles the Pod's containers 40 times (2^40
// elements) in a deny condition.
var hostileJMESPathPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: hostile}
spec:
  validationFailureAction: Enforce
  rules:
  - name: explode
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: never
      deny:
        conditions:
          any:
          - key: "{{ length(request.object.spec.containers[*].[@, @][]` + strings.Repeat(".[@, @][]", 40) + `) }}"
            operator: Equals
            value: -1
`

// TestOneDeadlineBoundsJMESPathAndImages: a hostile JMESPath rule stops
// at its cost budget (an error: the Enforce policy denies), and the
// verifyImages rule after it gets what remains of the request's deadline,
// not a fresh timeout: the request is answered, denied, before the API
// server's ?timeout=10s.
func TestOneDeadlineBoundsJMESPathAndImages(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 30 * time.Second })
	set := compile(t, hostileJMESPathPolicy+"---\n"+strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail"))
	// A small budget: the hostile rule stops in milliseconds even under
	// -race (the default budget took longer than the whole deadline there,
	// and the request was then denied for the deadline, fail closed,
	// before the image rule ran).
	eng := engine.New(engine.WithInterpreter(jmespath.New(jmespath.WithMaxCost(20000))),
		engine.WithImageVerifier(kyvernoimages.New(imageverify.New(imageverify.Options{}), kyvernoimages.Options{})))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(set), Engine: eng})
	srv := newTLSServer(t, h)
	obj := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - {name: a, image: \"" + reg.Ref("team/app", "sha256:"+strings.Repeat("a", 64)) + "\"}\n"
	start := time.Now()
	resp := admit(t, srv, PathValidate+"?timeout=10s", reviewReq{kind: "Pod", namespace: "shop", name: "web", object: obj})
	elapsed := time.Since(start)
	if resp.Allowed {
		t.Fatalf("admitted: %+v", resp)
	}
	// The margin of a 10 s timeout is 1 s: the answer comes at about 9 s
	// (the image rule waits for the registry until the deadline). The
	// bound leaves 800 ms for -race on a loaded machine (a 1 s timeout
	// left 50 ms and failed there).
	if elapsed >= 9800*time.Millisecond {
		t.Fatalf("answered after %v: the API server (timeout 10s) would have given up", elapsed)
	}
	for _, p := range []string{"hostile", "signed-images"} {
		if !strings.Contains(resp.Result.Message, p) {
			t.Errorf("denial %q does not name %s", resp.Result.Message, p)
		}
	}
}

// TestMutateHonoursPolicyTimeout: the mutating webhook is one webhook
// (here with the API server's ?timeout=10s), but a verifyImages policy
// with webhookTimeoutSeconds: 2 must not wait for a hanging registry
// longer than its own budget (1.8 s), as on its validating group path.
// Before, /mutate waited the request's whole budget (9 s).
func TestMutateHonoursPolicyTimeout(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 30 * time.Second })
	short := strings.Replace(strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail"), "  failurePolicy: Fail\n", "  failurePolicy: Fail\n  webhookTimeoutSeconds: 2\n", 1)
	if !strings.Contains(short, "webhookTimeoutSeconds: 2") {
		t.Fatal("policy not edited")
	}
	other := strings.NewReplacer("name: signed-images", "name: other-images", `imageReferences: ["*"]`, `imageReferences: ["other.example/*"]`).
		Replace(strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail"))
	set := compile(t, short+"---\n"+other)
	eng := engine.New(engine.WithImageVerifier(kyvernoimages.New(imageverify.New(imageverify.Options{}), kyvernoimages.Options{})))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(set), Engine: eng})
	srv := newTLSServer(t, h)
	obj := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - {name: a, image: \"" + reg.Ref("team/app", "v1") + "\"}\n"
	start := time.Now()
	resp := admit(t, srv, PathMutate+"?timeout=10s", reviewReq{kind: "Pod", namespace: "shop", name: "web", object: obj})
	elapsed := time.Since(start)
	if resp.Allowed {
		t.Fatalf("admitted: %+v", resp)
	}
	if !strings.Contains(resp.Result.Message, "signed-images") || !strings.Contains(resp.Result.Message, "deadline exceeded") {
		t.Errorf("denial %q should name signed-images and the deadline", resp.Result.Message)
	}
	// 1.8 s expected; 5 s is far from both that and the 9 s of the
	// request's whole budget.
	if elapsed >= 5*time.Second {
		t.Fatalf("answered after %v: the policy's 2 s timeout was not honoured", elapsed)
	}
	t.Logf("denied after %v", elapsed.Round(time.Millisecond))
}
