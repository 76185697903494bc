import { setTimeout as sleep } from 'node:timers/promises';
import { opencv, type Mat } from '../opencv';
import type { CaptureConfig, FromCapture, ToCapture } from './capture-protocol';
import { describeSource } from './source';

// Owns one VideoCapture in its own process: OpenCV's blocking reads never stall Node-RED's event loop, a
// crash inside a camera driver or FFmpeg cannot take Node-RED down, and a read stuck on a dead stream can be
// killed. (The OpenCV binding keeps its class templates in static variables, so two threads of one process
// cannot both use it.)
let config: CaptureConfig | undefined;
let credit = 0;
let stopping = false;
let creditArrived: (() => void) | undefined;

process.on('message', (message: ToCapture) => {
  if (message.type === 'start') {
    if (config) return;
    config = message.config;
    capture(config)
      .catch((err: Error) => post({ type: 'failed', message: err.message }))
      .finally(() => process.exit(0));
    return;
  }
  if (message.type === 'credit') credit += message.frames;
  else stopping = true;
  creditArrived?.();
});
// The parent went away (Node-RED stopped or crashed): nobody needs our frames.
process.on('disconnect', () => process.exit(0));

function post(message: FromCapture): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

function outputSize(config: CaptureConfig, sourceWidth: number, sourceHeight: number): [number, number] {
  const { width, height } = config;
  if (width > 0 && height > 0) return [width, height];
  if (width > 0) return [width, Math.max(1, Math.round((sourceHeight * width) / sourceWidth))];
  if (height > 0) return [Math.max(1, Math.round((sourceWidth * height) / sourceHeight)), height];
  return [sourceWidth, sourceHeight];
}

function waitForCredit(): Promise<void> {
  return new Promise((resolve) => {
    creditArrived = () => {
      creditArrived = undefined;
      resolve();
    };
  });
}

async function capture(config: CaptureConfig): Promise<void> {
  const cv = opencv();
  const { source } = config;
  const isFile = source.kind === 'file';
  const target = source.kind === 'file' ? source.path : source.kind === 'usb' ? source.device : source.url;
  let cap;
  try {
    // FFmpeg handles network streams best; files and devices let OpenCV pick the backend.
    cap = source.kind === 'stream' ? new cv.VideoCapture(source.url, cv.CAP_FFMPEG) : new cv.VideoCapture(target);
  } catch (err) {
    throw new Error(`cannot open ${isFile ? 'video file' : 'camera'} ${describeSource(source)}: ${(err as Error).message}`);
  }
  try {
    const sourceFps = cap.get(cv.CAP_PROP_FPS);
    const frameMs = isFile && config.realtime ? 1000 / (sourceFps > 0 && sourceFps < 1000 ? sourceFps : 25) : 0;
    const emitMs = config.fps > 0 ? 1000 / config.fps : 0;
    let opened = false;
    let dropped = 0;
    let played = 0;
    let rewoundWithoutFrame = false;
    let nextEmitAt = 0;
    const startedAt = performance.now();
    while (!stopping) {
      if (isFile && !config.realtime && credit <= 0) {
        await waitForCredit();
        continue;
      }
      const mat: Mat = cap.read();
      if (mat.empty) {
        mat.release();
        if (!isFile) throw new Error('the stream stopped delivering frames');
        if (!config.loop || rewoundWithoutFrame || played === 0) {
          if (played === 0) throw new Error(`${describeSource(source)} contains no readable video frames`);
          await post({ type: 'ended' });
          return;
        }
        cap.set(cv.CAP_PROP_POS_FRAMES, 0);
        rewoundWithoutFrame = true;
        continue;
      }
      rewoundWithoutFrame = false;
      if (!opened) {
        opened = true;
        void post({ type: 'opened', width: mat.cols, height: mat.rows, fps: sourceFps });
      }
      // A file's own clock: frame n is due n frame-intervals after the start, so playback is real time.
      const mediaTime = isFile && config.realtime ? played * frameMs : performance.now() - startedAt;
      played++;
      if (mediaTime + 1e-6 < nextEmitAt) {
        mat.release();
      } else if (credit <= 0) {
        mat.release();
        dropped++;
      } else {
        nextEmitAt = Math.max(nextEmitAt + emitMs, mediaTime);
        credit--;
        const timestamp = Date.now();
        const [width, height] = outputSize(config, mat.cols, mat.rows);
        const sized = width === mat.cols && height === mat.rows ? mat : mat.resize(height, width, 0, 0, cv.INTER_AREA);
        if (sized !== mat) mat.release();
        const pixels = sized.getData();
        sized.release();
        void post({ type: 'frame', pixels, width, height, timestamp, dropped });
      }
      const wait = frameMs > 0 ? startedAt + played * frameMs - performance.now() : 0;
      // Yield every frame so credit and stop requests arrive.
      await sleep(Math.max(0, wait));
    }
  } finally {
    cap.release();
  }
}
