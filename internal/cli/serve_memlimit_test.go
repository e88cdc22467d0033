//go:build !offline

package cli_test

import (
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// TestServeMemoryLimitFlag: --memory-limit takes a quantity; anything else
// is refused before serve connects to a cluster.
func TestServeMemoryLimitFlag(t *testing.T) {
	for _, bad := range []string{"lots", "-1Mi"} {
		check{code: cli.ExitInvalid, stderr: []string{"invalid --memory-limit"}}.verify(t,
			runCLI(t, "", "serve", "--memory-limit", bad, "--kubeconfig", "/nonexistent"))
	}
}
