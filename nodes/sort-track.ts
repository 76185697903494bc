import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { CameraTrackers } from '../src/tracking/camera-trackers';
import { describeTrack, type DetectionInput, type Track } from '../src/tracking/track';
import type { TrackerSettings } from '../src/tracking/trackers';
import { cameraIdOf, checkCameraId, MessageError, readFrameRef, readList } from '../src/messages';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber, startThrottledStatus } from './status';

type Setting = string | number | undefined;

interface SortTrackDef extends NodeDef {
  /** Absent in flows made before there was a choice: those keep SORT. */
  algorithm?: string;
  maxAge: Setting;
  minHits: Setting;
  iouThreshold: Setting;
  trackThresh?: Setting;
  matchThresh?: Setting;
  trackBuffer?: Setting;
  frameRate?: Setting;
  detThresh?: Setting;
  deltaT?: Setting;
  inertia?: Setting;
  useByte?: boolean | string;
  lostSeconds?: Setting;
  appearanceVeto?: Setting;
  trailLength: Setting;
}

/** The tracker the node's settings describe; blank settings take the algorithm's defaults. */
function trackerSettings(config: SortTrackDef): TrackerSettings {
  const trailLength = settingNumber(config.trailLength, 30);
  const algorithm = config.algorithm || 'sort';
  switch (algorithm) {
    case 'sort':
      return { algorithm, trailLength, maxAge: settingNumber(config.maxAge, 30), minHits: settingNumber(config.minHits, 3), iouThreshold: settingNumber(config.iouThreshold, 0.3) };
    case 'bytetrack':
      return {
        algorithm,
        trailLength,
        trackThresh: settingNumber(config.trackThresh, 0.6),
        matchThresh: settingNumber(config.matchThresh, 0.9),
        trackBuffer: settingNumber(config.trackBuffer, 30),
        ...(config.frameRate === '' || config.frameRate === undefined ? {} : { frameRate: Number(config.frameRate) }),
      };
    case 'ocsort':
      return {
        algorithm,
        trailLength,
        detThresh: settingNumber(config.detThresh, 0.6),
        maxAge: settingNumber(config.maxAge, 30),
        minHits: settingNumber(config.minHits, 3),
        iouThreshold: settingNumber(config.iouThreshold, 0.3),
        deltaT: settingNumber(config.deltaT, 3),
        inertia: settingNumber(config.inertia, 0.2),
        useByte: config.useByte === true || config.useByte === 'true',
      };
    case 'hybrid':
      return {
        algorithm,
        trailLength,
        trackThresh: settingNumber(config.trackThresh, 0.6),
        matchThresh: settingNumber(config.matchThresh, 0.9),
        lostSeconds: settingNumber(config.lostSeconds, 1),
        appearanceVeto: settingNumber(config.appearanceVeto, 0.5),
      };
    default:
      throw new RangeError(`unknown tracking algorithm "${algorithm}": choose hybrid, bytetrack, ocsort or sort`);
  }
}

type TrackMsg = NodeMessageInFlow & { frame?: unknown; cameraId?: unknown; detections?: unknown; detectFps?: unknown; reset?: boolean };

/** The detection rate yolo-detect reports with a camera's frames, when it is one a tracker can use. */
function detectFpsOf(msg: TrackMsg): number | undefined {
  const fps = msg.detectFps;
  return typeof fps === 'number' && fps > 0 && fps <= 1000 ? fps : undefined;
}

function lifecycleMessage(event: 'started' | 'ended', cameraId: string, track: Track, at: number, reason?: string): NodeMessage {
  return {
    topic: `${cameraId}/tracks/${event}`,
    payload: { event, cameraId, trackId: track.id, at, ...(reason ? { reason } : {}), track: describeTrack(track) },
  };
}

export = function register(RED: NodeAPI): void {
  function SortTrackNode(this: Node, config: SortTrackDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const visible = new Map<string, number>();
    let trackers: CameraTrackers;
    try {
      const settings = trackerSettings(config);
      // ByteTrack without a frame rate takes each camera's from its messages.
      trackers = new CameraTrackers(settings, { frameRateFromInput: settings.algorithm === 'bytetrack' && settings.frameRate === undefined });
    } catch (err) {
      refuseToRun(node, 'sort-track', err as Error);
      return;
    }
    const status = startThrottledStatus(node, () => {
      let total = 0;
      for (const count of visible.values()) total += count;
      return { fill: 'green', shape: 'dot', text: `${total} track${total === 1 ? '' : 's'}${visible.size > 1 ? ` · ${visible.size} cameras` : ''}` };
    });

    node.on('input', (incoming, send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as TrackMsg;
      try {
        const frame = msg.frame === undefined ? null : readFrameRef(msg.frame);
        const at = frame?.timestamp ?? Date.now();
        if (msg.payload === 'reset' || msg.reset === true) {
          const only = frame?.cameraId ?? (msg.cameraId === undefined ? undefined : checkCameraId(msg.cameraId, 'msg.cameraId'));
          const events: NodeMessage[] = [];
          for (const [cameraId, ended] of trackers.reset(only)) {
            visible.delete(cameraId);
            for (const track of ended) events.push(lifecycleMessage('ended', cameraId, track, at, 'reset'));
          }
          status.now();
          if (events.length > 0) send([null, events]);
          return done();
        }
        if (msg.detections === undefined) {
          throw new MessageError('sort-track needs msg.detections, an array of {bbox: [x1, y1, x2, y2], score, classId, label} (from yolo-detect)');
        }
        const detections = readList(msg.detections, 'msg.detections', 'yolo-detect') as DetectionInput[];
        const cameraId = frame?.cameraId ?? cameraIdOf(msg);
        const result = trackers.get(cameraId, detectFpsOf(msg)).update(detections, at);
        visible.set(cameraId, result.tracks.length);
        const out = msg as NodeMessage & { tracks?: unknown };
        out.tracks = result.tracks.map(describeTrack);
        const events = [
          ...result.started.map((t) => lifecycleMessage('started', cameraId, t, at)),
          ...result.ended.map((t) => lifecycleMessage('ended', cameraId, t, t.lastSeenAt)),
        ];
        send([out, events.length > 0 ? events : null]);
        done();
      } catch (err) {
        node.status(errorStatus(err as Error));
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      trackers.reset();
      done();
    });
  }

  RED.nodes.registerType('sort-track', SortTrackNode);
};
