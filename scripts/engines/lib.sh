# shellcheck shell=bash
# Shared helpers for the engine scripts (kafka.sh, zookeeper.sh, opensearch.sh, clickhouse.sh,
# ferretdb.sh, up.sh, down.sh).
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
  # A listener inside the kernel's ephemeral range can find its port taken by any outgoing
  # connection (and a restarted engine cannot get it back): refuse it.
  local low high
  read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || { low=32768 high=60999; }
  if [ "$port" -ge "$low" ] && [ "$port" -le "$high" ]; then
    die "$name: port $port is in the ephemeral range $low-$high; pick one below $low"
  fi
  if port_open "$port"; then
    die "$name: port $port on 127.0.0.1 is already in use by another process (set the port env var or stop it)"
  fi
}

# --- Java engines from Maven Central (kafka.sh, zookeeper.sh, opensearch.sh) ---------------
# No distribution tarball is reachable here, only Maven Central. So an engine writes a
# throwaway pom naming what it needs and lets Maven resolve the transitive runtime classpath
# and copy the jars into the install dir. Maven's local repository lives in the cache dir
# (shared by all engines) so ~/.m2 is left alone.
UGC_MAVEN_REPO="$UGC_ENGINES_DIR/m2"

# maven_dep GROUP ARTIFACT [VERSION [EXCLUDED_GROUP:EXCLUDED_ARTIFACT...]] -> one <dependency>.
# An empty VERSION leaves it to a BOM imported in <dependencyManagement> (see maven_bom).
maven_dep() {
  local group="$1" artifact="$2" version="${3:-}" excl
  shift 2
  [ $# -eq 0 ] || shift
  printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId>' "$group" "$artifact"
  [ -z "$version" ] || printf '<version>%s</version>' "$version"
  if [ $# -gt 0 ]; then
    printf '\n      <exclusions>\n'
    for excl in "$@"; do
      printf '        <exclusion><groupId>%s</groupId><artifactId>%s</artifactId></exclusion>\n' "${excl%%:*}" "${excl#*:}"
    done
    printf '      </exclusions>\n    '
  fi
  printf '</dependency>\n'
}

# maven_bom GROUP ARTIFACT VERSION -> a <dependency> importing that pom's managed versions.
maven_bom() {
  printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version><type>pom</type><scope>import</scope></dependency>\n' "$1" "$2" "$3"
}

# maven_pom ARTIFACT_ID DEPENDENCIES_XML [DEPENDENCY_MANAGEMENT_XML] -> the throwaway pom.
maven_pom() {
  printf '<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n'
  printf '  <groupId>local.ugc-engines</groupId>\n  <artifactId>%s</artifactId>\n' "$1"
  printf '  <version>1</version>\n  <packaging>pom</packaging>\n'
  if [ -n "${3:-}" ]; then
    printf '  <dependencyManagement>\n    <dependencies>\n%s\n    </dependencies>\n  </dependencyManagement>\n' "$3"
  fi
  printf '  <dependencies>\n%s\n  </dependencies>\n</project>\n' "$2"
}

# maven_copy_deps NAME WHAT POM_FILE OUTPUT_DIR LOGFILE
# Copies the runtime classpath of POM_FILE into OUTPUT_DIR; on failure shows the Maven log and
# dies with "NAME: Maven could not resolve WHAT".
maven_copy_deps() {
  local name="$1" what="$2" pom="$3" out="$4" logfile="$5"
  if ! mvn -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$UGC_MAVEN_REPO" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out" \
    >"$logfile" 2>&1; then
    show_log_tail maven "$logfile" 40
    die "$name: Maven could not resolve $what"
  fi
}

# maven_installed NAME VERSION HOME -> 0 (and says so) if HOME holds a finished install.
maven_installed() {
  [ -f "$3/.complete" ] || return 1
  log "$1: $2 already installed in $3"
}

# maven_install_begin NAME JAVA_NEEDED HOME -> checks for java and mvn, and leaves an empty work
# dir HOME.tmp. The install is assembled there and only moved to HOME by maven_install_finish,
# so an interrupted install is never mistaken for a finished one.
maven_install_begin() {
  local name="$1" java_needed="$2" home="$3"
  command -v java >/dev/null || die "$name: java ($java_needed) is required"
  command -v mvn >/dev/null || die "$name: mvn is required to fetch the jars from Maven Central"
  rm -rf "$home.tmp"
  mkdir -p "$home.tmp"
}

# maven_install_finish HOME -> marks HOME.tmp complete and moves it to HOME.
maven_install_finish() {
  local home="$1"
  touch "$home.tmp/.complete"
  rm -rf "$home"
  mv "$home.tmp" "$home"
}

# maven_classpath NAME VERSION JAVA_NEEDED HOME WHAT REQUIRED_JAR DEPENDENCIES_XML [DEPENDENCY_MANAGEMENT_XML]
# The whole install of an engine that is one classpath: unless HOME is complete already, writes
# HOME/pom.xml (artifact NAME-runtime), copies its runtime jars into HOME/libs (Maven log in
# HOME/maven.log) and checks that REQUIRED_JAR (a file name, glob allowed) is among them.
# WHAT (group:artifact:version) is only for the messages.
maven_classpath() {
  local name="$1" version="$2" java_needed="$3" home="$4" what="$5" required="$6"
  maven_installed "$name" "$version" "$home" && return 0
  maven_install_begin "$name" "$java_needed" "$home"
  log "$name: fetching $what and its dependencies with Maven"
  local work="$home.tmp"
  maven_pom "$name-runtime" "$7" "${8:-}" >"$work/pom.xml"
  maven_copy_deps "$name" "$what" "$work/pom.xml" "$work/libs" "$work/maven.log"
  # shellcheck disable=SC2086 # REQUIRED_JAR may be a glob
  ls "$work/libs"/$required >/dev/null 2>&1 || die "$name: $required missing after Maven run"
  maven_install_finish "$home"
  log "$name: installed $(find "$home/libs" -name "*.jar" | wc -l) jars into $home/libs"
}
