#!/usr/bin/env bash
# Installs Debian's nginx for test/deploy/nginx.tools.test.ts, which runs the shipped deploy/nginx config
# for real in front of the embedded service. Idempotent: does nothing when nginx is already there.
# Only the binary is needed: the package's own service is stopped and disabled so that nothing
# listens on port 80 behind the tests' back.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "nginx: $( (nginx -v || /usr/sbin/nginx -v) 2>&1 )"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package's postinst must not start the daemon (no init system in CI anyway).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

# The package lists may be missing or stale on a fresh machine: update once, only if needed.
if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends nginx >/dev/null 2>&1; then
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends nginx
fi
echo "nginx: $(/usr/sbin/nginx -v 2>&1)"
