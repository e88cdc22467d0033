// Package cli holds the portcullis cobra commands. Commands are
// constructors returning *cobra.Command that write to the command's
// output streams, so they are testable; Main maps errors to exit codes.
//
// Built with -tags offline the package has scan, lint, test and version
// only (offline.go), with the same flags and output, and links neither
// image verification (cosign, sigstore) nor the attestation policy
// languages (OPA, CUE) nor the findings store; full.go adds serve,
// verify and dashboard and the attestation policy compiler in the
// default build. Everything else is shared by both builds.
package cli
