import type { Node, NodeAPI, NodeDef } from 'node-red';
import { Camera, type CameraState } from '../src/camera/camera';
import { cameraRegistry } from '../src/camera/registry';
import { describeValue } from '../src/messages';
import { errorStatus, failMessage, refuseTooDeep, startThrottledStatus } from './status';

interface CameraSourceDef extends NodeDef {
  cameraId: string;
  source: string;
  loop: boolean;
  realtime: boolean;
  width: string | number;
  height: string | number;
  fps: string | number;
  autostart: boolean;
  ffmpegPath: string;
}

type CameraCredentials = { username: unknown; password: unknown };

/** Camera ids in use in this runtime: two sources with one id would overwrite each other's frames. */
const claimedIds = new Map<string, string>();

const STATE_BADGE: Record<CameraState, { fill: 'green' | 'yellow' | 'red' | 'grey' | 'blue'; shape: 'dot' | 'ring' }> = {
  stopped: { fill: 'grey', shape: 'ring' },
  starting: { fill: 'yellow', shape: 'ring' },
  running: { fill: 'green', shape: 'dot' },
  reconnecting: { fill: 'yellow', shape: 'ring' },
  ended: { fill: 'grey', shape: 'dot' },
  failed: { fill: 'red', shape: 'ring' },
};

/** Failed runs in a row after which a retrying camera's badge turns red. */
const FAILING_AFTER = 3;

export = function register(RED: NodeAPI): void {
  function CameraSourceNode(this: Node<CameraCredentials>, config: CameraSourceDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const cameraId = (config.cameraId || node.id).trim();
    let camera: Camera | undefined;
    let configError: Error | undefined;
    let detail = '';
    const status = startThrottledStatus(node, () => {
      if (!camera) return null;
      const stats = camera.stats();
      // A source that keeps failing is shown red while it goes on retrying.
      const badge = stats.state === 'reconnecting' && stats.failures >= FAILING_AFTER ? STATE_BADGE.failed : STATE_BADGE[stats.state];
      const text = stats.state === 'running' ? `${stats.fps} fps · dropped ${stats.dropped}` : `${stats.state}${detail ? `: ${detail}` : ''}`;
      return { ...badge, text };
    });

    try {
      const owner = claimedIds.get(cameraId);
      if (owner && owner !== node.id) throw new Error(`camera id "${cameraId}" is already used by another camera-source node`);
      claimedIds.set(cameraId, node.id);
      camera = new Camera(
        {
          id: cameraId,
          name: config.name || cameraId,
          source: config.source,
          username: typeof node.credentials?.username === 'string' ? node.credentials.username : '',
          password: typeof node.credentials?.password === 'string' ? node.credentials.password : '',
          ffmpegPath: config.ffmpegPath,
          loop: config.loop,
          realtime: config.realtime !== false,
          width: Number(config.width) || 0,
          height: Number(config.height) || 0,
          fps: Number(config.fps) || 0,
        },
        {
          frame: (frame) => node.send({ topic: cameraId, cameraId, frame: frame.ref, payload: frame.ref }),
          state: (_state, stateDetail) => {
            detail = stateDetail ?? '';
            status.now();
          },
          error: (err) => node.error(`${cameraId}: ${err.message}`, { topic: cameraId, cameraId, payload: err.message }),
        },
      );
      cameraRegistry.add(camera);
      if (config.autostart !== false) camera.start();
    } catch (err) {
      configError = err as Error;
      status.stop();
      node.status(errorStatus(configError));
      node.error(configError, { topic: cameraId, cameraId, payload: configError.message });
    }

    node.on('input', (msg, _send, done) => {
      if (refuseTooDeep(msg, done)) return;
      const command = typeof msg.payload === 'string' ? msg.payload.trim().toLowerCase() : '';
      if (!camera) return failMessage(msg, done, new Error(`${cameraId} cannot run: ${configError?.message}. Fix the node's settings and deploy.`));
      if (command === 'start') {
        camera.start();
        return done();
      }
      if (command === 'stop') {
        camera.stop().then(() => done(), done);
        return;
      }
      failMessage(msg, done, new Error(`unknown command ${describeValue(msg.payload)}: send msg.payload "start" or "stop"`));
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      if (claimedIds.get(cameraId) === node.id) claimedIds.delete(cameraId);
      if (camera) cameraRegistry.remove(camera);
      const closing = camera ? camera.close() : Promise.resolve();
      closing.then(done, (err: Error) => {
        node.error(err);
        done();
      });
    });
  }

  RED.nodes.registerType('camera-source', CameraSourceNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
