#!/usr/bin/env bash
# Installs what `npm run test:browser` drives for real: Debian's Chromium (headless, through
# playwright-core's executablePath) and ffmpeg (the tests generate the demo page's video clip).
# Idempotent: does nothing when both are already there. .ci/run calls it before the browser tests.
set -euo pipefail

if [ -x /usr/bin/chromium ] && command -v ffmpeg >/dev/null 2>&1; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present); ffmpeg: $(ffmpeg -version | head -n 1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# The package lists may be missing or stale on a fresh machine: update once, only if needed.
if ! $SUDO apt-get install -y --no-install-recommends chromium ffmpeg >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends chromium ffmpeg
fi
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed); ffmpeg: $(ffmpeg -version | head -n 1)"
