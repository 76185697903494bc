import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { frameStore } from '../src/camera/frame-store';
import { parseClassList } from '../src/detection/classes';
import type { DetectOptions } from '../src/detection/detector';
import { LatestOnlyScheduler } from '../src/detection/latest-only';
import { DEFAULT_MAX_PIXELS, decodeImage } from '../src/imaging/image';
import { readFrameRef } from '../src/messages';
import { RECOMMENDED_DETECTION_CONFIDENCE } from '../src/tracking/trackers';
import type { FrameRef, RgbImage } from '../src/types';
import { errorStatus, failMessage, refuseTooDeep, settingNumber, startThrottledStatus } from './status';
import type { YoloModelNode } from './types';

interface YoloDetectDef extends NodeDef {
  model: string;
  confidence: string | number;
  iou: string | number;
  classes: string;
  /** Absent in flows from before the setting: the default. */
  maxMegapixels?: string | number;
}

/** Images in msg.payload decoded or detected at once: all are processed, so a flood must be refused, not queued. */
const MAX_IMAGES_IN_FLIGHT = 32;

/** Below this score a box is shown in the status as "low": kept for ByteTrack's second round, not a person found. */
const CONFIDENT_SCORE = 0.5;

interface Job {
  msg: NodeMessageInFlow & { frame?: FrameRef };
  send: (msg: NodeMessage) => void;
  done: (err?: Error) => void;
  image: () => RgbImage | Promise<RgbImage>;
}

function unitInterval(value: string | number, fallback: number, name: string): number {
  if (value === '' || value === undefined || value === null) return fallback;
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new Error(`${name} must be between 0 and 1, got ${value}`);
  return parsed;
}


export = function register(RED: NodeAPI): void {
  function YoloDetectNode(this: Node, config: YoloDetectDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const modelNode = RED.nodes.getNode(config.model) as YoloModelNode | null;
    let lastMs = 0;
    let lastCount = 0;
    let lastLowCount = 0;
    let completed = 0;
    let windowStart = Date.now();
    let fps = 0;
    let failure: Error | undefined;
    let stale = 0;

    const status = startThrottledStatus(node, () => {
      if (failure) return errorStatus(failure);
      const phase = modelNode?.phase();
      if (phase === 'fetching') return { fill: 'yellow', shape: 'ring', text: 'fetching model…' };
      if (phase === 'loading') return { fill: 'yellow', shape: 'ring', text: 'loading model…' };
      if (completed === 0 && fps === 0) return phase === 'ready' ? { fill: 'green', shape: 'ring', text: 'model ready' } : null;
      const elapsed = (Date.now() - windowStart) / 1000;
      if (elapsed >= 1) {
        fps = completed / elapsed;
        completed = 0;
        windowStart = Date.now();
      }
      const dropped = scheduler.dropped + stale;
      return { fill: 'green', shape: 'dot', text: `${Math.round(lastMs)} ms · ${fps.toFixed(1)} fps · ${lastCount} found${lastLowCount ? ` (+${lastLowCount} low)` : ''}${dropped ? ` · dropped ${dropped}` : ''}` };
    });

    const maxMegapixels = settingNumber(config.maxMegapixels, DEFAULT_MAX_PIXELS / 1e6);
    // Settings are checked once, when the model is ready; a problem is then reported on every message.
    const ready = !(maxMegapixels > 0)
      ? Promise.reject(new Error(`Largest image must be above 0 megapixels, got ${config.maxMegapixels}`))
      : modelNode
      ? modelNode.detector().then((detector) => {
          const options: DetectOptions = {
            confidence: unitInterval(config.confidence, RECOMMENDED_DETECTION_CONFIDENCE, 'confidence'),
            iou: unitInterval(config.iou, 0.45, 'IoU threshold'),
            classes: parseClassList(config.classes ?? 'person', detector.model.classNames),
            maxDetections: 300,
          };
          return { detector, options };
        })
      : Promise.reject(new Error('no model configured: choose or add a yolo-model config node'));
    ready.catch((err: Error) => {
      failure = err;
      status.now();
    });
    status.now();

    const scheduler = new LatestOnlyScheduler<Job>(
      async (job) => {
        try {
          const { detector, options } = await ready;
          const result = await detector.detect(await job.image(), options);
          const out = job.msg as NodeMessage & { detections?: unknown };
          out.detections = result.detections;
          lastMs = result.inferenceMs;
          // Boxes kept only for the tracker's second chance (a low confidence) are not people found: counted apart.
          lastLowCount = result.detections.filter((d) => d.score < CONFIDENT_SCORE).length;
          lastCount = result.detections.length - lastLowCount;
          completed++;
          failure = undefined;
          job.send(out);
          job.done();
        } catch (err) {
          failure = err as Error;
          status.now();
          failMessage(job.msg, job.done, err as Error);
        }
      },
      (dropped) => dropped.done(),
    );

    let imagesInFlight = 0;
    node.on('input', (msg, send, done) => {
      if (refuseTooDeep(msg, done)) return;
      const { frame: given, payload } = msg as Job['msg'];
      if (given !== undefined) {
        let frame: FrameRef;
        try {
          frame = readFrameRef(given);
        } catch (err) {
          return failMessage(msg, done, err as Error);
        }
        const stored = frameStore.get(frame);
        if (!stored) {
          // The camera has moved on and evicted this frame: detecting it now would only add latency.
          stale++;
          return done();
        }
        scheduler.submit(`frame:${frame.cameraId}`, { msg: msg as Job['msg'], send, done, image: () => stored });
        return;
      }
      if (Buffer.isBuffer(payload) || payload instanceof Uint8Array) {
        if (imagesInFlight >= MAX_IMAGES_IN_FLIGHT) {
          return failMessage(msg, done, new Error(`${MAX_IMAGES_IN_FLIGHT} images are being detected already: send images no faster than the node detects them (see its status)`));
        }
        imagesInFlight++;
        const image = () =>
          decodeImage(payload, maxMegapixels * 1e6).catch((err: Error) => {
            throw new Error(`msg.payload: ${err.message} (yolo-detect's "Largest image" setting)`);
          });
        const finish = (err?: Error) => {
          imagesInFlight--;
          done(err);
        };
        scheduler.submit(`image:${msg._msgid}`, { msg: msg as Job['msg'], send, done: finish, image });
        return;
      }
      failMessage(msg, done, new Error('yolo-detect needs msg.frame from a camera-source node, or an encoded image (JPEG/PNG Buffer) in msg.payload'));
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      done();
    });
  }

  RED.nodes.registerType('yolo-detect', YoloDetectNode);
};
