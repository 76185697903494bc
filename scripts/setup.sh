#!/usr/bin/env bash
# One-step set-up of a checkout on Debian 12 / Ubuntu, for the demo and the tests: system packages, npm packages,
# the build and the YOLOv8n model; for the tests also the OpenCV binding (a development dependency: the reference
# our imaging is checked against) built against the distribution's OpenCV. Safe to run again: finished steps are
# skipped. Users who install the package into their Node-RED do not need this script (README: Install).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ffmpeg                               # camera capture: files, RTSP/HTTP streams and V4L2 devices
  libjemalloc2                         # the memory allocator npm start gives Node-RED (lower RSS than glibc's)
  opencv-doc                           # OpenCV's sample data: vtest.avi, the demo and test video
  build-essential pkg-config python3   # compilers for better-sqlite3 and the OpenCV test reference
  libopencv-dev                        # OpenCV 4.x headers and libraries the test reference links against
  darknet                              # sample photos in /usr/share/darknet/data used by the detector tests
  gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-libav   # a loopback RTSP camera for the reconnection tests
  chromium                             # the headless browser of the dashboard tests
  mosquitto                            # the MQTT broker the mqtt and pos-integration example tests start
  redis-server                         # the Redis the scale-out tests start (the package itself needs only a reachable Redis)
)

step() { printf '\n==> %s\n' "$*"; }

missing=()
# The Dockerfile installs only the run-time packages itself and skips this step.
[[ -n "${RETAIL_ANALYTICS_SKIP_APT:-}" ]] && APT_PACKAGES=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  step "installing Debian packages: ${missing[*]}"
  if [[ $EUID -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "setup: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1
  fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  step "Debian packages present"
fi

command -v node >/dev/null || { echo "setup: Node.js 20 or newer is needed (https://nodejs.org or your distribution)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "setup: Node.js $(node --version) is too old; 20 or newer is needed" >&2; exit 1; }

# The OpenCV binding must build against the system OpenCV, never download and compile its own; onnxruntime-node
# must not fetch optional GPU binaries (its CPU binary is in the npm package); node-gyp uses the headers that
# Debian's Node.js ships (nodedir in .npmrc) instead of downloading them. package.json's allowScripts lets npm run
# the install scripts of better-sqlite3 and the OpenCV binding in this checkout.
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
OPENCV_INCLUDE_DIR="$(pkg-config --variable=includedir opencv4)"
OPENCV_LIB_DIR="$(pkg-config --variable=libdir opencv4)"
export OPENCV_INCLUDE_DIR OPENCV_LIB_DIR OPENCV_BIN_DIR=/usr/bin
export ONNXRUNTIME_NODE_INSTALL=skip
export JOBS=max
nodedir="$(npm config get nodedir)"
if [[ ! -f "$nodedir/include/node/node.h" ]]; then
  echo "setup: Node.js headers not found in $nodedir/include/node; .npmrc points node-gyp there (nodedir=/usr)" >&2
  echo "       set nodedir to your Node.js installation prefix, e.g. npm config set nodedir \"\$(dirname \"\$(dirname \"\$(command -v node)\")\")\"" >&2
fi

step "installing npm packages"
npm install --no-audit --no-fund

opencv_loads() {
  OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING=1 node -e \
    "require('@u4/opencv-build').Log.silence = true; require('@u4/opencv4nodejs')" >/dev/null 2>&1
}
if opencv_loads; then
  step "OpenCV test reference present"
else
  step "building the OpenCV test reference against $(pkg-config --modversion opencv4) (a few minutes)"
  npm rebuild @u4/opencv4nodejs
  opencv_loads || { echo "setup: the OpenCV binding was built but does not load" >&2; exit 1; }
fi

# better-sqlite3 first tries a prebuilt binary from outside the npm registry, then compiles the SQLite it bundles.
if node -e "new (require('better-sqlite3'))(':memory:').close()" >/dev/null 2>&1; then
  step "SQLite binding present"
else
  step "building the SQLite binding (better-sqlite3)"
  npm rebuild better-sqlite3
  node -e "new (require('better-sqlite3'))(':memory:').close()" || { echo "setup: better-sqlite3 was built but does not load" >&2; exit 1; }
fi

step "building"
npm run --silent build

step "model"
node dist/src/cli/main.js fetch-model
echo
echo "setup: done. Run the demo with: npm start"
