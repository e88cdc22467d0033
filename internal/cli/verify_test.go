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
