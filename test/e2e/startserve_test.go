package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
)

// serveStartTimeout bounds how long startServe waits for serve to be
// running; generous, since the machine running the suite may be loaded.
const serveStartTimeout = 60 * time.Second

// startServe runs one `portcullis serve` (serve.Run with o against env's
// API server) until ctx ends, and waits for it to be running (certificate
// ready, policies loaded). It fails t when serve exits or does not start
// within serveStartTimeout. The channel receives serve's return value once
// ctx ends.
func startServe(ctx context.Context, t *testing.T, env *Env, o serve.Options) (serve.Running, <-chan error) {
	t.Helper()
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, env.Config, o, func(r serve.Running) { ready <- r })
	}()
	select {
	case r := <-ready:
		return r, errc
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(serveStartTimeout):
		t.Fatalf("serve did not start in %s", serveStartTimeout)
	}
	return serve.Running{}, errc
}
