// Command portcullis is the Portcullis binary: Kubernetes policy and
// software-supply-chain enforcement in one process. Every subcommand
// (scan, test, lint, verify, serve, version) is wired in internal/cli;
// this package only sets up signal handling and calls cli.Main.
package main
