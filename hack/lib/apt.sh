# shellcheck shell=bash
# Sourced by the hack/*/install.sh scripts: one way to install a Debian
# package for the tests.

# apt_install PACKAGE [SERVICE] installs Debian's PACKAGE (no recommends),
# refreshing the package lists when they do not know it or name a version
# the mirror no longer has (one retry). With SERVICE, the package's system
# service is kept from starting during the install (policy-rc.d) and is
# stopped and disabled afterwards if it was started anyway: the tests start
# their own instances on 127.0.0.1.
apt_install() {
  local pkg=$1 service=${2:-} sudo="" policy=/usr/sbin/policy-rc.d created_policy=0 rc=0
  if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
  fi
  if [ -n "$service" ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $sudo apt-get update || rc=$?
  fi
  if [ "$rc" = 0 ] && ! $sudo apt-get install -y --no-install-recommends "$pkg"; then
    rc=0
    $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "$pkg" || rc=$?
  fi
  if [ "$created_policy" = 1 ]; then
    $sudo rm -f "$policy"
  fi
  if [ -n "$service" ]; then
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      $sudo service "$service" stop >/dev/null 2>&1 || true
    fi
  fi
  return "$rc"
}
