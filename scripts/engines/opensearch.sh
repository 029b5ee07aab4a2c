#!/usr/bin/env bash
# OpenSearch 2.19 (the Elasticsearch API: _index_template, _bulk, _search) as a single node on
# loopback, assembled from Maven Central artifacts. Only for the log-shipping test: production
# ships logs to Elasticsearch (deploy/docker-compose.logs.yml).
#
#   bash scripts/engines/opensearch.sh install|start|stop|status|env
#   bash scripts/engines/opensearch.sh api GET '/_cat/indices?v'         # curl against the node
#   bash scripts/engines/opensearch.sh api PUT /x '{"settings":{}}'      # with a JSON body
#
# Env: OPENSEARCH_VERSION (2.19.6: the 2.x line runs on Java 17; 3.x needs Java 21),
# OPENSEARCH_PORT (9200, HTTP), OPENSEARCH_TRANSPORT_PORT (9300, node-to-node; bound on
# loopback but unused by a single node), OPENSEARCH_HEAP (-Xms512m -Xmx512m).
#
# No OpenSearch distribution tarball is reachable here, only Maven Central, which has the
# server jar and the modules' jars but not the distribution's layout. So install lays out what
# the tarball would have, for what a log index needs:
#   lib/                        org.opensearch:opensearch and its runtime dependencies, plus
#                               what the tarball adds and the pom marks optional (log4j-core,
#                               spatial4j, jts-core) and opensearch-plugin-classloader
#   modules/transport-netty4/   org.opensearch.plugin:transport-netty4-client with its netty jars,
#                               plus the plugin-descriptor.properties and plugin-security.policy
#                               that the tarball's module zip carries (not in the Maven jar)
# Other modules (painless, reindex, analysis-common, ingest-common, ...) are left out: the
# tests index, map and search; they script nothing and run no ingest pipeline.
#
# OpenSearch refuses to run as root ("can not run opensearch as root"). Machines here run
# everything as root, so then the node runs in a user namespace as uid 65534 (unshare
# --map-user): to OpenSearch it is not root, to the rest of the machine it still is, so it can
# read the install under ~/.cache and its files belong to root (down.sh removes them).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OPENSEARCH_VERSION="${OPENSEARCH_VERSION:-2.19.6}"
OPENSEARCH_PORT="${OPENSEARCH_PORT:-9200}"
OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-9300}"
OPENSEARCH_HEAP="${OPENSEARCH_HEAP:--Xms512m -Xmx512m}"

OS_HOME="$UGC_ENGINES_DIR/opensearch/$OPENSEARCH_VERSION"
OS_RUN="$UGC_ENGINES_RUN/opensearch"
OS_CONF="$OS_RUN/config"
OS_PIDFILE="$OS_RUN/opensearch.pid"
OS_LOG="$OS_RUN/opensearch.log"
OS_URL="http://127.0.0.1:$OPENSEARCH_PORT"
NETTY_MODULE=transport-netty4

java_major() {
  java -version 2>&1 | sed -n 's/.* version "\([0-9]*\)\(\.[0-9]*\)*.*/\1/p' | head -n 1
}

cmd_install() {
  maven_installed opensearch "$OPENSEARCH_VERSION" "$OS_HOME" && return 0
  maven_install_begin opensearch 17 "$OS_HOME"
  command -v curl >/dev/null || die "opensearch: curl is required (readiness checks and the api command)"
  log "opensearch: fetching org.opensearch:opensearch:$OPENSEARCH_VERSION and the netty4 transport module with Maven"
  local work="$OS_HOME.tmp"
  mkdir -p "$work/lib" "$work/modules/$NETTY_MODULE"

  # 1. The server's classpath. The tarball's lib/ also has jars that the server pom declares
  # optional (log4j-core, spatial4j, jts-core): take them at the versions that pom declares.
  if ! mvn -B -Dstyle.color=never -Dmaven.repo.local="$UGC_MAVEN_REPO" dependency:get \
    -Dartifact="org.opensearch:opensearch:$OPENSEARCH_VERSION:pom" -Dtransitive=false \
    >"$work/maven-pom.log" 2>&1; then
    show_log_tail maven "$work/maven-pom.log" 40
    die "opensearch: Maven Central has no org.opensearch:opensearch:$OPENSEARCH_VERSION"
  fi
  local server_pom="$UGC_MAVEN_REPO/org/opensearch/opensearch/$OPENSEARCH_VERSION/opensearch-$OPENSEARCH_VERSION.pom"
  declared_version() { # ARTIFACT_ID -> the <version> on the line after its <artifactId>
    sed -n "/<artifactId>$1<\/artifactId>/{n;s/.*<version>\(.*\)<\/version>.*/\1/p}" "$server_pom" | head -n 1
  }
  local log4j spatial4j jts
  log4j="$(declared_version log4j-core)"
  spatial4j="$(declared_version spatial4j)"
  jts="$(declared_version jts-core)"
  if [ -z "$log4j" ] || [ -z "$spatial4j" ] || [ -z "$jts" ]; then
    die "opensearch: could not read the log4j-core/spatial4j/jts-core versions from $server_pom"
  fi
  maven_pom opensearch-server "$(
    maven_dep org.opensearch opensearch "$OPENSEARCH_VERSION"
    maven_dep org.opensearch opensearch-plugin-classloader "$OPENSEARCH_VERSION"
    maven_dep org.apache.logging.log4j log4j-core "$log4j"
    maven_dep org.locationtech.spatial4j spatial4j "$spatial4j"
    maven_dep org.locationtech.jts jts-core "$jts"
  )" >"$work/server.pom"
  maven_copy_deps opensearch "the server jars of OpenSearch $OPENSEARCH_VERSION" \
    "$work/server.pom" "$work/lib" "$work/maven-server.log"

  # 2. The HTTP/transport module, in its own directory and class loader like in the tarball.
  maven_pom opensearch-transport-netty4 "$(maven_dep org.opensearch.plugin transport-netty4-client "$OPENSEARCH_VERSION")" \
    >"$work/netty.pom"
  maven_copy_deps opensearch "the netty jars of OpenSearch $OPENSEARCH_VERSION" \
    "$work/netty.pom" "$work/modules/$NETTY_MODULE" "$work/maven-netty.log"
  # A jar in both lib/ and a module is "jar hell" to OpenSearch: keep only the module's own.
  local jar
  for jar in "$work/modules/$NETTY_MODULE"/*.jar; do
    [ ! -e "$work/lib/$(basename "$jar")" ] || rm -f "$jar"
  done
  # What the module zip carries next to its jars: the descriptor (classname: the plugin class
  # in the 2.19 jar; 3.x renamed it Netty4ModulePlugin) and the grants of the module's
  # plugin-security.policy (without them the SecurityManager refuses to accept connections).
  cat >"$work/modules/$NETTY_MODULE/plugin-descriptor.properties" <<EOF
description=Netty 4 based transport implementation
version=$OPENSEARCH_VERSION
name=$NETTY_MODULE
classname=org.opensearch.transport.Netty4Plugin
java.version=11
opensearch.version=$OPENSEARCH_VERSION
extended.plugins=
has.native.controller=false
EOF
  cat >"$work/modules/$NETTY_MODULE/plugin-security.policy" <<'EOF'
grant {
  // the somaxconn backlog setting of the system
  permission java.io.FilePermission "/proc/sys/net/core/somaxconn", "read";
  // HTTP and transport: accept connections (and connect, for the transport)
  permission java.net.SocketPermission "*", "accept,connect";
  // netty's event loop threads
  permission java.lang.RuntimePermission "*", "setContextClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
  permission java.util.PropertyPermission "sun.nio.ch.bugLevel", "write";
};
EOF

  ls "$work/lib/opensearch-$OPENSEARCH_VERSION.jar" "$work/lib/log4j-core-$log4j.jar" "$work/lib/log4j-api-$log4j.jar" \
    "$work/modules/$NETTY_MODULE/transport-netty4-client-$OPENSEARCH_VERSION.jar" >/dev/null ||
    die "opensearch: jars missing after the Maven runs (see $work/maven-*.log)"
  maven_install_finish "$OS_HOME"
  log "opensearch: installed $(find "$OS_HOME/lib" -name '*.jar' | wc -l) server jars and $(find "$OS_HOME/modules" -name '*.jar' | wc -l) module jars into $OS_HOME"
}

write_config() {
  mkdir -p "$OS_CONF" "$OS_RUN/data" "$OS_RUN/logs" "$OS_RUN/tmp"
  cat >"$OS_CONF/opensearch.yml" <<EOF
# Generated by scripts/engines/opensearch.sh for local tests; do not edit by hand.
cluster.name: ugc-engines
node.name: opensearch-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
path.data: $OS_RUN/data
path.logs: $OS_RUN/logs
# Tests must not turn read-only when the disk of a developer's machine is fairly full.
cluster.routing.allocation.disk.threshold_enabled: false
# Logstash relies on indices being created on first write, from the index template.
action.auto_create_index: true
EOF
  # Everything to stdout (redirected to opensearch.log); no rolling files, no deprecation log.
  cat >"$OS_CONF/log4j2.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = error
EOF
  # The launcher reads jvm.options; we pass the flags ourselves, but the file must exist.
  : >"$OS_CONF/jvm.options"
}

cmd_start() {
  cmd_install
  if pid_running "$OS_PIDFILE" "$OS_CONF"; then
    log "opensearch: already running (pid $(cat "$OS_PIDFILE")) at $OS_URL"
    return 0
  fi
  local major
  major="$(java_major)"
  # The 2.x server installs a SecurityManager, which Java 24+ no longer allows.
  case "$major" in
    11 | 1[2-9] | 2[0-3]) ;;
    *) die "opensearch: OpenSearch $OPENSEARCH_VERSION needs Java 11-23 (17 is tested); 'java' is version '$major'" ;;
  esac
  require_port_free opensearch "$OPENSEARCH_PORT"
  require_port_free opensearch-transport "$OPENSEARCH_TRANSPORT_PORT"
  write_config

  local as_user=()
  if [ "$(id -u)" -eq 0 ]; then
    unshare --user --map-user=65534 --map-group=65534 true 2>/dev/null ||
      die "opensearch: refuses to run as root, and 'unshare --user --map-user=65534' (user namespaces, util-linux 2.38+) does not work here; run as a normal user"
    as_user=(unshare --user --map-user=65534 --map-group=65534)
  fi
  log "opensearch: starting $OPENSEARCH_VERSION on $OS_URL"
  # The flags of the tarball's config/jvm.options that matter here, and bin/opensearch's
  # system properties. unshare (when root) execs java, so the pid file holds java's pid.
  # shellcheck disable=SC2086 # OPENSEARCH_HEAP holds several JVM flags on purpose
  start_detached "$OS_PIDFILE" "$OS_LOG" \
    "${as_user[@]}" java $OPENSEARCH_HEAP -XX:+UseG1GC \
    -Djava.security.manager=allow -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0 \
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true \
    -Djava.io.tmpdir="$OS_RUN/tmp" -XX:-HeapDumpOnOutOfMemoryError \
    -Dopensearch.path.home="$OS_HOME" -Dopensearch.path.conf="$OS_CONF" \
    -Dopensearch.distribution.type=tar -Dopensearch.bundled_jdk=false \
    -cp "$OS_HOME/lib/*" org.opensearch.bootstrap.OpenSearch
  wait_until opensearch "$OS_PIDFILE" "$OS_CONF" "$OS_LOG" \
    "cluster health yellow or green at $OS_URL" cluster_ready
  log "opensearch: ready at $OS_URL"
}

cluster_ready() {
  curl -sf --max-time 5 "$OS_URL/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null
}

cmd_stop() {
  stop_pid opensearch "$OS_PIDFILE" "$OS_CONF" 20
}

cmd_status() {
  if pid_running "$OS_PIDFILE" "$OS_CONF" && port_open "$OPENSEARCH_PORT"; then
    echo "opensearch: running (pid $(cat "$OS_PIDFILE")) at $OS_URL"
  else
    echo "opensearch: not running"
    return 1
  fi
}

cmd_env() {
  echo "OPENSEARCH_URL=$OS_URL"
}

cmd_api() {
  local method="${1:?usage: $0 api METHOD PATH [JSON_BODY]}" path="${2:?usage: $0 api METHOD PATH [JSON_BODY]}"
  if [ $# -ge 3 ]; then
    curl -sS -X "$method" -H 'content-type: application/json' --data-binary "$3" "$OS_URL$path"
  else
    curl -sS -X "$method" "$OS_URL$path"
  fi
  echo
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  api)
    shift
    cmd_api "$@"
    ;;
  *)
    echo "usage: $0 install|start|stop|status|env|api METHOD PATH [JSON_BODY]" >&2
    exit 2
    ;;
esac
