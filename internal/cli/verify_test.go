//go:build !offline

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// TestVerify covers the verify command's paths that need no registry; the
// registry-backed verdicts are tested in internal/imageverify.
func TestVerify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"registry unreachable fails closed", []string{"verify", "127.0.0.1:1/app:1", "--policy", "testdata/verify/block-unreachable.yaml", "--timeout", "5s"},
			cli.ExitFindings, "registry unreachable", "enforce-mode"},
		{"no policy matches", []string{"verify", "docker.io/library/nginx:1", "--policy", "testdata/verify/block-unreachable.yaml"},
			cli.ExitOK, "no ClusterImagePolicy matches", ""},
		{"malformed policy", []string{"verify", "x/y:1", "--policy", "testdata/verify/malformed.yaml"},
			cli.ExitInvalid, "", `unsupported mode "block"`},
		{"policy required", []string{"verify", "x/y:1"}, cli.ExitInvalid, "", "--policy or --key is required"},
		{"key file missing", []string{"verify", "x/y:1", "--key", "testdata/verify/nope.pub"}, cli.ExitInvalid, "", "--key"},
		{"key file not a key", []string{"verify", "x/y:1", "--key", "testdata/verify/malformed.yaml"}, cli.ExitInvalid, "", "--key"},
		{"key: empty reference", []string{"verify", "", "--key", "testdata/verify/cosign.pub"},
			cli.ExitInvalid, "", `invalid image reference "": empty`},
		{"key: uppercase repository", []string{"verify", "ghcr.io/Org/App:1.2", "--key", "testdata/verify/cosign.pub"},
			cli.ExitInvalid, "", `invalid image reference "ghcr.io/Org/App:1.2": repository can only contain`},
		{"key: trailing space", []string{"verify", "ghcr.io/org/app:1.2 ", "--key", "testdata/verify/cosign.pub"},
			cli.ExitInvalid, "", `invalid image reference "ghcr.io/org/app:1.2 ": leading or trailing white space`},
		{"key: truncated digest", []string{"verify", "ghcr.io/org/app@sha256:abc", "--key", "testdata/verify/cosign.pub"},
			cli.ExitInvalid, "", `invalid image reference "ghcr.io/org/app@sha256:abc": invalid checksum digest length`},
		{"policy with ** glob: uppercase repository", []string{"verify", "127.0.0.1:1/Org/App:1", "--policy", "testdata/verify/block-unreachable.yaml"},
			cli.ExitInvalid, "", `invalid image reference "127.0.0.1:1/Org/App:1"`},
		{"every bad reference is named", []string{"verify", "a/B:1", "127.0.0.1:1/app:1", "c@sha256:1", "--policy", "testdata/verify/block-unreachable.yaml"},
			cli.ExitInvalid, "", `"c@sha256:1"`},
		{"key checks images no policy covers", []string{"verify", "127.0.0.1:1/app:1", "--policy", "testdata/verify/other-registry.yaml",
			"--key", "testdata/verify/cosign.pub", "--timeout", "5s"}, cli.ExitFindings, "cli-keys", "enforce-mode"},
		{"no ClusterImagePolicy in file", []string{"verify", "x/y:1", "--policy", "testdata/verify"}, cli.ExitInvalid, "", `invalid policies`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := cli.Main(context.Background(), tc.args, strings.NewReader(""), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("code %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
		})
	}
	var out bytes.Buffer
	code := cli.Main(context.Background(), []string{"verify", "docker.io/library/nginx:1", "--policy", "testdata/verify/block-unreachable.yaml", "-o", "json"},
		strings.NewReader(""), &out, &bytes.Buffer{})
	var decoded []map[string]any
	if code != cli.ExitOK || json.Unmarshal(out.Bytes(), &decoded) != nil || len(decoded) != 1 || decoded[0]["allowed"] != true {
		t.Fatalf("json: code %d output %s", code, out.String())
	}
}
