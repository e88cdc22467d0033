#!/usr/bin/env bash
# Installs PostgreSQL for the findings-store tests (internal/store): Debian's
# postgresql package. Idempotent: does nothing when initdb is already in
# /usr/lib/postgresql/*/bin.
#
# The package ships a system service and creates a default cluster; the
# tests never use them (internal/testing/pgtest starts its own server with
# initdb and pg_ctl in a temporary directory, on 127.0.0.1): apt_install
# keeps the service from starting.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "postgresql already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi

. "$(dirname "$0")/../lib/apt.sh"
apt_install postgresql postgresql
ls -d /usr/lib/postgresql/*/bin
