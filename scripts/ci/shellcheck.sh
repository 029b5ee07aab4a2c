#!/usr/bin/env bash
# Installs Debian's shellcheck for test/deploy/shell.tools.test.ts (every shell script of the
# repository) and for actionlint, which runs it on the workflows' `run:` scripts when it is on the
# PATH. Idempotent: does nothing when shellcheck is already there. Needs apt-get (Debian or
# Ubuntu) and root or sudo.
set -euo pipefail

if ! command -v shellcheck >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: update once, only if needed.
  if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends shellcheck >/dev/null 2>&1; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends shellcheck
  fi
fi
echo "shellcheck: $(shellcheck --version | sed -n 's/^version: //p')"
