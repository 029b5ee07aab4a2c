#!/usr/bin/env bash
# The tools `npm run test:deploy` runs for real besides Node, installed by its `pretest:deploy`
# (and by .github/workflows/ci.yml): Debian's nginx (the shipped proxy config in front of the
# service), actionlint (the GitHub workflows; built with Go) and Debian's shellcheck (every shell
# script, and the workflows' `run:` scripts through actionlint). nginx and shellcheck come from
# apt-get, so this needs Debian or Ubuntu with root or sudo; actionlint needs Go on the PATH.
# Idempotent and quick once installed. `npm test` needs none of this.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/nginx.sh"
bash "$here/shellcheck.sh"
bash "$here/actionlint.sh"
