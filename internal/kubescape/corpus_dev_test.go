package kubescape

import (
	"context"
	"os"
	"testing"
)

func TestDevCorpus(t *testing.T) {
	dir := os.Getenv("KSLIB_DEV")
	if dir == "" {
		t.Skip()
	}
	rep, err := RunTests(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = rep.WriteText(os.Stdout, true, os.Getenv("KSLIB_DETAIL") != "", false)
}
