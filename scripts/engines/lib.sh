# shellcheck shell=bash
# Shared helpers for the engine scripts (kafka.sh, clickhouse.sh, ferretdb.sh, up.sh, down.sh).
# Sourced, never run. Machines here have no Docker: every engine is installed from a package
# registry into a cache dir outside the repo and run as a detached process on loopback.

set -euo pipefail

# Everything downloaded or built lives here and is reused by later runs.
UGC_ENGINES_DIR="${UGC_ENGINES_DIR:-$HOME/.cache/ugc-engines}"
# Data, logs, generated configs and pid files of the running engines (down.sh wipes it).
UGC_ENGINES_RUN="${UGC_ENGINES_RUN:-$UGC_ENGINES_DIR/run}"
# How long an engine may take to answer after start before we give up (seconds).
ENGINE_START_TIMEOUT="${ENGINE_START_TIMEOUT:-120}"

export UGC_ENGINES_DIR UGC_ENGINES_RUN

log() { printf '[engines] %s\n' "$*" >&2; }
die() {
  printf '[engines] ERROR: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: CI and dev machines are root already; elsewhere try sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# port_open PORT [HOST] -> 0 if something accepts TCP connections there.
# Uses bash's /dev/tcp so it needs no nc/ss; the subshell closes the socket again.
port_open() {
  local port="$1" host="${2:-127.0.0.1}"
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# pid_running PIDFILE PATTERN -> 0 if the pid in PIDFILE is alive and its command line
# contains PATTERN. The pattern check guards against a stale pid file whose number was
# reused by an unrelated process (e.g. after a reboot).
pid_running() {
  local pidfile="$1" pattern="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# start_detached PIDFILE LOGFILE CMD [ARGS...]
# Starts CMD in its own session (setsid) with stdin closed and output in LOGFILE, so it
# outlives the calling shell (npm script, CI step) and ignores its hangups. The wrapper
# shell writes its own pid and then execs CMD, so the pid file holds the engine's real pid
# (which is also its process-group id, used by stop_pid).
start_detached() {
  local pidfile="$1" logfile="$2"
  shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  rm -f "$pidfile"
  # Keep the previous run's log for post-mortems, but start a fresh one so readiness checks
  # that look for a log line cannot be fooled by the last run's output.
  if [ -f "$logfile" ]; then mv -f "$logfile" "$logfile.prev"; fi
  # shellcheck disable=SC2016 # $$ and $@ are for the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null &
  # Wait briefly for the pid file so callers can rely on it.
  local i
  for ((i = 0; i < 50; i++)); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start $1 (no pid file $pidfile)"
}

# stop_pid NAME PIDFILE PATTERN [GRACE_SECONDS]
# Sends TERM to the engine's process group, waits for a clean shutdown, then KILLs.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" grace="${4:-30}" pid i
  if ! pid_running "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    log "$name: not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  log "$name: stopping (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${grace}s, sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
  log "$name: stopped"
}

# show_log_tail NAME LOGFILE [LINES] -> prints the end of an engine log to stderr.
show_log_tail() {
  local name="$1" logfile="$2" lines="${3:-60}"
  if [ -f "$logfile" ]; then
    printf '[engines] ----- last %s lines of %s -----\n' "$lines" "$logfile" >&2
    tail -n "$lines" "$logfile" >&2 || true
    printf '[engines] ----- end of %s log -----\n' "$name" >&2
  else
    log "$name: no log file at $logfile"
  fi
}

# wait_until NAME PIDFILE PATTERN LOGFILE DESCRIPTION CMD [ARGS...]
# Polls CMD once a second until it succeeds, the engine process dies (fail fast), or
# ENGINE_START_TIMEOUT passes. On failure prints the log tail, stops the engine and exits
# non-zero.
wait_until() {
  local name="$1" pidfile="$2" pattern="$3" logfile="$4" what="$5"
  shift 5
  local deadline=$((SECONDS + ENGINE_START_TIMEOUT))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! pid_running "$pidfile" "$pattern"; then
      show_log_tail "$name" "$logfile"
      die "$name: process exited while waiting for: $what"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_log_tail "$name" "$logfile"
      # Do not leave a half-started engine behind: the next start begins clean.
      stop_pid "$name" "$pidfile" "$pattern" 10
      die "$name: no answer within ${ENGINE_START_TIMEOUT}s: $what"
    fi
    sleep 1
  done
}

# require_port_free NAME PORT -> fails loudly if another process already listens there,
# instead of starting an engine that would die on "address already in use".
require_port_free() {
  local name="$1" port="$2"
  case "$port" in
    '' | *[!0-9]*) die "$name: port '$port' is not a number" ;;
  esac
  if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "$name: port $port is out of range"; fi
  if port_open "$port"; then
    die "$name: port $port on 127.0.0.1 is already in use by another process (set the port env var or stop it)"
  fi
}
