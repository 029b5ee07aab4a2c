#!/usr/bin/env bash
# One-shot `kibana-setup` (docker-compose.logs.yml): imports dashboard.ndjson (data views
# ugc-app-* and ugc-nginx-*, the visualizations, a saved search and the "UGC Service" dashboard)
# through Kibana's saved objects _import API. overwrite=true: re-running updates them in place.
set -euo pipefail

KIBANA="${KIBANA_URL:-http://kibana:5601}"
echo "waiting for Kibana at $KIBANA"
for _ in $(seq 1 120); do
  if curl -sf -u "elastic:${ELASTIC_PASSWORD}" "$KIBANA/api/status" | grep -q '"level":"available"'; then break; fi
  sleep 2
done

response="$(curl -sS --fail-with-body -u "elastic:${ELASTIC_PASSWORD}" -H 'kbn-xsrf: true' \
  -X POST "$KIBANA/api/saved_objects/_import?overwrite=true" \
  --form "file=@$(dirname "$0")/dashboard.ndjson")"
echo "$response"
# _import answers 200 even when some objects failed; "success":true means all of them went in.
grep -q '"success":true' <<<"$response"
echo "dashboard imported: $KIBANA/app/dashboards#/view/ugc-service"
