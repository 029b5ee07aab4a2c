#!/usr/bin/env bash
# Proves the README's promise that `npm test` needs Node and nothing else: runs it with a PATH
# that holds only node (the project's node@24), npm, npx and sh (the shell npm runs scripts
# with), after checking that none of apt-get, go, nginx, sudo, python3, bash, git, shellcheck
# can be found on that PATH. Run after `npm install`; .ci/run and ci.yml run it as their
# `npm test` step. Exits with npm test's status.
set -euo pipefail
cd "$(dirname "$0")/../.."

node_bin="$(npm exec --offline -- node -p process.execPath)"
# npm's own launchers (bin/npm-cli.js, bin/npx-cli.js), wherever the npm on the PATH links to.
npm_cli="$(readlink -f "$(command -v npm)")"
npx_cli="$(dirname "$npm_cli")/npx-cli.js"
sh_bin="$(command -v sh)"

bin="$(mktemp -d "${TMPDIR:-/tmp}/ugc-node-only.XXXXXX")"
trap 'rm -rf "$bin"' EXIT
ln -s "$node_bin" "$bin/node"
# npm's launchers are `#!/usr/bin/env node` scripts: they find the node above on this PATH.
ln -s "$npm_cli" "$bin/npm"
ln -s "$npx_cli" "$bin/npx"
ln -s "$sh_bin" "$bin/sh"

for tool in apt-get go nginx sudo python3 bash git shellcheck actionlint; do
  # A fresh sh with only that PATH: no inherited hash table can answer for it.
  if PATH="$bin" "$sh_bin" -c 'command -v "$1"' _ "$tool" >/dev/null 2>&1; then
    echo "node-only.sh: $tool is reachable on the test PATH ($bin); it must not be" >&2
    exit 1
  fi
done

echo "node-only.sh: npm test with PATH=$bin ($(ls "$bin" | tr '\n' ' '); node $("$bin/node" --version))"
started=$SECONDS
PATH="$bin" npm test
echo "node-only.sh: npm test passed with Node only in $((SECONDS - started)) s"
