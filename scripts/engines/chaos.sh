#!/usr/bin/env bash
# The chaos suite's own engines (test/chaos): a 3-node Kafka cluster (KRaft, rf 3,
# min.insync.replicas 2, as deploy/) and one ClickHouse server, on ports and in a run dir of
# their own, so faults injected into them never touch the shared engines of up.sh.
#
#   bash scripts/engines/chaos.sh up|down|env|status
#   bash scripts/engines/chaos.sh kafka|clickhouse CMD   # kafka.sh / clickhouse.sh CMD with this env
#                                                        # (e.g. `kafka start` restarts a killed node)
#
# Env: CHAOS_ENGINES_RUN (run dir; default $UGC_ENGINES_DIR/run-chaos), CHAOS_KAFKA_PORT (9192;
# nodes on 9192..9194), CHAOS_KAFKA_CONTROLLER_PORT (19192..19194), CHAOS_CLICKHOUSE_HTTP_PORT
# (8323), CHAOS_CLICKHOUSE_TCP_PORT (9400), CHAOS_CLICKHOUSE_INTERSERVER_PORT (9409),
# CHAOS_PROXY_PORT (unset; the suite sets 9292: nodes advertise 9292..9294, its proxies). Every port
# must be below the ephemeral range (lib.sh refuses the others). UGC_ENGINES_DIR (the install
# cache) is shared with up.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UGC_ENGINES_DIR="${UGC_ENGINES_DIR:-$HOME/.cache/ugc-engines}"
export UGC_ENGINES_DIR
export UGC_ENGINES_RUN="${CHAOS_ENGINES_RUN:-$UGC_ENGINES_DIR/run-chaos}"
export KAFKA_NODES=3
export KAFKA_PORT="${CHAOS_KAFKA_PORT:-9192}"
export KAFKA_CONTROLLER_PORT="${CHAOS_KAFKA_CONTROLLER_PORT:-19192}"
export KAFKA_HEAP="${CHAOS_KAFKA_HEAP:--Xmx384m -Xms128m}"
# Set by the suite, which runs a TCP proxy per node there (its network fault); unset, the nodes
# advertise their own ports.
if [ -n "${CHAOS_PROXY_PORT:-}" ]; then export KAFKA_ADVERTISED_PORT="$CHAOS_PROXY_PORT"; fi
export CLICKHOUSE_SHARDS=1
export CLICKHOUSE_HTTP_PORT="${CHAOS_CLICKHOUSE_HTTP_PORT:-8323}"
export CLICKHOUSE_TCP_PORT="${CHAOS_CLICKHOUSE_TCP_PORT:-9400}"
export CLICKHOUSE_INTERSERVER_PORT="${CHAOS_CLICKHOUSE_INTERSERVER_PORT:-9409}"
# The suite's warehouse is not replicated; point the (unused) ZooKeeper setting away from the shared one.
export ZOOKEEPER_PORT="${CHAOS_ZOOKEEPER_PORT:-2281}"

cmd_env() {
  bash "$here/kafka.sh" env
  bash "$here/clickhouse.sh" env
  echo "CHAOS_ENGINES_RUN=$UGC_ENGINES_RUN"
}

case "${1:-}" in
  up)
    bash "$here/kafka.sh" start
    bash "$here/clickhouse.sh" start
    mkdir -p "$UGC_ENGINES_RUN"
    cmd_env >"$UGC_ENGINES_RUN/engines.env"
    cmd_env
    ;;
  down) bash "$here/down.sh" kafka clickhouse ;;
  env) cmd_env ;;
  status)
    bash "$here/kafka.sh" status
    bash "$here/clickhouse.sh" status
    ;;
  kafka | clickhouse)
    script="$1.sh"
    shift
    bash "$here/$script" "$@"
    ;;
  *)
    echo "usage: $0 up|down|env|status|kafka CMD|clickhouse CMD" >&2
    exit 2
    ;;
esac
