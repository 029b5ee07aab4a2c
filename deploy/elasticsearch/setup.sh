#!/usr/bin/env bash
# One-shot `elasticsearch-setup` (docker-compose.logs.yml), idempotent: every call is a PUT/POST
# that sets the same state again. Fails (non-zero) on the first refused request.
set -euo pipefail

ES="${ES_URL:-http://elasticsearch:9200}"
here="$(dirname "$0")"

es() { # es METHOD PATH [JSON-FILE|-]
  local method="$1" path="$2" body="${3:-}"
  local args=(-sS --fail-with-body -u "elastic:${ELASTIC_PASSWORD}" -X "$method" -H 'Content-Type: application/json' "$ES$path")
  if [ -n "$body" ]; then args+=(--data-binary "@$body"); fi
  curl "${args[@]}"
  echo
}

echo "waiting for Elasticsearch at $ES"
for _ in $(seq 1 120); do
  if curl -sf -u "elastic:${ELASTIC_PASSWORD}" "$ES/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null; then break; fi
  sleep 2
done

echo "kibana_system password"
printf '{"password":"%s"}' "$KIBANA_SYSTEM_PASSWORD" | es POST /_security/user/kibana_system/_password -

echo "role ugc_logs_writer and user ugc_logstash (Logstash writes the ugc-* indices, nothing else)"
es PUT /_security/role/ugc_logs_writer - <<'JSON'
{
  "cluster": ["monitor"],
  "indices": [{ "names": ["ugc-app-*", "ugc-nginx-*"], "privileges": ["create_index", "create_doc", "index"] }]
}
JSON
printf '{"password":"%s","roles":["ugc_logs_writer"],"full_name":"Logstash (UGC logs)"}' "$LOGSTASH_WRITER_PASSWORD" |
  es PUT /_security/user/ugc_logstash -

echo "ILM policy ugc-logs"
es PUT /_ilm/policy/ugc-logs "$here/ilm-policy.json"

echo "index template ugc-logs"
es PUT /_index_template/ugc-logs "$here/index-template.json"

echo "elasticsearch-setup done"
