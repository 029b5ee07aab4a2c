#!/usr/bin/env bash
# Installs (cached) and starts the engines the tests need, on loopback, and prints how to
# reach them as env lines on stdout (everything else goes to stderr), e.g.
#
#   bash scripts/engines/up.sh                    # zookeeper, kafka, clickhouse, ferretdb, opensearch
#   bash scripts/engines/up.sh kafka clickhouse   # only those (clickhouse alone: no cluster mode)
#   eval "$(bash scripts/engines/up.sh)"          # export the env lines into this shell
#
# The same lines are written to $UGC_ENGINES_RUN/engines.env. Starting an engine that is
# already running is a no-op. Exits non-zero (with the engine's log tail) if one does not
# answer within ENGINE_START_TIMEOUT seconds (120). See lib.sh and each engine script for
# the env vars that choose versions and ports.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

# Started in this order whatever order they are named in: ClickHouse connects to ZooKeeper.
all=(zookeeper kafka clickhouse ferretdb opensearch)
requested=("$@")
[ "${#requested[@]}" -gt 0 ] || requested=("${all[@]}")
for e in "${requested[@]}"; do
  case "$e" in
    zookeeper | zk | kafka | clickhouse | ferretdb | mongodb | mongo | opensearch) ;;
    *) die "unknown engine '$e' (known: ${all[*]})" ;;
  esac
done

scripts=()
for e in "${all[@]}"; do
  for r in "${requested[@]}"; do
    case "$e:$r" in
      zookeeper:zookeeper | zookeeper:zk) scripts+=(zookeeper.sh) ;;
      kafka:kafka) scripts+=(kafka.sh) ;;
      clickhouse:clickhouse) scripts+=(clickhouse.sh) ;;
      ferretdb:ferretdb | ferretdb:mongodb | ferretdb:mongo) scripts+=(ferretdb.sh) ;;
      opensearch:opensearch) scripts+=(opensearch.sh) ;;
      *) continue ;;
    esac
    break
  done
done

start=$SECONDS
# Install everything first so a broken download fails before anything is started.
for s in "${scripts[@]}"; do bash "$here/$s" install; done
for s in "${scripts[@]}"; do bash "$here/$s" start; done

mkdir -p "$UGC_ENGINES_RUN"
env_file="$UGC_ENGINES_RUN/engines.env"
: >"$env_file.tmp"
for s in "${scripts[@]}"; do bash "$here/$s" env >>"$env_file.tmp"; done
# Merge with lines of engines started earlier by another up.sh call (one line per variable).
if [ -f "$env_file" ]; then
  while IFS= read -r line; do
    grep -q "^${line%%=*}=" "$env_file.tmp" || echo "$line" >>"$env_file.tmp"
  done <"$env_file"
fi
mv "$env_file.tmp" "$env_file"

log "engines up in $((SECONDS - start))s; env lines (also in $env_file):"
for s in "${scripts[@]}"; do bash "$here/$s" env; done
