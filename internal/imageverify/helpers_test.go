package imageverify

import (
	"context"
	"os"
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

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
