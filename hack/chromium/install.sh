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

. "$(dirname "$0")/../lib/apt.sh"
apt_install chromium
command -v chromium
