#!/usr/bin/env bash
# Installs actionlint (the GitHub Actions workflow linter) for test/deploy/workflows.tools.test.ts.
# Built from its Go module with the machine's Go (needs `go` on the PATH) and cached in
# $(go env GOPATH)/bin (~/go/bin): a later run with the same version does nothing. actionlint
# also checks the `run:` scripts with shellcheck, which scripts/ci/shellcheck.sh installs.
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
if ! command -v go >/dev/null 2>&1; then
  echo "actionlint.sh: Go is needed to build actionlint (go install); install Go (https://go.dev/doc/install) and put it on the PATH" >&2
  exit 1
fi
bin_dir="$(go env GOPATH)/bin"
bin="$bin_dir/actionlint"

if [ -x "$bin" ] && [ "$("$bin" -version 2>/dev/null | head -n1)" = "$ACTIONLINT_VERSION" ]; then
  echo "actionlint: $bin $ACTIONLINT_VERSION (cached)"
else
  go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}"
  echo "actionlint: $bin $("$bin" -version | head -n1)"
fi
