#!/usr/bin/env bash
# MongoDB wire protocol on loopback: FerretDB v1 (Apache-2.0) with its SQLite backend, built
# from the Go module proxy. No MongoDB server binary is in any registry reachable here.
#
#   bash scripts/engines/ferretdb.sh install|start|stop|status|env|ping
#
# Env: FERRETDB_VERSION (1.24.2), MONGODB_PORT (27017),
#      FERRETDB_DEBUG_PORT (27080: FerretDB's HTTP debug/metrics/readyz handlers).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FERRETDB_VERSION="${FERRETDB_VERSION:-1.24.2}"
MONGODB_PORT="${MONGODB_PORT:-27017}"
FERRETDB_DEBUG_PORT="${FERRETDB_DEBUG_PORT:-27080}"

FDB_HOME="$UGC_ENGINES_DIR/ferretdb/$FERRETDB_VERSION"
FDB_BIN="$FDB_HOME/bin/ferretdb"
FDB_RUN="$UGC_ENGINES_RUN/ferretdb"
FDB_PIDFILE="$FDB_RUN/ferretdb.pid"
FDB_LOG="$FDB_RUN/ferretdb.log"
# Matched against /proc/PID/cmdline to recognise our process.
FDB_PATTERN="--state-dir=$FDB_RUN"

# Go's module and build caches live in the cache dir too, so a second install on the same
# machine (e.g. a new version) is offline and fast. -modcacherw keeps the module cache
# deletable with a plain rm -rf. GOTOOLCHAIN=local: never download another Go toolchain.
go_env() {
  export GOPATH="$UGC_ENGINES_DIR/go"
  export GOMODCACHE="$GOPATH/pkg/mod"
  export GOCACHE="$UGC_ENGINES_DIR/go-build"
  export GOFLAGS="-modcacherw"
  export GOTOOLCHAIN=local
  export CGO_ENABLED=0
}

cmd_install() {
  if [ -x "$FDB_BIN" ] && "$FDB_BIN" --version >/dev/null 2>&1; then
    log "ferretdb: $FERRETDB_VERSION already built at $FDB_BIN"
    return 0
  fi
  command -v go >/dev/null || die "ferretdb: Go is required to build FerretDB"
  go_env
  log "ferretdb: building github.com/FerretDB/FerretDB v$FERRETDB_VERSION (first time: ~1-2 min)"
  # `go install .../cmd/ferretdb@vX` builds, but the binary panics at start: FerretDB embeds
  # build/version/version.txt, which its release tooling generates and the module lacks.
  # So: download the module, copy it to a writable dir, write version.txt, build there.
  local src_dir work="$FDB_HOME.tmp"
  src_dir="$(go mod download -json "github.com/FerretDB/FerretDB@v$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  if [ -z "$src_dir" ] || [ ! -d "$src_dir" ]; then
    die "ferretdb: go mod download of v$FERRETDB_VERSION failed"
  fi
  rm -rf "$work"
  mkdir -p "$work/bin"
  cp -R "$src_dir" "$work/src"
  chmod -R u+w "$work/src"
  echo "v$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
  echo "ugc-engines" >"$work/src/build/version/package.txt"
  # The SQLite backend is pure Go (modernc.org/sqlite) and built in by default
  # (build tag ferretdb_no_sqlite would remove it), so no cgo and no extra tags.
  (cd "$work/src" && go build -trimpath -o "$work/bin/ferretdb" ./cmd/ferretdb) ||
    die "ferretdb: go build failed"
  "$work/bin/ferretdb" --version >/dev/null || die "ferretdb: built binary does not run"
  # Keep only the binary: the source copy is ~20 MB and the module cache has it anyway.
  rm -rf "$work/src" "$FDB_HOME"
  mv "$work" "$FDB_HOME"
  log "ferretdb: built $FDB_BIN"
}

# A real MongoDB round trip without any client installed: send the wire-protocol command
# {ping: 1, $db: "admin"} as an OP_MSG over bash's /dev/tcp and look for {ok: 1.0} in the
# reply. (`ferretdb ping` cannot be used: in v1 it insists on SCRAM credentials.)
#   header: messageLength=51, requestID=1, responseTo=0, opCode=2013 (OP_MSG)
#   flagBits=0, section kind 0, BSON document of 30 bytes:
#     0x10 "ping" int32 1 | 0x02 "$db" int32 6 "admin\0" | 0x00
ping_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$MONGODB_PORT" || exit 1
    printf '\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00' >&3
    printf '\x00\x00\x00\x00\x00\x1e\x00\x00\x00' >&3
    # shellcheck disable=SC2016 # "$db" is the literal BSON key, not a variable
    printf '\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00' >&3
    # The reply is tiny and arrives in one read. "ok" as a BSON double 1.0 is
    # 01 6f 6b 00 00 00 00 00 00 00 f0 3f.
    timeout 3 dd bs=65536 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n' |
      grep -q '016f6b00000000000000f03f'
  ) 2>/dev/null
}

cmd_start() {
  cmd_install
  if pid_running "$FDB_PIDFILE" "$FDB_PATTERN"; then
    log "ferretdb: already running (pid $(cat "$FDB_PIDFILE"))"
  else
    require_port_free ferretdb "$MONGODB_PORT"
    require_port_free ferretdb-debug "$FERRETDB_DEBUG_PORT"
    mkdir -p "$FDB_RUN/data"
    log "ferretdb: starting on mongodb://127.0.0.1:$MONGODB_PORT/ (SQLite data in $FDB_RUN/data)"
    # --telemetry=disable: FerretDB would otherwise try to report to its beacon server,
    # which is neither reachable nor wanted from CI.
    # --state-dir: FerretDB writes state.json there (default is the working directory).
    start_detached "$FDB_PIDFILE" "$FDB_LOG" "$FDB_BIN" \
      --handler=sqlite \
      --sqlite-url="file:$FDB_RUN/data/" \
      --listen-addr="127.0.0.1:$MONGODB_PORT" \
      --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
      --state-dir="$FDB_RUN" \
      --telemetry=disable \
      --log-level=info
  fi
  wait_until ferretdb "$FDB_PIDFILE" "$FDB_PATTERN" "$FDB_LOG" \
    "MongoDB ping on 127.0.0.1:$MONGODB_PORT" ping_ok
  log "ferretdb: ready at mongodb://127.0.0.1:$MONGODB_PORT/ (FerretDB $("$FDB_BIN" --version | sed -n 's/^version: //p'))"
}

cmd_stop() {
  stop_pid ferretdb "$FDB_PIDFILE" "$FDB_PATTERN" 15
}

cmd_status() {
  if pid_running "$FDB_PIDFILE" "$FDB_PATTERN" && ping_ok; then
    echo "ferretdb: running (pid $(cat "$FDB_PIDFILE")) at mongodb://127.0.0.1:$MONGODB_PORT/"
  else
    echo "ferretdb: not running"
    return 1
  fi
}

cmd_env() {
  echo "MONGODB_URL=mongodb://127.0.0.1:$MONGODB_PORT/"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  ping) ping_ok && echo "ferretdb: ping ok" ;;
  *)
    echo "usage: $0 install|start|stop|status|env|ping" >&2
    exit 2
    ;;
esac
