// Command portcullis is a Kubernetes policy and software-supply-chain
// enforcement tool: it evaluates Kyverno-format policies against
// manifests (scan), runs Kyverno CLI test suites (test) and checks policy
// files (lint).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcullis/portcullis/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
