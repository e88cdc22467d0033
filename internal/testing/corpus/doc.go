// Package corpus locates the shared conformance corpus for tests.
//
// The corpus lives in ../shared/conformance beside the repository (CI
// always checks ../shared out next to the clone); PORTCULLIS_SHARED names
// another shared directory. Tests ask for it through Dir or Kyverno, which
// skip the test when the corpus is absent, unless PORTCULLIS_CORPUS=1: then
// they fail, so that CI cannot pass by skipping (as PORTCULLIS_E2E does
// for the API server in test/e2e).
//
// It is imported only by tests.
package corpus
