#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow linter) for test/deploy/workflows.tools.test.ts.
# Built from its Go module with the machine's Go and cached in $(go env GOPATH)/bin (~/go/bin):
# a later run with the same version does nothing. shellcheck (Debian) is installed too, so that
# actionlint also checks the `run:` scripts the same way on every machine.
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
bin_dir="$(go env GOPATH)/bin"
bin="$bin_dir/actionlint"

if [ -x "$bin" ] && [ "$("$bin" -version 2>/dev/null | head -n1)" = "$ACTIONLINT_VERSION" ]; then
  echo "actionlint: $bin $ACTIONLINT_VERSION (cached)"
else
  go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
  echo "actionlint: $bin $("$bin" -version | head -n1)"
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends shellcheck >/dev/null 2>&1; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends shellcheck
  fi
fi
echo "shellcheck: $(shellcheck --version | sed -n 's/^version: //p')"
