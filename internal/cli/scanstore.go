//go:build !offline

package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/source/files"
	"github.com/portcullis/portcullis/internal/store"
)

// scanStore records a scan in the findings store named by `scan --store`.
// The scan's source is named "scan:" and the paths as given, so scanning
// the same paths again replaces the previous scan's resources (and
// records what changed) while other paths stay separate.
type scanStore struct {
	st  store.Store
	rec *store.ScanRecord
}

// openScanStore opens the store (nil when url is empty) before the scan
// runs, so a bad URL fails before any work.
func openScanStore(ctx context.Context, url string, paths []string, set *policy.Set) (*scanStore, error) {
	if url == "" {
		return nil, nil
	}
	st, err := store.Open(ctx, store.Config{URL: url})
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	source := strings.Join(paths, " ")
	return &scanStore{st: st, rec: &store.ScanRecord{Cluster: "scan:" + source, Source: source, Started: time.Now(), Set: set}}, nil
}

// add records one evaluated document.
func (s *scanStore) add(o files.Outcome) {
	if s != nil {
		s.rec.Add(o.Document.Object, o.Results)
	}
}

// write records the scan in one transaction and closes the store.
func (s *scanStore) write(ctx context.Context) error {
	if s == nil {
		return nil
	}
	err := s.rec.Write(ctx, s.st, time.Now())
	if cerr := s.st.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the store: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	return nil
}

// close closes the store without recording (the scan failed).
func (s *scanStore) close() {
	if s != nil {
		s.st.Close()
	}
}
