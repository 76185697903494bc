import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import * as path from 'node:path';
import { readVideoFile } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { anchorCount } from '../src/detection/input-shape';
import { DEFAULT_MODEL_PATH, type YoloModel } from '../src/detection/model';
import { encodeImage } from '../src/imaging/image';
import type { RgbImage } from '../src/types';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DARKNET_DATA = '/usr/share/darknet/data';
export const VTEST = findSampleFile('vtest.avi');

/** Skips the calling suite with a clear reason when a file the setup script installs is absent. */
export function requireFile(context: Mocha.Context, file: string | undefined, what: string, remedy = '"npm run setup" installs it'): string {
  if (!file || !existsSync(file)) {
    console.log(`      skipped: ${what} not found (${file ?? 'no path'}); ${remedy}`);
    context.skip();
  }
  return file as string;
}

export function requireModel(context: Mocha.Context): string {
  return requireFile(context, DEFAULT_MODEL_PATH, 'the YOLOv8n model');
}

export function requireVtest(context: Mocha.Context): string {
  return requireFile(context, VTEST, "OpenCV's sample video vtest.avi (Debian package opencv-doc)");
}

export function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

/**
 * Asks `read` until `ok` accepts its answer (an answer that throws counts as not yet), and returns that answer;
 * on timeout the error shows the last answer or error.
 */
export async function waitUntil<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  let last: string | undefined;
  for (;;) {
    try {
      const value = await read();
      if (ok(value)) return value;
      last = `last: ${JSON.stringify(value)?.slice(0, 500)}`;
    } catch (err) {
      last = `last error: ${(err as Error).message}`;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Ends a child process the test started and waits until it has exited. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

export const MOT15 = process.env.MOT15_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'mot15');

/** Skips the calling test when the MOT15 reference data (../shared/data/mot15) is absent. */
export function requireMot15(context: Mocha.Context): string {
  requireFile(context, path.join(MOT15, 'train'), 'MOT15 reference data', 'it is the shared test data: put it in ../shared/data/mot15 or set MOT15_DIR');
  return MOT15;
}

/** The first `count` frames of a video at width x height (0: the video's), decoded by FFmpeg as a camera-source would. */
export async function videoFrames(file: string, count: number, width = 0, height = 0): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  for await (const frame of readVideoFile(file, { width, height })) {
    frames.push(frame);
    if (frames.length === count) break;
  }
  return frames;
}

/** The first `count` frames of a video as JPEGs of width x height. */
export async function videoJpegs(file: string, count: number, width: number, height: number): Promise<Buffer[]> {
  return Promise.all((await videoFrames(file, count, width, height)).map((frame) => encodeImage(frame, 'jpeg', 85)));
}

/** Whether something accepts TCP connections on a loopback port (a server the test started is up). */
export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A name of its own for a video file (a link to it), so a test can find the FFmpeg reading it among all others. */
export function uniqueVideo(file: string, name: string): string {
  const link = path.join(mkdtempSync(path.join(tmpdir(), 'video-')), `${name}-${process.pid}${path.extname(file)}`);
  symlinkSync(file, link);
  return link;
}

/** The FFmpeg processes whose command line names `file`. */
export function ffmpegReading(file: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `ffmpeg.*${file}`], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Sends `signal` to the FFmpeg reading `file`, as the kernel's OOM killer or a crash would; false when none runs. */
export function signalFfmpeg(file: string, signal: NodeJS.Signals): boolean {
  const pids = ffmpegReading(file);
  for (const pid of pids) process.kill(pid, signal);
  return pids.length > 0;
}

/**
 * A stand-in model that finds nothing: what a copy that misplaced its anchor grid, or quantised badly, looks like
 * to a check against the real model.
 */
export function blindModel(inputWidth: number, inputHeight: number): { model: YoloModel; released: () => boolean } {
  let released = false;
  const anchors = anchorCount({ width: inputWidth, height: inputHeight });
  const model = {
    inputWidth,
    inputHeight,
    maxBatch: 1,
    labelOf: (id: number) => `class ${id}`,
    health: () => ({ state: 'ready', restarts: 0, lastError: null }),
    run: async (input: Float32Array) => ({ channels: 84, images: [{ data: new Float32Array(84 * anchors), anchors }], input, runMs: 0 }),
    release: async () => void (released = true),
  } as unknown as YoloModel;
  return { model, released: () => released };
}
