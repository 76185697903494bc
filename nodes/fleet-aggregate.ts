import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { FleetAggregator, type FleetCamera } from '../src/fleet/aggregator';
import { fleetRegistry } from '../src/fleet/registry';
import type { CameraState } from '../src/fleet/state';
import { MetricsCollector } from '../src/metrics/collector';
import { eventTopic } from '../src/messages';
import { refuseToRun, settingNumber } from './status';
import type { RedisConfigNode } from './types';

interface FleetAggregateDef extends NodeDef {
  redis: string;
  timeZone: string;
  minuteRetentionDays: string | number;
  hourRetentionDays: string | number;
}

const STATUS_MS = 1000;

/** What api-out reads of a remote camera (msg.fleet). */
function remoteOf(aggregator: string, { state, online }: FleetCamera) {
  return {
    aggregator,
    instance: state.instance,
    online,
    name: state.name,
    state: state.state,
    fps: state.fps,
    width: state.width,
    height: state.height,
    lastFrameAt: state.lastFrameAt,
    framesProcessed: state.framesProcessed,
    activeTracks: online ? state.activeTracks : 0,
    detection: state.detection,
    publishedAt: state.publishedAt,
  };
}

export = function register(RED: NodeAPI): void {
  function FleetAggregateNode(this: Node, config: FleetAggregateDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const redis = RED.nodes.getNode(config.redis) as RedisConfigNode | null;
    if (!redis?.connection) return refuseToRun(node, 'fleet-aggregate', new Error(redis?.problem ?? 'choose a Redis server (redis-config node)'));
    let collector: MetricsCollector;
    try {
      collector = new MetricsCollector({
        timeZone: config.timeZone?.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone,
        minuteRetentionDays: settingNumber(config.minuteRetentionDays, 7),
        hourRetentionDays: settingNumber(config.hourRetentionDays, 400),
      });
    } catch (err) {
      return refuseToRun(node, 'fleet-aggregate', err as Error);
    }
    fleetRegistry.add(node.id, collector);
    const otherTimeZones = new Set<string>();
    const problems = new Set<string>();

    const cameraMessage = (camera: FleetCamera): NodeMessage => {
      const { state, online } = camera;
      // An offline camera keeps its totals; who is present there now is unknown.
      const zones = online ? state.zones : state.zones.map((z) => ({ ...z, currentCount: 0, ...(z.queue ? { queue: { ...z.queue, length: 0 } } : {}) }));
      return {
        topic: state.cameraId,
        cameraId: state.cameraId,
        zones,
        lines: state.lines,
        occupancy: online ? state.occupancy : 0,
        zoneGeometry: state.geometry ?? undefined,
        fleet: remoteOf(node.id, camera),
      } as NodeMessage;
    };

    const aggregator = new FleetAggregator({
      connection: redis.connection,
      keys: redis.keys,
      name: redis.instance,
      collector,
      images: true,
      onCamera: (camera) => {
        if (camera.state.timeZone !== collector.options.timeZone && !otherTimeZones.has(camera.state.instance)) {
          otherTimeZones.add(camera.state.instance);
          node.warn(`instance "${camera.state.instance}" counts hours in ${camera.state.timeZone}, this aggregator in ${collector.options.timeZone}: give both the same time zone, or hourly figures will not line up`);
        }
        node.send([cameraMessage(camera), null]);
      },
      onEvent: (event, catchUp) => {
        node.send([null, { topic: eventTopic(event), payload: event, fleet: { instance: event.instance, catchUp } } as NodeMessage]);
      },
      onImage: (cameraId: string, kind, image, state: CameraState) => {
        const camera = aggregator.camera(cameraId);
        if (!camera) return;
        const msg = kind === 'frame'
          ? { cameraId, payload: image, fleet: { ...remoteOf(node.id, camera), image: 'frame' } }
          : { payload: image, heatmap: { cameraId, format: state.heatmap?.format ?? 'png', showsPeople: state.heatmap?.showsPeople ?? true } };
        node.send([msg as NodeMessage, null]);
      },
      onProblem: (err) => {
        // Each distinct problem once: bad data is read again at every reconnection.
        if (problems.has(err.message) || problems.size > 100) return;
        problems.add(err.message);
        node.error(err.message, { topic: 'redis/aggregate', payload: { reason: err.message } });
      },
    });
    aggregator.start();

    const unregister = redis.register(node);
    const status = setInterval(() => {
      if (!redis.connection?.ready) return;
      const { cameras, online, instances } = aggregator.stats();
      node.status({ fill: online < cameras ? 'yellow' : 'green', shape: 'dot', text: `${cameras} cameras on ${instances} instances · ${online} online` });
    }, STATUS_MS);
    status.unref();

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(status);
      unregister();
      fleetRegistry.remove(node.id, collector);
      aggregator.stop().then(done, () => done());
    });
  }

  RED.nodes.registerType('fleet-aggregate', FleetAggregateNode);
};
