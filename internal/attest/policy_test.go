package attest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// slsaPolicies are equivalent policies, one per kind built in, on the
// SLSA v1 fixture: the builder and the source repository.
func slsaPolicies() map[string]string {
	m := map[string]string{
		KindRego: `package sigstore
default isCompliant := false
isCompliant if {
  input.predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted"
  input.predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/portcullis/demo"
}`,
		KindCEL: `predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted" &&
predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/portcullis/demo"`,
	}
	if src, ok := cueSLSAPolicy(); ok {
		m[KindCUE] = src
	}
	return m
}

// TestPolicyConcurrent evaluates each kind from many goroutines on
// statements that pass and fail (run with -race).
func TestPolicyConcurrent(t *testing.T) {
	t.Parallel()
	pass := decodeFixture(t, "slsa1.json")
	forked, err := ParseStatement([]byte(strings.Replace(string(pass.JSON()), "github.com/portcullis/demo", "github.com/evil/demo", -1)))
	if err != nil {
		t.Fatal(err)
	}
	for kind, src := range slsaPolicies() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p := compile(t, kind, src)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Go(func() {
					for i := range 20 {
						st, want := pass, true
						if (g+i)%2 == 1 {
							st, want = forked, false
						}
						v, err := p.Evaluate(t.Context(), st)
						if err != nil || v.Passed != want {
							errs <- fmt.Errorf("goroutine %d, run %d: verdict %+v, err %v; want passed %v", g, i, v, err, want)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kind, src, want string
	}{
		{"unknown kind", "jmespath", "x", `attest: compile jmespath policy: unknown policy kind "jmespath": want "rego", "cue" or "cel"`},
		{"empty kind", "", "x", `unknown policy kind ""`},
		{"source too large", KindCEL, "true && " + strings.Repeat(" ", MaxPolicySize), "over the limit of 1048576"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.kind, tc.src)
			var ce *CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a CompileError containing %q", err, tc.want)
			}
		})
	}
}

func TestEvaluateNilStatement(t *testing.T) {
	t.Parallel()
	for kind, src := range slsaPolicies() {
		v, err := compile(t, kind, src).Evaluate(t.Context(), nil)
		var ee *EvalError
		if !errors.As(err, &ee) || v.Passed || !strings.Contains(err.Error(), "nil statement") {
			t.Errorf("%s: verdict %+v, err %v; want an EvalError", kind, v, err)
		}
	}
}

func TestPolicyFunc(t *testing.T) {
	t.Parallel()
	var p Policy = PolicyFunc(func(_ context.Context, st *Statement) (Verdict, error) {
		return Verdict{Passed: st.HasSubjectDigest(fixtureDigest)}, nil
	})
	if v, err := p.Evaluate(t.Context(), decodeFixture(t, "vuln.json")); err != nil || !v.Passed {
		t.Errorf("verdict %+v, err %v", v, err)
	}
}
