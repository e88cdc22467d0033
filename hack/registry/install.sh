#!/usr/bin/env bash
# Installs the OCI registry used by the internal/imageverify tests: Debian's
# docker-registry package (CNCF Distribution 2.8). Idempotent: does nothing
# when /usr/bin/docker-registry is already there.
#
# The package ships a system service whose default configuration listens on
# every interface; the tests never use it: apt_install keeps it from
# starting. The tests start their own instance on 127.0.0.1 with an
# in-memory store (see internal/imageverify).
set -euo pipefail

if [ -x /usr/bin/docker-registry ]; then
  echo "docker-registry already installed: $(/usr/bin/docker-registry --version 2>/dev/null || true)"
  exit 0
fi

. "$(dirname "$0")/../lib/apt.sh"
apt_install docker-registry docker-registry
/usr/bin/docker-registry --version
