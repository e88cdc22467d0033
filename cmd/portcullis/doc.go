// Command portcullis is the Portcullis binary: Kubernetes policy and
// software-supply-chain enforcement in one process. Every subcommand
// (scan, test, lint, verify, serve, dashboard, version) is wired in
// internal/cli; this package only sets up signal handling and calls
// cli.Main.
//
// Built with -tags offline (the README's first command, `go run -tags
// offline ./cmd/portcullis scan examples/manifests`), it has scan, lint,
// test and version only, with the same flags and output, and compiles
// about half the packages: no cosign, sigstore, OPA, CUE or database
// drivers (see internal/cli's offline.go and offline_test.go here).
package main
