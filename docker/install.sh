#!/usr/bin/env bash
# Installs a packed retail-analytics tarball into a Node-RED directory exactly as the editor's palette manager
# does (Manage palette ▸ Install runs this npm command in the user directory), together with node-red-dashboard
# for the dashboard example. The Dockerfile runs it, and test/install.test.ts replays it in a scratch directory.
#   usage: docker/install.sh NODE_RED_DIR PACKAGE.tgz
set -euo pipefail
dir="$1"
tarball="$(realpath "$2")"
cd "$dir"
[[ -f package.json ]] || printf '{ "name": "node-red-project", "private": true }\n' > package.json
# onnxruntime-node's install script downloads optional CUDA libraries from outside the npm registry; its CPU
# binaries are inside the npm package.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
npm install --no-audit --no-update-notifier --no-fund --save --save-prefix=~ --omit=dev --engine-strict \
  "$tarball" node-red-dashboard@3
