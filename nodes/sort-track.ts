import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { CameraTrackers } from '../src/tracking/camera-trackers';
import { describeTrack, type Track } from '../src/tracking/sort';
import type { FrameRef } from '../src/types';
import { cameraIdOf } from '../src/messages';
import { errorStatus, refuseToRun, settingNumber, startThrottledStatus } from './status';

interface SortTrackDef extends NodeDef {
  maxAge: string | number;
  minHits: string | number;
  iouThreshold: string | number;
  trailLength: string | number;
}

type TrackMsg = NodeMessageInFlow & { frame?: FrameRef; cameraId?: string; detections?: unknown; reset?: boolean };

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
      trackers = new CameraTrackers({
        maxAge: settingNumber(config.maxAge, 30),
        minHits: settingNumber(config.minHits, 3),
        iouThreshold: settingNumber(config.iouThreshold, 0.3),
        trailLength: settingNumber(config.trailLength, 30),
      });
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
      const msg = incoming as TrackMsg;
      const at = Number.isFinite(msg.frame?.timestamp) ? (msg.frame!.timestamp as number) : Date.now();
      if (msg.payload === 'reset' || msg.reset === true) {
        const only = msg.frame?.cameraId ?? msg.cameraId;
        const events: NodeMessage[] = [];
        for (const [cameraId, ended] of trackers.reset(only)) {
          visible.delete(cameraId);
          for (const track of ended) events.push(lifecycleMessage('ended', cameraId, track, at, 'reset'));
        }
        status.now();
        if (events.length > 0) send([null, events]);
        return done();
      }
      if (!Array.isArray(msg.detections)) {
        return done(new Error('sort-track needs msg.detections, an array of {bbox: [x1, y1, x2, y2], score, classId, label} (from yolo-detect)'));
      }
      try {
        const cameraId = cameraIdOf(msg);
        const result = trackers.get(cameraId).update(msg.detections, at);
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
        done(err as Error);
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
