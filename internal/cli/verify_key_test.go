//go:build !offline

package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// TestVerifyKeyFile: `verify --key FILE` against a real registry.
func TestVerifyKeyFile(t *testing.T) {
	reg := registrytest.Start(t)
	key, other := registrytest.NewKey(t), registrytest.NewKey(t)
	d := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", d, key, nil)
	reg.PushRandom(t, "team/app", "unsigned")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile, otherFile := write("cosign.pub", key.PublicPEM), write("other.pub", other.PublicPEM)
	for _, tc := range []struct {
		name, image string
		keys        []string
		code        int
		stdout      string
	}{
		{"signed", reg.Ref("team/app", "signed"), []string{keyFile}, cli.ExitOK, "cli-keys"},
		{"signed, one of two keys", reg.Ref("team/app", "signed"), []string{otherFile, keyFile}, cli.ExitOK, "key-1"},
		{"unsigned", reg.Ref("team/app", "unsigned"), []string{keyFile}, cli.ExitFindings, "no signature"},
		{"wrong key", reg.Ref("team/app", "signed"), []string{otherFile}, cli.ExitFindings, "no signature verifies with the key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"verify", tc.image}
			for _, k := range tc.keys {
				args = append(args, "--key", k)
			}
			var out, errb bytes.Buffer
			code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) {
				t.Fatalf("code %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
		})
	}
}
