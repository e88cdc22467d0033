#!/usr/bin/env bash
# Installs headless Chromium for the dashboard's browser tests
# (internal/dashboard, TestBrowser, driven by github.com/chromedp/chromedp):
# Debian's chromium package. Idempotent: does nothing when chromium is on
# PATH already. Without it the browser tests skip, unless CI=true (then
# they fail).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update
fi
if ! $SUDO apt-get install -y --no-install-recommends chromium; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
fi

command -v chromium
