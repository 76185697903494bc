#!/usr/bin/env bash
# Container start: the demo flow on first start (an empty /data volume), then Node-RED as the image starts it.
set -euo pipefail
[[ -f /data/flows.json ]] || cp /opt/retail-analytics/demo-flows.json /data/flows.json
exec /usr/src/node-red/entrypoint.sh "$@"
