#!/usr/bin/env bash
# Installs the OCI registry used by the internal/imageverify tests: Debian's
# docker-registry package (CNCF Distribution 2.8). Idempotent: does nothing
# when /usr/bin/docker-registry is already there.
#
# The package ships a system service whose default configuration listens on
# every interface; the tests never use it. Service start-up is suppressed
# during the install (policy-rc.d) and the service is stopped and disabled
# afterwards if it was started anyway. The tests start their own instance on
# 127.0.0.1 with an in-memory store (see internal/imageverify).
set -euo pipefail

if [ -x /usr/bin/docker-registry ]; then
  echo "docker-registry already installed: $(/usr/bin/docker-registry --version 2>/dev/null || true)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi

# Keep the package's init scripts from starting the service.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() {
  if [ "$created_policy" = 1 ]; then
    $SUDO rm -f "$policy"
  fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy docker-registry 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update
fi
# Stale package lists can name a version the mirror no longer has: refresh
# and retry once.
if ! $SUDO apt-get install -y --no-install-recommends docker-registry; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends docker-registry
fi

# If a service manager started it regardless, stop it.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
  $SUDO service docker-registry stop >/dev/null 2>&1 || true
fi

/usr/bin/docker-registry --version
