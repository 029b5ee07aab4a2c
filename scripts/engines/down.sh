#!/usr/bin/env bash
# Stops the engines started by up.sh and deletes their data, logs and configs (the run
# dir), so the next up.sh starts from empty engines. The install cache is kept.
#
#   bash scripts/engines/down.sh                 # all engines
#   bash scripts/engines/down.sh kafka           # only those named
#   KEEP_DATA=1 bash scripts/engines/down.sh     # stop but keep data and logs
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

engines=("$@")
# ZooKeeper last: ClickHouse would otherwise spend its shutdown reconnecting to it.
[ "${#engines[@]}" -gt 0 ] || engines=(kafka clickhouse ferretdb opensearch zookeeper)
# ... also when it is named before ClickHouse.
ordered=()
for e in "${engines[@]}"; do case "$e" in zookeeper | zk) ;; *) ordered+=("$e") ;; esac; done
for e in "${engines[@]}"; do case "$e" in zookeeper | zk) ordered+=("$e") ;; esac; done
engines=("${ordered[@]}")

for e in "${engines[@]}"; do
  case "$e" in
    kafka) script=kafka.sh dir=kafka ;;
    clickhouse) script=clickhouse.sh dir=clickhouse ;;
    ferretdb | mongodb | mongo) script=ferretdb.sh dir=ferretdb ;;
    zookeeper | zk) script=zookeeper.sh dir=zookeeper ;;
    opensearch) script=opensearch.sh dir=opensearch ;;
    *) die "unknown engine '$e' (known: kafka clickhouse ferretdb opensearch zookeeper)" ;;
  esac
  var="$(bash "$here/$script" env | cut -d= -f1)"
  bash "$here/$script" stop
  # engines.env lists running engines only.
  [ ! -f "$UGC_ENGINES_RUN/engines.env" ] || sed -i "/^$var=/d" "$UGC_ENGINES_RUN/engines.env"
  if [ "${KEEP_DATA:-0}" != "1" ] && [ -n "$UGC_ENGINES_RUN" ] && [ -d "$UGC_ENGINES_RUN/$dir" ]; then
    rm -rf "${UGC_ENGINES_RUN:?}/$dir"
    log "$e: removed its data in $UGC_ENGINES_RUN/$dir"
  fi
done
# Nothing left running: drop the (now empty) env file too.
if [ -f "$UGC_ENGINES_RUN/engines.env" ] && [ ! -s "$UGC_ENGINES_RUN/engines.env" ]; then
  rm -f "$UGC_ENGINES_RUN/engines.env"
fi
