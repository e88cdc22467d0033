package admission

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
)

// verifyImagesPolicy is an Enforce verifyImages rule on every image, and
// the same under failurePolicy Ignore.
const verifyImagesPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: signed-images}
spec:
  validationFailureAction: Enforce
  failurePolicy: %s
  rules:
  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |
              -----BEGIN PUBLIC KEY-----
              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
              5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==
              -----END PUBLIC KEY-----
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`

// panickingCIPVerifier stands for a registry client that panics on
// hostile content: a panic inside go-containerregistry or cosign cannot be
// produced on demand from a real registry.
type panickingCIPVerifier struct{}

func (panickingCIPVerifier) VerifyPolicies(context.Context, string, []*imagepolicy.Policy, ...imageverify.CallOption) imageverify.ImageResult {
	panic("malformed manifest from the registry")
}

func (panickingCIPVerifier) Resolve(context.Context, string, ...imageverify.CallOption) (string, error) {
	panic("malformed manifest from the registry")
}

// TestPanicBecomesFailedEvaluation: a panic while a request is evaluated
// (in the request's goroutine or in the worker goroutines of its image
// checks) neither kills the process nor resets the connection: the
// request gets the verdict of a failed evaluation (denied under
// failurePolicy Fail, admitted with a warning under Ignore), the panic is
// counted in portcullis_admission_panics_total and logged at error level
// with its stack.
func TestPanicBecomesFailedEvaluation(t *testing.T) {
	t.Parallel()
	panicking := engine.ImageRuleVerifierFunc(func(context.Context, *policy.Rule, map[string]any, *variables.Context) engine.ImageRuleOutcome {
		panic("nil map in attestor")
	})
	cipDoc := `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: all-images}
spec:
  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
`
	// Three images by digest (checked on /validate) and one tag (pinned on /mutate).
	dg := "@sha256:" + strings.Repeat("a", 64)
	images := "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers:\n  - {name: a, image: gcr.io/a" + dg +
		"}\n  - {name: b, image: gcr.io/b" + dg + "}\n  - {name: c, image: gcr.io/c" + dg + "}\n  - {name: d, image: gcr.io/d:1}\n  - {name: e, image: gcr.io/e:1}\n"
	tests := []struct {
		name     string
		set      *policy.Set
		eng      *engine.Engine
		path     string
		allowed  bool
		warnings int
	}{
		{name: "verifyImages rule panics, failurePolicy Fail: denied", set: compile(t, strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail")),
			eng: engine.New(engine.WithImageVerifier(panicking)), path: PathValidate},
		{name: "same on /mutate", set: compile(t, strings.ReplaceAll(verifyImagesPolicy, "%s", "Fail")),
			eng: engine.New(engine.WithImageVerifier(panicking)), path: PathMutate},
		{name: "failurePolicy Ignore: admitted with a warning", set: compile(t, strings.ReplaceAll(verifyImagesPolicy, "%s", "Ignore")),
			eng: engine.New(engine.WithImageVerifier(panicking)), path: PathValidate, allowed: true, warnings: 1},
		{name: "ClusterImagePolicy check panics in a worker goroutine: denied", set: compile(t, cipDoc),
			eng: engine.New(engine.WithImagePolicyVerifier(panickingCIPVerifier{}, engine.ImagePolicyOptions{MaxParallel: 3})), path: PathValidate},
		{name: "digest pinning panics in a worker goroutine: denied", set: compile(t, cipDoc),
			eng: engine.New(engine.WithImagePolicyVerifier(panickingCIPVerifier{}, engine.ImagePolicyOptions{MaxParallel: 3})), path: PathMutate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			var logs syncBuffer
			h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(tt.set), Engine: tt.eng, Registry: reg,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			srv := newTLSServer(t, h)
			for i := range 2 { // the server survives the first panic
				resp := admit(t, srv, tt.path, reviewReq{uid: "p", kind: "Pod", namespace: "shop", name: "web", object: images})
				if resp.Allowed != tt.allowed || len(resp.Warnings) != tt.warnings {
					t.Fatalf("request %d: allowed = %v, warnings %q, result %+v; want allowed=%v with %d warnings", i, resp.Allowed, resp.Warnings, resp.Result, tt.allowed, tt.warnings)
				}
				if !tt.allowed && (resp.Result == nil || resp.Result.Code != 500 || !strings.Contains(resp.Result.Message, "internal error: panic during evaluation")) {
					t.Fatalf("denial %+v, want a 500 naming the panic", resp.Result)
				}
				if resp.Patch != nil {
					t.Fatalf("patch %s after a panic", resp.Patch)
				}
			}
			if got := counterValue(t, reg, "portcullis_admission_panics_total", "path", tt.path); got != 2 {
				t.Errorf("portcullis_admission_panics_total{path=%q} = %v, want 2", tt.path, got)
			}
			out := logs.String()
			for _, want := range []string{`"level":"ERROR"`, `"uid":"p"`, `"stack":"goroutine`, `"panic":"`} {
				if !strings.Contains(out, want) {
					t.Errorf("logs lack %s:\n%.2000s", want, out)
				}
			}
		})
	}
}

// counterValue is the value of the counter called name with label=value
// in reg (0 when absent).
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
