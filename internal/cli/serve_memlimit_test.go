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

// TestServeGCPercentFlag: --gc-percent takes a positive percentage;
// anything else is refused before serve connects to a cluster.
func TestServeGCPercentFlag(t *testing.T) {
	for _, bad := range []string{"0", "-1"} {
		check{code: cli.ExitInvalid, stderr: []string{"invalid --gc-percent"}}.verify(t,
			runCLI(t, "", "serve", "--gc-percent", bad, "--kubeconfig", "/nonexistent"))
	}
}
