#!/usr/bin/env bash
# Schemathesis (https://schemathesis.readthedocs.io) against the running service's own
# /openapi.json, every check, with a user token on the user routes and an admin token on the
# admin ones; exits non-zero on any failure. The service runs embedded (`serve`) on a free
# port with a temporary DATA_DIR; the venv is cached outside the repository. Every /api/v1
# operation declares the bearer scheme, so the `ignored_auth` check also sends each one without
# the header and expects the 401.
#   SCHEMATHESIS_MAX_EXAMPLES (default 40) bounds the cases per operation and so the run time.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=4.32.5
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/ugc-schemathesis/venv-$VERSION"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

# Node 24 from node_modules when the system's is older (as `npm run` arranges).
NODE="node"
[ -x node_modules/.bin/node ] && NODE="$(pwd)/node_modules/.bin/node"

DATA="$(mktemp -d -t ugc-fuzz-XXXXXX)"
LOG="$DATA/service.log"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

export DATA_DIR="$DATA/data" HOST=127.0.0.1 PORT=0 LOG_LEVEL=info RATE_LIMIT_MAX=0 ETL_BATCH_MAX_WAIT_MS=200
AUTH_JWT_SECRET="$("$NODE" -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))')"
export AUTH_JWT_SECRET
mkdir -p "$DATA_DIR"
"$NODE" src/main.ts serve >"$LOG" 2>&1 &
PID=$!

URL=""
for _ in $(seq 1 300); do
  URL="$(grep -o '"listen_url":"[^"]*"' "$LOG" | head -1 | cut -d'"' -f4 || true)"
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "the service exited before listening" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$LOG"; echo "the service did not listen within 30 s" >&2; exit 1; }

USER_TOKEN="$("$NODE" src/main.ts token --user fuzz_user)"
ADMIN_TOKEN="$("$NODE" src/main.ts token --user fuzz_admin --admin)"
EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
COMMON=(--checks all --max-examples "$EXAMPLES" --workers 1 --seed "${SCHEMATHESIS_SEED:-7}" --no-color
  --generation-database none --request-timeout 10 --suppress-health-check "too_slow,filter_too_much")

# Run from the temp dir: Schemathesis keeps a `.schemathesis/` cache in its working directory.
CONFIG="$(pwd)/scripts/schemathesis.toml"
status=0
(cd "$DATA" && "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$URL/openapi.json" "${COMMON[@]}" \
  -H "Authorization: Bearer $USER_TOKEN" --exclude-tag topics --exclude-tag analytics) || status=1
(cd "$DATA" && "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$URL/openapi.json" "${COMMON[@]}" \
  -H "Authorization: Bearer $ADMIN_TOKEN" --include-tag topics --include-tag analytics) || status=1

if ! kill -0 "$PID" 2>/dev/null; then echo "the service died during the run" >&2; status=1; fi
if grep -q '"log.level":"error"\|"log.level":"fatal"' "$LOG"; then
  echo "the service logged errors during the run:" >&2
  grep '"log.level":"error"\|"log.level":"fatal"' "$LOG" | head -20 >&2
  status=1
fi
exit "$status"
