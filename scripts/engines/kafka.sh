#!/usr/bin/env bash
# Apache Kafka 4.x in KRaft mode (no ZooKeeper) on loopback, from Maven Central jars.
#
#   bash scripts/engines/kafka.sh install|start|stop|status|env
#   bash scripts/engines/kafka.sh topics --list          # TopicCommand, bootstrap server filled in
#   bash scripts/engines/kafka.sh run-class CLASS [ARGS] # any Kafka CLI class from the same jars
#
# Env: KAFKA_VERSION (4.4.0), KAFKA_NODES (1; N nodes = N combined broker+controller
# processes and an N-voter quorum), KAFKA_PORT (9092; node i listens on KAFKA_PORT+i),
# KAFKA_CONTROLLER_PORT (19092; node i's controller listener on KAFKA_CONTROLLER_PORT+i),
# KAFKA_HEAP (-Xmx512m -Xms256m, per node), KAFKA_ADVERTISED_PORT (KAFKA_PORT; node i tells
# clients and the other brokers to reach it on KAFKA_ADVERTISED_PORT+i: the chaos suite puts a
# TCP proxy there to cut a broker off the network; that proxy must be up before `start`).
#
# There is no Kafka distribution tarball reachable here, only Maven Central, so the broker is
# assembled from the `kafka_2.13` artifact (kafka.Kafka, kafka.tools.StorageTool) plus
# `kafka-tools` (TopicCommand etc.) and run with `java -cp libs/*` like bin/kafka-run-class.sh.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_NODES="${KAFKA_NODES:-1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19092}"
KAFKA_ADVERTISED_PORT="${KAFKA_ADVERTISED_PORT:-$KAFKA_PORT}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
# log4j2 binding for Kafka's slf4j 1.7 API: the Maven artifacts leave the binding to the
# distribution, and without one the broker would log nothing at all.
LOG4J_VERSION="${LOG4J_VERSION:-2.25.5}"

KAFKA_HOME="$UGC_ENGINES_DIR/kafka/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_RUN="$UGC_ENGINES_RUN/kafka"

case "$KAFKA_NODES" in
  '' | *[!0-9]* | 0) die "KAFKA_NODES must be a positive integer (got '$KAFKA_NODES')" ;;
esac

node_port() { echo $((KAFKA_PORT + $1)); }
controller_port() { echo $((KAFKA_CONTROLLER_PORT + $1)); }
node_dir() { echo "$KAFKA_RUN/node$(($1 + 1))"; }
node_pidfile() { echo "$(node_dir "$1")/kafka.pid"; }
node_log() { echo "$(node_dir "$1")/server.log"; }
# Matched against /proc/PID/cmdline: unique per node because it holds the node's config path.
node_pattern() { echo "$(node_dir "$1")/server.properties"; }

bootstrap_servers() {
  local i out=""
  for ((i = 0; i < KAFKA_NODES; i++)); do out="${out:+$out,}127.0.0.1:$(node_port "$i")"; done
  echo "$out"
}

# A throwaway pom only to let Maven resolve the transitive runtime classpath (lib.sh).
# connect-runtime (Jetty/Jersey) comes with kafka-tools but no tool we use needs it.
cmd_install() {
  maven_classpath kafka "$KAFKA_VERSION" 17+ "$KAFKA_HOME" \
    "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" 'kafka_2.13-*.jar' "$(
      maven_dep org.apache.kafka kafka_2.13 "$KAFKA_VERSION"
      maven_dep org.apache.kafka kafka-tools "$KAFKA_VERSION" org.apache.kafka:connect-runtime
      maven_dep org.apache.logging.log4j log4j-slf4j-impl "$LOG4J_VERSION"
    )"
}

# Log4j2 configs: the broker logs INFO to its server.log (stdout is redirected there);
# CLI tools print only warnings so their output stays parseable.
write_log4j_configs() {
  mkdir -p "$KAFKA_RUN"
  cat >"$KAFKA_RUN/log4j2-server.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
# The request/state-change loggers are very chatty at INFO and useless for tests.
logger.kafka-request.name = kafka.request.logger
logger.kafka-request.level = warn
logger.state-change.name = state.change.logger
logger.state-change.level = warn
EOF
  cat >"$KAFKA_RUN/log4j2-tools.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

# run_class CLASS [ARGS...]: like bin/kafka-run-class.sh, for the CLI tools.
run_class() {
  [ -f "$KAFKA_HOME/.complete" ] || die "kafka: not installed (run: $0 install)"
  [ -f "$KAFKA_RUN/log4j2-tools.properties" ] || write_log4j_configs
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

write_node_config() {
  local i="$1" dir voters="" j rf min_isr
  dir="$(node_dir "$i")"
  for ((j = 0; j < KAFKA_NODES; j++)); do
    voters="${voters:+$voters,}$((j + 1))@127.0.0.1:$(controller_port "$j")"
  done
  # Internal topics need rf <= number of brokers; with 3+ nodes use the usual rf 3 / min.isr 2
  # so the cluster behaves like production in fault tests.
  rf=$((KAFKA_NODES < 3 ? KAFKA_NODES : 3))
  min_isr=$((rf > 1 ? 2 : 1))
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Generated by scripts/engines/kafka.sh for a local test cluster; do not edit by hand.
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(node_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$((KAFKA_ADVERTISED_PORT + i))
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data

# Tests must create their topics explicitly, as production does.
auto.create.topics.enable=false
num.partitions=4
default.replication.factor=$rf
# As in deploy/docker-compose.yml: with 3+ nodes acks=all means two copies, and a replica that
# is out of sync never becomes leader (no acknowledged write is lost to an election).
min.insync.replicas=$min_isr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
# Fewer partitions than the default 50 make the first consumer group start much faster.
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
# Consumers in tests should get their partitions at once, not after 3 s.
group.initial.rebalance.delay.ms=0

# Small footprint: the machine has 2 cores and runs three engines plus the tests.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
}

cmd_start() {
  cmd_install
  mkdir -p "$KAFKA_RUN"
  write_log4j_configs

  # A data dir formatted for another node count (or an older cluster) cannot be reused:
  # the quorum voters are part of the formatted metadata. Test data is disposable, so wipe.
  local layout="version=$KAFKA_VERSION nodes=$KAFKA_NODES port=$KAFKA_PORT controller=$KAFKA_CONTROLLER_PORT"
  # Only when set apart, so that clusters formatted before the setting existed keep their layout.
  [ "$KAFKA_ADVERTISED_PORT" = "$KAFKA_PORT" ] || layout="$layout advertised=$KAFKA_ADVERTISED_PORT"
  local i any_running=0
  for ((i = 0; i < KAFKA_NODES; i++)); do
    pid_running "$(node_pidfile "$i")" "$(node_pattern "$i")" && any_running=1
  done
  if [ -f "$KAFKA_RUN/layout" ] && [ "$(cat "$KAFKA_RUN/layout")" != "$layout" ]; then
    [ "$any_running" -eq 0 ] || die "kafka: running with another layout ($(cat "$KAFKA_RUN/layout")); run down.sh first"
    log "kafka: layout changed ($(cat "$KAFKA_RUN/layout") -> $layout), wiping old data"
    cmd_stop_all_nodes
    rm -rf "$KAFKA_RUN"/node* "$KAFKA_RUN/cluster.id"
  fi
  echo "$layout" >"$KAFKA_RUN/layout"

  # One cluster id shared by all nodes: 16 random bytes, base64url without padding, which
  # is what `kafka-storage random-uuid` prints (saves a JVM start).
  if [ ! -s "$KAFKA_RUN/cluster.id" ]; then
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$KAFKA_RUN/cluster.id"
  fi
  local cluster_id
  cluster_id="$(cat "$KAFKA_RUN/cluster.id")"

  for ((i = 0; i < KAFKA_NODES; i++)); do
    local pidfile logfile dir
    pidfile="$(node_pidfile "$i")"
    logfile="$(node_log "$i")"
    dir="$(node_dir "$i")"
    if pid_running "$pidfile" "$(node_pattern "$i")"; then
      log "kafka: node $((i + 1)) already running (pid $(cat "$pidfile"))"
      continue
    fi
    require_port_free kafka "$(node_port "$i")"
    require_port_free kafka-controller "$(controller_port "$i")"
    write_node_config "$i"
    if [ ! -f "$dir/data/meta.properties" ]; then
      log "kafka: formatting storage of node $((i + 1)) (cluster $cluster_id)"
      run_class kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id="$cluster_id" -c "$dir/server.properties" >>"$dir/format.log" 2>&1 ||
        {
          show_log_tail kafka "$dir/format.log"
          die "kafka: storage format failed"
        }
    fi
    log "kafka: starting node $((i + 1)) on 127.0.0.1:$(node_port "$i") (controller :$(controller_port "$i"))"
    # shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM flags on purpose
    start_detached "$pidfile" "$logfile" \
      java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_RUN/log4j2-server.properties" \
      -Dkafka.logs.dir="$dir" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
  done

  for ((i = 0; i < KAFKA_NODES; i++)); do
    wait_until kafka "$(node_pidfile "$i")" "$(node_pattern "$i")" "$(node_log "$i")" \
      "node $((i + 1)) listening on 127.0.0.1:$(node_port "$i")" \
      node_started "$i"
  done
  # A real metadata round trip: every node must be registered and unfenced, otherwise
  # creating a topic with replication factor N would still fail.
  wait_until kafka "$(node_pidfile 0)" "$(node_pattern 0)" "$(node_log 0)" \
    "all $KAFKA_NODES broker(s) unfenced in cluster metadata" \
    brokers_unfenced
  log "kafka: ready at $(bootstrap_servers)"
}

node_started() {
  port_open "$(node_port "$1")" && grep -q 'Kafka Server started' "$(node_log "$1")"
}

brokers_unfenced() {
  local out n
  out="$(run_class org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$(bootstrap_servers)" 2>/dev/null)" || return 1
  n="$(grep -c 'isFenced: false' <<<"$out" || true)"
  [ "$n" -ge "$KAFKA_NODES" ]
}

# Stops every node we have a pid file for, whatever KAFKA_NODES says now.
cmd_stop_all_nodes() {
  local pidfile dir
  # TERM all nodes at once: stopped one by one, the last node of a multi-node quorum
  # loses its majority and hangs in controlled shutdown until it is KILLed.
  for pidfile in "$KAFKA_RUN"/node*/kafka.pid; do
    [ -e "$pidfile" ] || continue
    dir="$(dirname "$pidfile")"
    if pid_running "$pidfile" "$dir/server.properties"; then
      kill -TERM -- "-$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  for pidfile in "$KAFKA_RUN"/node*/kafka.pid; do
    [ -e "$pidfile" ] || continue
    dir="$(dirname "$pidfile")"
    stop_pid "kafka $(basename "$dir")" "$pidfile" "$dir/server.properties" 20
  done
}

cmd_stop() {
  cmd_stop_all_nodes
}

cmd_status() {
  local i rc=0
  for ((i = 0; i < KAFKA_NODES; i++)); do
    if pid_running "$(node_pidfile "$i")" "$(node_pattern "$i")" && port_open "$(node_port "$i")"; then
      echo "kafka node $((i + 1)): running (pid $(cat "$(node_pidfile "$i")")) on 127.0.0.1:$(node_port "$i")"
    else
      echo "kafka node $((i + 1)): not running"
      rc=1
    fi
  done
  return "$rc"
}

cmd_env() {
  echo "KAFKA_BROKERS=$(bootstrap_servers)"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  topics)
    shift
    run_class org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap_servers)" "$@"
    ;;
  run-class)
    shift
    run_class "$@"
    ;;
  *)
    echo "usage: $0 install|start|stop|status|env|topics ARGS|run-class CLASS ARGS" >&2
    exit 2
    ;;
esac
