#!/usr/bin/env bash
# Installs PostgreSQL for the findings-store tests (internal/store): Debian's
# postgresql package. Idempotent: does nothing when initdb is already in
# /usr/lib/postgresql/*/bin.
#
# The package ships a system service and creates a default cluster; the
# tests never use them (internal/testing/pgtest starts its own server with
# initdb and pg_ctl in a temporary directory, on 127.0.0.1). Service
# start-up is suppressed during the install (policy-rc.d) and the service
# is stopped and disabled afterwards if it was started anyway.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "postgresql already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi

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
if ! apt-cache policy postgresql 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update
fi
if ! $SUDO apt-get install -y --no-install-recommends postgresql; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends postgresql
fi

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now postgresql.service >/dev/null 2>&1 || true
elif command -v service >/dev/null 2>&1; then
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi

ls -d /usr/lib/postgresql/*/bin
