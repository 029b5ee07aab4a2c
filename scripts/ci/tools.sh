#!/usr/bin/env bash
# The tools `npm test` runs for real besides Node: Debian's nginx (the shipped proxy config is
# tested in front of the service) and actionlint + shellcheck (the GitHub workflows and shell
# scripts are linted). Idempotent and quick once installed; `npm test` calls it first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/nginx.sh"
bash "$here/actionlint.sh"
