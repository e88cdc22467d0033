package kyvernoimages

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/cosign/v2/pkg/types"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

func withTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// attest signs an in-toto statement about repo@digest with key, wrapped in
// a DSSE envelope the way `cosign attest --key` does, and attaches it.
func attest(tb testing.TB, reg *registrytest.Registry, repo string, digest v1.Hash, key registrytest.Key, predicateType string, predicate map[string]any) {
	tb.Helper()
	statement := map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": predicateType,
		"subject": []any{map[string]any{
			"name":   reg.Direct + "/" + repo,
			"digest": map[string]any{"sha256": digest.Hex},
		}},
		"predicate": predicate,
	}
	body, err := json.Marshal(statement)
	if err != nil {
		tb.Fatal(err)
	}
	const payloadType = types.IntotoPayloadType
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(body), body)
	sig, err := key.Signer.SignMessage(bytes.NewReader([]byte(pae)))
	if err != nil {
		tb.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": payloadType,
		"payload":     base64.StdEncoding.EncodeToString(body),
		"signatures":  []any{map[string]any{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	att, err := static.NewAttestation(env, static.WithLayerMediaType(types.DssePayloadType))
	if err != nil {
		tb.Fatal(err)
	}
	reg.AttachAttestation(tb, repo, digest, att)
}

// indent prefixes every line of a PEM key for a YAML block scalar.
func indent(pemKey []byte, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(string(pemKey), "\n"), "\n")
	return pad + strings.Join(lines, "\n"+pad)
}

// loadPolicy compiles one policy document, failing the test on error.
func loadPolicy(tb testing.TB, doc string) *policy.Set {
	tb.Helper()
	set, err := policy.LoadBytes("test.yaml", []byte(doc), policy.Options{})
	if err != nil {
		tb.Fatalf("load policy: %v\n%s", err, doc)
	}
	return set
}

// pod returns a Pod running the given images in containers c0, c1, ...
func pod(images ...string) map[string]any {
	var containers []any
	for i, im := range images {
		containers = append(containers, map[string]any{"name": fmt.Sprintf("c%d", i), "image": im})
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p", "namespace": "default"},
		"spec":     map[string]any{"containers": containers},
	}
}

// evaluate runs the engine with a Verifier over a fresh imageverify cache.
func evaluate(tb testing.TB, set *policy.Set, resource map[string]any, opts Options) []engine.Result {
	tb.Helper()
	v := New(imageverify.New(imageverify.Options{}), opts)
	eng := engine.New(engine.WithImageVerifier(v))
	res, err := eng.Evaluate(withTimeout(tb, 20*time.Second), set, engine.Input{Resource: resource})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// one returns the only result, failing otherwise.
func one(tb testing.TB, res []engine.Result) engine.Result {
	tb.Helper()
	if len(res) != 1 {
		tb.Fatalf("got %d results, want 1: %+v", len(res), res)
	}
	return res[0]
}
