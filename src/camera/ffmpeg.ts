import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { RgbImage } from '../types';
import type { VideoSource } from './source';

/** What one FFmpeg run is asked to deliver. */
export interface CaptureSettings {
  source: VideoSource;
  /** Output size; 0 keeps the source's size for that dimension (the other one scales to keep aspect). */
  width: number;
  height: number;
  /** Most frames per second to deliver; 0 delivers every frame the source gives. */
  fps: number;
  /** File sources: start again at the end. */
  loop: boolean;
  /** File sources: the file's own frame rate, when known; FFmpeg then keeps the output at min(fps, this). */
  sourceFps?: number;
}

export const FFMPEG_INSTALL_HINT = 'install FFmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg) or set its path in the camera-source node';

/** The FFmpeg executable: the one named in the node, else FFMPEG_PATH, else `ffmpeg` on the PATH. */
export function ffmpegExecutable(configured?: string): string {
  return configured?.trim() || process.env.FFMPEG_PATH || 'ffmpeg';
}

/** A rate limit FFmpeg applies by timestamps without ever repeating a frame (its fps filter would, on a slow live source). */
function atMostPerSecond(fps: number): string {
  // Keeps a frame when its time has reached the next slot; slots advance by 1/fps, or restart at a late frame.
  return `select='gte(t+1e-6\\,ld(0))*(1+0*st(0\\,max(ld(0)+${1 / fps}\\,t)))'`;
}

/** FFmpeg's command line for one capture run: decoded, scaled and rate-limited frames as PPM images on stdout. */
export function ffmpegArguments(settings: CaptureSettings): string[] {
  const { source, width, height, fps, loop, sourceFps } = settings;
  const input: string[] = [];
  switch (source.kind) {
    case 'file':
      if (loop) input.push('-stream_loop', '-1');
      input.push('-i', source.path);
      break;
    case 'usb':
      input.push('-f', 'v4l2', '-i', typeof source.device === 'number' ? `/dev/video${source.device}` : source.device);
      break;
    case 'stream':
      // TCP gets RTSP through firewalls and NAT and loses no packets; other schemes take no such option.
      if (/^rtsps?:/i.test(source.url)) input.push('-rtsp_transport', 'tcp');
      input.push('-i', source.url);
      break;
  }
  const filters: string[] = [];
  if (fps > 0) {
    // A file's frames have a steady rate: the fps filter keeps them evenly spaced, which real-time playback paces by.
    if (source.kind === 'file') {
      if (!sourceFps || fps < sourceFps) filters.push(`fps=${fps}`);
    } else {
      filters.push(atMostPerSecond(fps));
    }
  }
  if (width > 0 || height > 0) filters.push(`scale=${width > 0 ? width : -1}:${height > 0 ? height : -1}:flags=area`);
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    ...input,
    '-map', '0:v:0', '-an', '-sn', '-dn',
    ...(filters.length > 0 ? ['-vf', filters.join(',')] : []),
    // PPM: each frame carries its own size, so a camera that changes resolution is read correctly.
    '-f', 'image2pipe', '-c:v', 'ppm', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
}

/** FFprobe's answer (installed beside FFmpeg) on a file's first video stream, by field; empty when it cannot tell. */
function probe(ffmpeg: string, file: string, fields: string[]): Promise<Map<string, string>> {
  const ffprobe = path.join(path.dirname(ffmpeg), path.basename(ffmpeg).replace(/ffmpeg/i, 'ffprobe'));
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', `stream=${fields.join(',')}`, '-of', 'default=noprint_wrappers=1', file];
  return new Promise((resolve) => {
    execFile(ffprobe === ffmpeg ? 'ffprobe' : ffprobe, args, { timeout: 10000 }, (err, stdout) => {
      const answer = new Map<string, string>();
      if (!err) for (const line of String(stdout).split('\n')) if (line.includes('=')) answer.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1).trim());
      resolve(answer);
    });
  });
}

/** The frame rate of a video file, or undefined when FFprobe cannot tell. */
export async function probeFrameRate(ffmpeg: string, file: string): Promise<number | undefined> {
  const answer = await probe(ffmpeg, file, ['avg_frame_rate', 'r_frame_rate']);
  const rates = [answer.get('avg_frame_rate'), answer.get('r_frame_rate')].map((text = '') => {
    const [num, den = '1'] = text.split('/');
    return Number(num) / Number(den);
  });
  return rates.find((rate) => Number.isFinite(rate) && rate > 0 && rate < 1000);
}

/** How many frames reading the file gives (at `fps` when set), or undefined when FFprobe cannot tell. */
export async function probeFrameCount(ffmpeg: string, file: string, fps?: number): Promise<number | undefined> {
  const answer = await probe(ffmpeg, file, ['nb_frames', 'duration']);
  const frames = Number(answer.get('nb_frames'));
  const duration = Number(answer.get('duration'));
  if (fps && Number.isFinite(duration) && duration > 0) return Math.ceil(duration * fps);
  return Number.isInteger(frames) && frames > 0 ? frames : undefined;
}

/**
 * The frames in a stream of binary PPM (P6) images, as FFmpeg writes them; each frame gets a buffer of its own,
 * from `allocate` (by default a new one).
 */
export class PpmReader {
  private header = '';
  private frame: Uint8Array | undefined;
  private filled = 0;
  private width = 0;
  private height = 0;

  constructor(
    private readonly onFrame: (pixels: Uint8Array, width: number, height: number) => void,
    private readonly allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
  ) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.frame) {
        offset = this.readHeader(chunk, offset);
        continue;
      }
      const take = Math.min(chunk.length - offset, this.frame.length - this.filled);
      chunk.copy(this.frame, this.filled, offset, offset + take);
      this.filled += take;
      offset += take;
      if (this.filled === this.frame.length) {
        const pixels = this.frame;
        this.frame = undefined;
        this.onFrame(pixels, this.width, this.height);
      }
    }
  }

  /** Reads header bytes ("P6\n<w> <h>\n255\n") up to the start of the pixels; returns the new offset. */
  private readHeader(chunk: Buffer, offset: number): number {
    let at = offset;
    while (at < chunk.length) {
      this.header += String.fromCharCode(chunk[at++]);
      const match = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s$/.exec(this.header);
      if (match) {
        const [, width, height, max] = match.map(Number);
        if (max !== 255 || width <= 0 || height <= 0) throw new Error(`FFmpeg sent an unexpected image header "${this.header.trim()}"`);
        this.width = width;
        this.height = height;
        this.frame = this.allocate(width * height * 3);
        this.filled = 0;
        this.header = '';
        return at;
      }
      if (this.header.length > 64 || !'P6'.startsWith(this.header.slice(0, 2))) {
        throw new Error(`FFmpeg sent something that is not a PPM image header: "${this.header.slice(0, 20)}"`);
      }
    }
    return at;
  }
}

export interface CaptureRunHandlers {
  frame(pixels: Uint8Array, width: number, height: number): void;
  /** The buffer for the next frame's pixels (by default a new one). */
  allocate?(size: number): Uint8Array;
  /** FFmpeg finished: null at the end of a file, else what went wrong. */
  exit(error: Error | null): void;
}

/** One FFmpeg process decoding a source to frames; `stop` ends it, `pause`/`resume` hold its output (pacing). */
export class CaptureRun {
  private readonly child: ChildProcess;
  private stderrTail = '';
  private finished = false;
  private frames = 0;

  constructor(
    ffmpeg: string,
    settings: CaptureSettings,
    private readonly handlers: CaptureRunHandlers,
    /** Hides secrets (a stream URL's password) in what FFmpeg says. */
    private readonly redact: (text: string) => string,
  ) {
    this.child = spawn(ffmpeg, ffmpegArguments(settings), { stdio: ['ignore', 'pipe', 'pipe'] });
    const reader = new PpmReader((pixels, width, height) => {
      this.frames++;
      handlers.frame(pixels, width, height);
    }, handlers.allocate);
    this.child.stdout!.on('data', (chunk: Buffer) => {
      if (this.finished) return;
      try {
        reader.push(chunk);
      } catch (err) {
        this.finish(err as Error);
        this.child.kill('SIGKILL');
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      this.finish(err.code === 'ENOENT' ? new FfmpegMissingError(ffmpeg) : err);
    });
    this.child.on('close', (code, signal) => {
      if (code === 0) return this.finish(this.frames > 0 ? null : new Error('it contains no readable video frames'));
      const said = this.redact(this.stderrTail.trim().split('\n').filter(Boolean).slice(-2).join('; '));
      // A signal is the reason whatever FFmpeg said before it (the OOM killer, a crash, someone's kill).
      if (signal) return this.finish(new Error(`FFmpeg was killed (${signal})${said ? `; it had said: ${said}` : ''}`));
      this.finish(new Error(said || `FFmpeg stopped (exit code ${code})`));
    });
  }

  pause(): void {
    this.child.stdout?.pause();
  }

  resume(): void {
    this.child.stdout?.resume();
  }

  /** Ends FFmpeg without reporting an exit: the caller asked for it. */
  stop(): Promise<void> {
    this.finished = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    // Nothing to finish writing: frames go to a pipe, not a file.
    this.child.kill('SIGKILL');
    return closed;
  }

  private finish(error: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.handlers.exit(error);
  }
}

/** FFmpeg is not installed (or not where the node says): retrying cannot help. */
export class FfmpegMissingError extends Error {
  constructor(readonly executable: string) {
    super(`FFmpeg not found ("${executable}"): ${FFMPEG_INSTALL_HINT}`);
  }
}

const READ_AHEAD = 4;

/**
 * The frames of a video file in order, decoded as a camera-source decodes them, for tools and benchmarks: FFmpeg
 * waits while the consumer does (a few frames ahead at most) and is stopped when the loop ends.
 */
export async function* readVideoFile(file: string, options: { width?: number; height?: number; fps?: number; ffmpeg?: string } = {}): AsyncGenerator<RgbImage> {
  const ready: RgbImage[] = [];
  /** undefined while FFmpeg runs; then null at the end of the file, or what went wrong. */
  let outcome: Error | null | undefined;
  let wake: (() => void) | undefined;
  const run = new CaptureRun(
    ffmpegExecutable(options.ffmpeg),
    { source: { kind: 'file', path: file }, width: options.width ?? 0, height: options.height ?? 0, fps: options.fps ?? 0, loop: false },
    {
      frame: (pixels, width, height) => {
        ready.push({ pixels, width, height });
        if (ready.length >= READ_AHEAD) run.pause();
        wake?.();
      },
      exit: (error) => {
        outcome = error;
        wake?.();
      },
    },
    (text) => text,
  );
  try {
    for (;;) {
      const image = ready.shift();
      if (image) {
        // Reading resumes only once the consumer has nearly caught up: pausing and resuming the pipe at every frame
        // would halve the rate.
        if (ready.length <= 1) run.resume();
        yield image;
      } else if (outcome === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
      } else if (outcome) {
        throw outcome;
      } else {
        return;
      }
    }
  } finally {
    await run.stop();
  }
}
