#!/usr/bin/env bash
# Container start: on first start (an empty /data volume) the example flow named by DEMO_FLOW (default the dashboard
# demo), then Node-RED as the image starts it.
set -euo pipefail
flow="/opt/retail-analytics/examples/${DEMO_FLOW:-dashboard}.json"
[[ -f "$flow" ]] || { echo "start: no example flow named \"${DEMO_FLOW}\" in /opt/retail-analytics/examples" >&2; exit 1; }
[[ -f /data/flows.json ]] || cp "$flow" /data/flows.json
# jemalloc instead of glibc's malloc, as npm start does (README, "Staying up"); RETAIL_ANALYTICS_MALLOC=glibc keeps glibc's.
if [[ -z "${LD_PRELOAD:-}" && "${RETAIL_ANALYTICS_MALLOC:-}" != glibc ]]; then
  for jemalloc in /usr/lib/*/libjemalloc.so.2; do
    [[ -f "$jemalloc" ]] && export LD_PRELOAD="$jemalloc" && break
  done
fi
exec /usr/src/node-red/entrypoint.sh "$@"
