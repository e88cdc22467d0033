#!/usr/bin/env bash
# hack/envtest/test.sh: runs the e2e tests (test/e2e) against a real
# kube-apiserver and etcd. Builds them first if the per-version cache is
# empty (hack/envtest/build.sh; several minutes cold, instant when cached).
# PORTCULLIS_E2E=1 makes the tests fail rather than skip if they cannot run.
# Extra arguments go to `go test` (e.g. -run TestEnvtestSmoke -v).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KUBEBUILDER_ASSETS="$(hack/envtest/build.sh | tail -n 1)"
export KUBEBUILDER_ASSETS PORTCULLIS_E2E=1
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
go test -count=1 "$@" ./test/e2e/...
