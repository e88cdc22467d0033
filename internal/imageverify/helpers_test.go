package imageverify

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

var (
	startRegistry = func(tb testing.TB) *registrytest.Registry { return registrytest.Start(tb) }
	newKey        = registrytest.NewKey
	freeAddr      = registrytest.FreeAddr
)

func withTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}
