package engine

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// verifiedMap is a VerifiedImages over plain maps.
type verifiedMap struct {
	digests  map[string]string
	policies map[[2]string]Verdict   // {ref, policy}
	rules    map[[3]string][]Verdict // {kind, policy, rule}
}

func (m verifiedMap) Digest(ref string) (string, bool) { d, ok := m.digests[ref]; return d, ok }
func (m verifiedMap) ImagePolicy(ref, policy string) (Verdict, bool) {
	v, ok := m.policies[[2]string{ref, policy}]
	return v, ok
}
func (m verifiedMap) ImageRule(kind, policy, rule string) ([]Verdict, bool) {
	v, ok := m.rules[[3]string{kind, policy, rule}]
	return v, ok
}

func TestImagePolicyVerifiedSkipsRegistry(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	verified := verifiedMap{policies: map[[2]string]Verdict{
		{f.signedPin, "team-signed"}: {Digest: f.signedDigest, Status: StatusPass, Message: "cached pass"},
	}}
	f.reg.Reset()
	results, err := f.eng.Evaluate(ctx, f.enforce, Input{Resource: cipPod(t, "", f.signedPin), RequireDigests: true, Verified: verified})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.reg.Count(); n != 0 {
		t.Fatalf("%d registry requests with a verdict for every image", n)
	}
	if len(results) != 1 || results[0].Status != StatusPass || results[0].Message != "cached pass" ||
		results[0].Digest != f.signedDigest || results[0].Path != "/spec/containers/0/image" {
		t.Fatalf("results = %+v", results)
	}

	// An image the verdicts do not cover is verified from the registry
	// (and fails when unsigned); the covered one still needs no request.
	f.reg.Reset()
	d, results := decideCIPWith(t, ctx, f.eng, f.enforce, cipPod(t, "", f.signedPin, f.unsignedPin), verified)
	if d.Allowed || f.reg.Count() == 0 {
		t.Fatalf("unsigned image with a copied verdict: allowed %v, %d registry requests", d.Allowed, f.reg.Count())
	}
	if len(results) != 2 || results[0].Message != "cached pass" || results[1].Status != StatusFail {
		t.Fatalf("results = %+v", results)
	}

	// A cached pass for a tag still fails where digests are required.
	tagVerified := verifiedMap{policies: map[[2]string]Verdict{{f.signed, "team-signed"}: {Status: StatusPass}}}
	d, _ = decideCIPWith(t, ctx, f.eng, f.enforce, cipPod(t, "", f.signed), tagVerified)
	if d.Allowed {
		t.Fatal("a tag admitted under RequireDigests from a cached verdict")
	}
}

func decideCIPWith(t *testing.T, ctx context.Context, e *Engine, set *policy.Set, obj map[string]any, v VerifiedImages) (Decision, []Result) {
	t.Helper()
	results, err := e.Evaluate(ctx, set, Input{Resource: obj, RequireDigests: true, Verified: v})
	if err != nil {
		t.Fatal(err)
	}
	return Decide(set, results), results
}

func TestImagePolicyPinFromVerified(t *testing.T) {
	f := setupCIP(t)
	ctx := cipCtx(t)
	const verifiedDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	f.reg.Reset()
	results, err := f.eng.Evaluate(ctx, f.enforce, Input{Resource: cipPod(t, "", f.signed), Phase: PhaseMutate,
		Verified: verifiedMap{digests: map[string]string{f.signed: verifiedDigest}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.reg.Count() != 0 {
		t.Fatalf("%d registry requests to pin a tag the verdicts resolve", f.reg.Count())
	}
	if len(results) != 1 || results[0].Digest != verifiedDigest {
		t.Fatalf("results = %+v, want the tag pinned to the verified digest", results)
	}
}

func TestImageRuleVerified(t *testing.T) {
	calls := 0
	hook := ImageRuleVerifierFunc(func(context.Context, *policy.Rule, map[string]any, *variables.Context) ImageRuleOutcome {
		calls++
		return ImageRuleOutcome{Images: []ImageOutcome{{Image: "docker.io/nginx:1.25", Status: StatusPass, Path: "/spec/containers/0/image"}}}
	})
	e := New(WithImageVerifier(hook))
	set := loadImagePolicy(t, "true")
	verified := verifiedMap{rules: map[[3]string][]Verdict{
		{KindClusterPolicy, "images", "verify"}: {{Image: "nginx:1.25", Status: StatusWarn, Message: "cached warning", Enforce: true}},
	}}
	res, err := e.Evaluate(context.Background(), set, Input{Resource: imagePod("p"), Verified: verified})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 || len(res) != 1 || res[0].Status != StatusWarn || res[0].Message != "cached warning" || res[0].Path != "/spec/containers/0/image" {
		t.Fatalf("calls %d, results %+v", calls, res)
	}
	// The autogen rule of a Deployment is the same rule.
	dep := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "p", "namespace": "default"},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"name": "p"}, "spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "image": "nginx:1.25"}}}}}}
	res, err = e.Evaluate(context.Background(), set, Input{Resource: dep, Verified: verified})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 0 || len(res) != 1 || res[0].Rule != "autogen-verify" || res[0].Path != "/spec/template/spec/containers/0/image" {
		t.Fatalf("deployment: calls %d, results %+v", calls, res)
	}
	// No verdict for the rule, or one about an image the resource does
	// not have: verified.
	for _, v := range []verifiedMap{{}, {rules: map[[3]string][]Verdict{
		{KindClusterPolicy, "images", "verify"}: {{Image: "other:1", Status: StatusPass}}}}} {
		if _, err := e.Evaluate(context.Background(), set, Input{Resource: imagePod("p"), Verified: v}); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Fatalf("verifier called %d times, want 2", calls)
	}
}
