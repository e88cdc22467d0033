#!/usr/bin/env bash
# Runs the whole test suite. Fuzz targets run on their seed corpus only;
# see docs/benchmarks.md and docs/testing.md for long fuzzing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
go test -count=1 "$@" ./...
