#!/usr/bin/env bash
# Runs the whole test suite, end-to-end tests included.
#
# The e2e tests (test/e2e) need a real kube-apiserver and etcd: they are
# built from the Go module proxy by hack/envtest/build.sh and cached per
# version outside the repository (about 5 minutes the first time on 2
# cores, instant afterwards), as is helm (hack/helm-check.sh), which the
# chart tests render with. Set PORTCULLIS_SKIP_E2E=1 to skip them.
# Fuzz targets run on their seed corpus only; see docs/benchmarks.md for
# long fuzzing runs. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
if [ "${PORTCULLIS_SKIP_E2E:-}" != 1 ]; then
  KUBEBUILDER_ASSETS="$(hack/envtest/build.sh | tail -n 1)"
  export KUBEBUILDER_ASSETS PORTCULLIS_E2E=1
  # The e2e tests of the chart (its RBAC, the dashboard's access) render
  # it with helm: built once and cached like the envtest binaries.
  if [ -z "${PORTCULLIS_HELM:-}" ]; then
    PORTCULLIS_HELM="$(bash hack/helm-check.sh --install-only | tail -n 1)"
    export PORTCULLIS_HELM
  fi
fi
# The e2e package runs about 10 minutes on 2 idle cores (more when they are
# shared): above go test's default 10-minute limit per test binary.
go test -count=1 -timeout 45m "$@" ./...
# The offline build of the README's first command (go run -tags offline
# ./cmd/portcullis): the CLI's tests again on its files.
go test -count=1 -tags offline "$@" ./internal/cli/ ./cmd/portcullis/
