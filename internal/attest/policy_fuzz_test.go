package attest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzCompile compiles arbitrary attestation policies of every kind (the
// `policy` of a ClusterImagePolicy attestation) and evaluates what
// compiles against a fixed statement: no panic, refusals are
// *CompileError, evaluation failures *EvalError.
//
//	go test -run '^$' -fuzz '^FuzzCompile$' -fuzztime 5m ./internal/attest/
func FuzzCompile(f *testing.F) {
	f.Add(uint8(0), "package sigstore\nisCompliant := input.predicateType == \"https://slsa.dev/provenance/v1\"")
	f.Add(uint8(0), "package sigstore\nisCompliant { count([x | x := input.predicate.materials[_]]) > 1 }")
	f.Add(uint8(1), "predicateType: \"https://slsa.dev/provenance/v1\"\npredicate: builder: id: =~\"^https://\"")
	f.Add(uint8(1), "{")
	f.Add(uint8(2), "statement.predicate.buildType.startsWith('https://')")
	f.Add(uint8(2), "size(statement.subject) > 0 && statement.subject.all(s, s.digest.sha256 != '')")
	st, err := ParseStatement([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildType":"https://example/b","builder":{"id":"https://ci"},"materials":[1,2]}}`))
	if err != nil {
		f.Fatal(err)
	}
	kinds := []string{KindRego, KindCUE, KindCEL}
	f.Fuzz(func(t *testing.T, k uint8, source string) {
		kind := kinds[int(k)%len(kinds)]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := CompileContext(ctx, kind, source)
		if err != nil {
			if _, ok := errors.AsType[*CompileError](err); !ok {
				t.Fatalf("%s: refusal is %T, want *CompileError: %v", kind, err, err)
			}
			return
		}
		if _, err := p.Evaluate(ctx, st); err != nil {
			if _, ok := errors.AsType[*EvalError](err); !ok {
				t.Fatalf("%s: evaluation failure is %T, want *EvalError: %v", kind, err, err)
			}
		}
	})
}
