import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { frameStore } from '../src/camera/frame-store';
import { parseClassList } from '../src/detection/classes';
import { spareCameras, SupersededError, type DetectOptions, type Detector } from '../src/detection/detector';
import { nearBoundaries } from '../src/detection/near-boundary';
import { DEFAULT_MOTION_OPTIONS } from '../src/detection/motion';
import { DEFAULT_DETECT_FPS, DEFAULT_KEEP_ALIVE_SECONDS, DetectionSchedules } from '../src/detection/schedule';
import { detectionRegistry, meanDetectFps } from '../src/detection/usage-registry';
import { DEFAULT_MAX_PIXELS, decodeImage } from '../src/imaging/image';
import { readFrameRef } from '../src/messages';
import { RECOMMENDED_DETECTION_CONFIDENCE } from '../src/tracking/trackers';
import type { FrameRef, RgbImage } from '../src/types';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber, startThrottledStatus } from './status';
import type { YoloModelNode } from './types';

type Setting = string | number | undefined;

interface YoloDetectDef extends NodeDef {
  model: string;
  confidence: string | number;
  iou: string | number;
  classes: string;
  /** Absent in flows from before the setting: the default. */
  maxMegapixels?: Setting;
  /** Frames detected per second and camera; blank or absent (flows from before the setting): every frame. */
  detectFps?: Setting;
  motionGating?: boolean | string;
  motionThreshold?: Setting;
  /** Percent of the frame. */
  motionArea?: Setting;
  keepAlive?: Setting;
  /** Frames detected per second while someone is near a line or zone edge; blank or absent: off. */
  nearFps?: Setting;
  /** Colour histograms of the upper body with each detection, for the hybrid tracker's colour cue; absent: off. */
  colours?: boolean | string;
}

/** Images in msg.payload decoded or detected at once: all are processed, so a flood must be refused, not queued. */
const MAX_IMAGES_IN_FLIGHT = 32;

/** Below this score a box is shown in the status as "low": kept for ByteTrack's second round, not a person found. */
const CONFIDENT_SCORE = 0.5;

type FrameMsg = NodeMessageInFlow & { frame?: FrameRef };

interface FrameJob {
  msg: FrameMsg;
  send: (msg: NodeMessage) => void;
  done: (err?: Error) => void;
  frame: FrameRef;
  stored: RgbImage;
  /** Lets the frame store reuse the frame's pixels: called once the job is over. */
  release: () => void;
}

function unitInterval(value: string | number, fallback: number, name: string): number {
  if (value === '' || value === undefined || value === null) return fallback;
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new Error(`${name} must be between 0 and 1, got ${value}`);
  return parsed;
}

function schedulesOf(config: YoloDetectDef): DetectionSchedules {
  const gating = config.motionGating === true || config.motionGating === 'true';
  return new DetectionSchedules({
    detectFps: settingNumber(config.detectFps, DEFAULT_DETECT_FPS),
    motion: gating
      ? {
          ...DEFAULT_MOTION_OPTIONS,
          threshold: settingNumber(config.motionThreshold, DEFAULT_MOTION_OPTIONS.threshold),
          minArea: settingNumber(config.motionArea, DEFAULT_MOTION_OPTIONS.minArea * 100) / 100,
        }
      : null,
    keepAliveSeconds: settingNumber(config.keepAlive, DEFAULT_KEEP_ALIVE_SECONDS),
    boostFps: settingNumber(config.nearFps, 0),
  });
}

export = function register(RED: NodeAPI): void {
  function YoloDetectNode(this: Node, config: YoloDetectDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const modelNode = RED.nodes.getNode(config.model) as YoloModelNode | null;
    let schedules: DetectionSchedules;
    try {
      schedules = schedulesOf(config);
    } catch (err) {
      refuseToRun(node, 'yolo-detect', err as Error);
      return;
    }
    const streamOf = (cameraId: string) => `${node.id}:${cameraId}`;
    const staleByCamera = new Map<string, number>();
    let loaded: { detector: Detector; options: DetectOptions } | undefined;
    let lastCount = 0;
    let lastLowCount = 0;
    let failure: Error | undefined;

    const status = startThrottledStatus(node, () => {
      if (failure) return errorStatus(failure);
      const phase = modelNode?.phase();
      if (phase === 'fetching') return { fill: 'yellow', shape: 'ring', text: 'fetching model…' };
      if (phase === 'loading') return { fill: 'yellow', shape: 'ring', text: 'loading model…' };
      if (phase === 'restarting') return { fill: 'yellow', shape: 'ring', text: 'model restarting after its worker thread stopped…' };
      if (!loaded) return phase === 'ready' ? { fill: 'green', shape: 'ring', text: 'model ready' } : null;
      // The WebAssembly runtime counts the same, several times slower: a fallback is worth a look, so it is shown.
      const runtime = loaded.detector.model.runtime === 'wasm' ? ' · WebAssembly runtime' : '';
      const usage = loaded.detector.usage();
      const cameras = report(usage);
      if (cameras.length === 0 && lastCount === 0) return { fill: runtime ? 'yellow' : 'green', shape: 'ring', text: `model ready${runtime}` };
      const found = `${lastCount} found${lastLowCount ? ` (+${lastLowCount} low)` : ''}`;
      if (cameras.length === 0) return { fill: 'green', shape: 'dot', text: `${found} · ${Math.round(usage.msPerImage ?? 0)} ms` };
      const fps = cameras.reduce((sum, c) => sum + c.fps, 0) / cameras.length;
      const spare = spareCameras(usage, meanDetectFps(cameras));
      const dropped = cameras.reduce((sum, c) => sum + c.superseded + c.stale, 0);
      const parts = [
        found,
        `${fps.toFixed(1)} fps${cameras.length > 1 ? ` × ${cameras.length} cameras` : ''}`,
        `model ${Math.round(usage.busy * 100)} % busy${spare === null ? '' : `, room for ${spare} more`}`,
        ...(dropped ? [`dropped ${dropped}`] : []),
        ...(runtime ? ['WebAssembly'] : []),
      ];
      return { fill: usage.busy > 0.95 ? 'yellow' : 'green', shape: 'dot', text: parts.join(' · ') };
    });

    function report(usage = loaded?.detector.usage()) {
      const streams = new Map(usage?.streams.map((s) => [s.stream, s]));
      return schedules.entries().map(([cameraId, schedule]) => {
        const usage = streams.get(streamOf(cameraId));
        return {
          cameraId,
          model: config.model,
          motionGating: schedules.options.motion !== null,
          ...schedule.stats(),
          fps: usage?.fps ?? 0,
          share: usage?.share ?? 0,
          processed: usage?.processed ?? 0,
          superseded: usage?.superseded ?? 0,
          stale: staleByCamera.get(cameraId) ?? 0,
        };
      });
    }
    detectionRegistry.addReporter(node.id, report);

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
            appearance: config.colours === true || config.colours === 'true',
          };
          loaded = { detector, options };
          return loaded;
        })
      : Promise.reject(new Error('no model configured: choose or add a yolo-model config node'));
    ready.catch((err: Error) => {
      failure = err;
      status.now();
    });
    status.now();

    async function detect(msg: FrameMsg, send: (msg: NodeMessage) => void, done: (err?: Error) => void, image: RgbImage | Promise<RgbImage>, stream?: string, detectFps?: number | null) {
      // A decoding failure is reported below, once the model is ready: until then it must not count as unhandled.
      if (image instanceof Promise) image.catch(() => undefined);
      try {
        const { detector, options } = loaded ?? (await ready);
        const result = await detector.detect(await image, options, stream);
        const out = msg as NodeMessage & { detections?: unknown; detectFps?: number };
        out.detections = result.detections;
        if (detectFps) out.detectFps = detectFps;
        // Boxes kept only for the tracker's second chance (a low confidence) are not people found: counted apart.
        lastLowCount = result.detections.filter((d) => d.score < CONFIDENT_SCORE).length;
        lastCount = result.detections.length - lastLowCount;
        failure = undefined;
        send(out);
        done();
      } catch (err) {
        // A newer frame of the camera took this one's place while the model was busy: dropped, and counted.
        if (err instanceof SupersededError) return done();
        failure = err as Error;
        status.now();
        failMessage(msg, done, err as Error);
      }
    }

    function detectFrame({ msg, send, done, frame, stored, release }: FrameJob) {
      let schedule;
      try {
        schedule = schedules.of(frame.cameraId);
      } catch (err) {
        release();
        return failMessage(msg, done, err as Error);
      }
      const decision = schedule.decide(frame.timestamp, stored, nearBoundaries.isNear(frame.cameraId, frame.timestamp));
      if (decision !== 'detect') {
        release();
        return done();
      }
      void detect(msg, send, done, stored, streamOf(frame.cameraId), schedule.detectFps).finally(release);
    }

    const waitingForModel = new Map<string, FrameJob>();
    ready.then(
      () => {
        for (const job of waitingForModel.values()) detectFrame(job);
        waitingForModel.clear();
      },
      (err: Error) => {
        for (const job of waitingForModel.values()) {
          job.release();
          failMessage(job.msg, job.done, err);
        }
        waitingForModel.clear();
      },
    );

    let imagesInFlight = 0;
    node.on('input', (incoming, send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as FrameMsg;
      const { frame: given, payload } = msg;
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
          staleByCamera.set(frame.cameraId, (staleByCamera.get(frame.cameraId) ?? 0) + 1);
          return done();
        }
        if (failure && !loaded) return failMessage(msg, done, failure);
        // The store reuses the pixels of frames it evicts: these are kept until the job is over.
        const release = frameStore.hold(stored);
        if (loaded) return detectFrame({ msg, send, done, frame, stored, release });
        // Until the model is ready, each camera's newest frame waits.
        const waiting = waitingForModel.get(frame.cameraId);
        waitingForModel.set(frame.cameraId, { msg, send, done, frame, stored, release });
        waiting?.release();
        waiting?.done();
        return;
      }
      if (Buffer.isBuffer(payload) || payload instanceof Uint8Array) {
        if (imagesInFlight >= MAX_IMAGES_IN_FLIGHT) {
          return failMessage(msg, done, new Error(`${MAX_IMAGES_IN_FLIGHT} images are being detected already: send images no faster than the node detects them (see its status)`));
        }
        imagesInFlight++;
        const image = decodeImage(payload, maxMegapixels * 1e6).catch((err: Error) => {
          throw new Error(`msg.payload: ${err.message} (yolo-detect's "Largest image" setting)`);
        });
        void detect(msg, send, (err?: Error) => {
          imagesInFlight--;
          done(err);
        }, image);
        return;
      }
      failMessage(msg, done, new Error('yolo-detect needs msg.frame from a camera-source node, or an encoded image (JPEG/PNG Buffer) in msg.payload'));
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      detectionRegistry.removeReporter(node.id);
      for (const job of waitingForModel.values()) {
        job.release();
        job.done();
      }
      waitingForModel.clear();
      if (loaded) for (const [cameraId] of schedules.entries()) loaded.detector.forget(streamOf(cameraId));
      done();
    });
  }

  RED.nodes.registerType('yolo-detect', YoloDetectNode);
};
