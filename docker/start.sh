#!/usr/bin/env bash
# Container start: on first start (an empty /data volume) the example flow named by DEMO_FLOW (default the dashboard
# demo), then Node-RED as the image starts it.
set -euo pipefail
flow="/opt/retail-analytics/examples/${DEMO_FLOW:-dashboard}.json"
[[ -f "$flow" ]] || { echo "start: no example flow named \"${DEMO_FLOW}\" in /opt/retail-analytics/examples" >&2; exit 1; }
[[ -f /data/flows.json ]] || cp "$flow" /data/flows.json
exec /usr/src/node-red/entrypoint.sh "$@"
