//go:build !offline

package cli

import (
	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/spf13/cobra"
)

// Offline reports whether this is the offline build (-tags offline; see
// offline.go): false here, the full build.
const Offline = false

// attestationCompiler compiles the Rego, CUE and CEL policies of
// ClusterImagePolicy attestations when policies are loaded (lint, scan,
// test), as the commands that verify images do.
func attestationCompiler() policy.AttestationCompiler { return attest.Check }

// fullCommands are the commands only the full build has: they verify
// images (cosign, sigstore), evaluate attestation policies (OPA, CUE) or
// keep a findings store.
func fullCommands() []*cobra.Command {
	return []*cobra.Command{newServeCommand(), newVerifyCommand(), newDashboardCommand()}
}
