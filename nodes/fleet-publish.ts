import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { LineStats, ZoneGeometry, ZoneStats } from '../src/analytics/zones';
import { analyticsOverlay, annotateFrame } from '../src/api/annotate';
import { frameStore } from '../src/camera/frame-store';
import { cameraRegistry } from '../src/camera/registry';
import { detectionRegistry } from '../src/detection/usage-registry';
import { FleetPublisher } from '../src/fleet/publisher';
import { drawableTracks } from '../src/api/state';
import { cameraIdOf, checkCameraId, MessageError, PIPELINE_EVENT_TYPES, plainJson, readFrameRef, readList } from '../src/messages';
import { peekMetrics } from '../src/metrics/shared';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber } from './status';
import type { RedisConfigNode } from './types';

interface FleetPublishDef extends NodeDef {
  redis: string;
  prefixCameraIds: boolean;
  offlineAfter: string | number;
  interval: string | number;
  shareFrames: boolean;
  frameRate: string | number;
  privacy: boolean;
  streamLength: string | number;
  database: string;
}

type PublishMsg = NodeMessageInFlow & {
  frame?: unknown;
  cameraId?: unknown;
  zones?: unknown;
  lines?: unknown;
  occupancy?: unknown;
  tracks?: unknown;
  zoneGeometry?: unknown;
  heatmap?: { cameraId?: unknown; format?: unknown; showsPeople?: unknown };
};

/** How often the publisher looks for cameras due: a quarter of the default interval. */
const ROUND_MS = 250;
const JPEG_QUALITY = 70;

export = function register(RED: NodeAPI): void {
  function FleetPublishNode(this: Node, config: FleetPublishDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const redis = RED.nodes.getNode(config.redis) as RedisConfigNode | null;
    const offlineAfter = settingNumber(config.offlineAfter, 15);
    const interval = settingNumber(config.interval, 1);
    const frameRate = settingNumber(config.frameRate, 1);
    const streamLength = settingNumber(config.streamLength, 10000);
    const problem = !redis
      ? 'choose a Redis server (redis-config node)'
      : redis.problem ?? (!(offlineAfter >= 2 && offlineAfter <= 3600)
        ? `"offline after" must be 2 to 3600 seconds, got ${config.offlineAfter}`
        : !(interval >= 0.25 && interval <= offlineAfter / 2)
          ? `the interval must be 0.25 s to half of "offline after" (${offlineAfter / 2} s), got ${config.interval}`
          : config.shareFrames && !(frameRate > 0 && frameRate <= 10)
            ? `frames per second must be above 0 and at most 10, got ${config.frameRate}`
            : !(Number.isInteger(streamLength) && streamLength >= 100)
              ? `the stream length must be a whole number from 100, got ${config.streamLength}`
              : null);
    if (problem || !redis?.connection) return refuseToRun(node, 'fleet-publish', new Error(problem ?? 'Redis is not set up'));
    const connection = redis.connection;

    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    const database = config.database?.trim() || path.join(userDir, 'retail-analytics', 'metrics.db');
    /** What the frames shared need to be drawn like the worker's own API draws them. */
    const overlays = new Map<string, { tracks: ReturnType<typeof drawableTracks>; zones: ZoneStats[]; lines: LineStats[]; geometry: ZoneGeometry | null }>();
    const publisher = new FleetPublisher({
      redis: connection.client,
      keys: redis.keys,
      instance: redis.instance,
      prefixCameraIds: config.prefixCameraIds !== false,
      offlineAfterMs: offlineAfter * 1000,
      intervalMs: interval * 1000,
      maxStreamLength: streamLength,
      maxPendingEvents: streamLength,
      metrics: () => peekMetrics(database),
      timeZone: () => peekMetrics(database)?.options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
      describe: (cameraId) => {
        const camera = cameraRegistry.get(cameraId)?.stats();
        const latest = frameStore.latest(cameraId);
        const detection = detectionRegistry.cameras().find((c) => c.cameraId === cameraId);
        return {
          name: camera?.name ?? cameraId,
          state: camera?.state ?? 'unknown',
          fps: camera?.fps ?? 0,
          width: camera?.width ?? latest?.width ?? null,
          height: camera?.height ?? latest?.height ?? null,
          lastFrameAt: camera?.lastFrameAt ?? latest?.ref.timestamp ?? null,
          detection: detection ? (({ cameraId: _id, ...figures }) => figures)(detection) : null,
        };
      },
      frameIntervalMs: config.shareFrames ? 1000 / frameRate : 0,
      frameJpeg: async (cameraId) => {
        const frame = frameStore.latest(cameraId);
        const overlay = overlays.get(cameraId);
        if (!frame || !overlay) return null;
        return frameStore.using(frame, () => annotateFrame(frame, analyticsOverlay({ ...overlay, detections: overlay.tracks }), { quality: JPEG_QUALITY, privacy: config.privacy !== false }));
      },
    });

    const unregister = redis.register(node);
    let lastError: string | null = null;
    const stopReady = connection.onReady(() => publisher.reconnected());
    const timer = setInterval(() => {
      if (!connection.ready) return;
      publisher.publish().then(
        // The status interval below shows the figures again once publishing works.
        () => (lastError = null),
        (err: Error) => {
          if (err.message === lastError) return;
          lastError = err.message;
          node.status(errorStatus(err));
          node.error(`publishing to Redis failed: ${err.message}; trying again`, { topic: 'redis/publish', payload: { reason: err.message } });
        },
      );
    }, ROUND_MS);
    timer.unref();

    node.on('input', (incoming, _send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as PublishMsg;
      try {
        const payload = msg.payload as { type?: unknown; cameraId?: unknown } | undefined;
        if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload) && PIPELINE_EVENT_TYPES.has(String(payload.type))) {
          const cameraId = checkCameraId(payload.cameraId ?? cameraIdOf(msg), 'msg.payload.cameraId');
          publisher.event(cameraId, plainJson(payload as Record<string, unknown>, 'msg.payload'));
          return done();
        }
        if (msg.heatmap && Buffer.isBuffer(msg.payload)) {
          const cameraId = checkCameraId(msg.heatmap.cameraId, 'msg.heatmap.cameraId');
          publisher.heatmap(cameraId, msg.payload, msg.heatmap.format === 'jpeg' ? 'jpeg' : 'png', msg.heatmap.showsPeople !== false);
          return done();
        }
        if (msg.zones === undefined) {
          throw new MessageError('fleet-publish takes zone-analytics output (msg.zones, msg.lines, msg.occupancy), its events, or heatmap images');
        }
        const ref = msg.frame === undefined ? null : readFrameRef(msg.frame);
        const cameraId = ref?.cameraId ?? cameraIdOf(msg);
        const zones = plainJson(readList(msg.zones, 'msg.zones', 'zone-analytics'), 'msg.zones') as ZoneStats[];
        const lines = msg.lines === undefined ? [] : (plainJson(readList(msg.lines, 'msg.lines', 'zone-analytics'), 'msg.lines') as LineStats[]);
        const tracks = msg.tracks === undefined ? [] : drawableTracks(readList(msg.tracks, 'msg.tracks', 'sort-track'));
        const geometry = msg.zoneGeometry && typeof msg.zoneGeometry === 'object' ? plainJson(msg.zoneGeometry as ZoneGeometry, 'msg.zoneGeometry') : null;
        const occupancy = typeof msg.occupancy === 'number' && Number.isFinite(msg.occupancy) && msg.occupancy >= 0 ? msg.occupancy : tracks.length;
        overlays.set(cameraId, { tracks, zones, lines, geometry });
        publisher.observe({ cameraId, zones, lines, occupancy, geometry, seq: ref?.seq ?? null, activeTracks: tracks.length });
        done();
      } catch (err) {
        failMessage(msg, done, err as Error);
      }
    });

    const status = setInterval(() => {
      if (lastError !== null || !connection.ready) return;
      const { cameras, published, pendingEvents, droppedEvents } = publisher.stats();
      const queued = pendingEvents > 0 ? ` · ${pendingEvents} events waiting` : '';
      const dropped = droppedEvents > 0 ? ` · ${droppedEvents} events dropped` : '';
      node.status({ fill: dropped ? 'yellow' : 'green', shape: 'dot', text: `${cameras} cameras as ${redis.instance} · ${published} published${queued}${dropped}` });
    }, 1000);
    status.unref();

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(timer);
      clearInterval(status);
      stopReady();
      unregister();
      publisher.close();
      done();
    });
  }

  RED.nodes.registerType('fleet-publish', FleetPublishNode);
};
