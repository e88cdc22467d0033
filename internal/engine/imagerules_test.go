package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

const imagePolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: images
  annotations:
    policies.kyverno.io/scored: "%s"
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify
    match:
      any:
      - resources:
          kinds: [Pod]
    preconditions:
      all:
      - key: "{{ request.object.metadata.name }}"
        operator: NotEquals
        value: skipped
    verifyImages:
    - imageReferences: ["*"]
      attestors:
      - entries:
        - keys: {kms: "awskms:///alias/k"}
`

func imagePod(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.25"}}}}
}

func loadImagePolicy(t *testing.T, scored string) *policy.Set {
	t.Helper()
	doc := strings.Replace(imagePolicy, "%s", scored, 1)
	set, err := policy.LoadBytes("images.yaml", []byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestImageRulesOffline(t *testing.T) {
	set := loadImagePolicy(t, "true")
	res, err := New().Evaluate(context.Background(), set, Input{Resource: imagePod("p")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Status != StatusError || res[0].Message != MsgImageVerificationOffline {
		t.Fatalf("got %+v", res)
	}
	// Preconditions are checked before the verifier is needed.
	res, _ = New().Evaluate(context.Background(), set, Input{Resource: imagePod("skipped")})
	if len(res) != 1 || res[0].Status != StatusSkip {
		t.Fatalf("preconditions: %+v", res)
	}
	// Deletions are not verified.
	res, _ = New().Evaluate(context.Background(), set, Input{OldResource: imagePod("p"), Operation: "DELETE"})
	if len(res) != 0 {
		t.Fatalf("delete: %+v", res)
	}
}

func TestImageRulesHook(t *testing.T) {
	var gotRule string
	hook := ImageRuleVerifierFunc(func(_ context.Context, r *policy.Rule, resource map[string]any, vars *variables.Context) ImageRuleOutcome {
		gotRule = r.Name()
		name, err := vars.Query("request.object.metadata.name")
		if err != nil || name != "p" {
			t.Errorf("vars: %v %v", name, err)
		}
		return ImageRuleOutcome{Images: []ImageOutcome{
			{Image: "docker.io/nginx:1.25", Status: StatusPass, Message: "verified", Path: "/spec/containers/0/image", Enforce: true,
				Patches: []Patch{{Op: "replace", Path: "/spec/containers/0/image", Value: "docker.io/nginx:1.25@sha256:0"}}},
			{Image: "docker.io/redis:7", Status: StatusFail, Message: "failed", Path: "/spec/containers/1/image", Enforce: false},
		}}
	})
	for _, tc := range []struct {
		scored   string
		wantFail Status
	}{{"true", StatusFail}, {"false", StatusWarn}} {
		res, err := New(WithImageVerifier(hook)).Evaluate(context.Background(), loadImagePolicy(t, tc.scored), Input{Resource: imagePod("p")})
		if err != nil {
			t.Fatal(err)
		}
		if gotRule != "verify" || len(res) != 2 {
			t.Fatalf("rule %q results %+v", gotRule, res)
		}
		if res[0].Status != StatusPass || !res[0].Enforce || res[0].Path != "/spec/containers/0/image" ||
			res[0].JSONPatch != `[{"op":"replace","path":"/spec/containers/0/image","value":"docker.io/nginx:1.25@sha256:0"}]` {
			t.Errorf("first: %+v", res[0])
		}
		if res[1].Status != tc.wantFail || res[1].Enforce || res[1].JSONPatch != "" || res[1].Message != "failed" {
			t.Errorf("second (scored %s): %+v", tc.scored, res[1])
		}
		if p, err := res[0].Patches(); err != nil || len(p) != 1 || p[0].Value != "docker.io/nginx:1.25@sha256:0" {
			t.Errorf("Patches() = %+v, %v", p, err)
		}
	}
}
