#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the desk's browser tests (Playwright drives it by path;
# `playwright install` is never run: it downloads browsers from a CDN). Idempotent: does nothing when present.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Chromium is not installed and this user cannot install it: run 'sudo apt-get install chromium'" >&2
  exit 2
fi
echo "installing Chromium from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
