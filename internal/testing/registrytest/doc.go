// Package registrytest runs a real OCI registry (Debian's docker-registry,
// Distribution 2.8) on 127.0.0.1 for tests, behind a counting,
// fault-injecting proxy, and pushes images and cosign signatures to it.
//
// It is imported only by tests. Start skips the test when the registry
// binary is missing, unless PORTCULLIS_REGISTRY=1 (CI sets it after
// hack/registry/install.sh), in which case the test fails.
package registrytest
