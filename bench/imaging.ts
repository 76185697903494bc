/**
 * The pixel path without the network, on vtest.avi (768x576), in one run:
 *   decoding the whole file: FFmpeg over a pipe (what camera-source does) against OpenCV's VideoCapture in this
 *   process (what it did before), frames per second and CPU per frame (FFmpeg's own CPU included);
 *   per frame: letterbox to 640x480, JPEG encoding and the annotated frame of the API, sharp against OpenCV.
 * OpenCV is a development dependency: its columns are left out where the binding is not built.
 * Prints figures; never fails on speed.  Usage: node dist/bench/imaging.js [frames=200]
 */
import { readFileSync } from 'node:fs';
import { annotateFrame } from '../src/api/annotate';
import { readVideoFile } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { encodeImage } from '../src/imaging/image';
import { letterbox, letterboxImage } from '../src/imaging/letterbox';
import type { RgbImage } from '../src/types';
import { loadOpenCv } from '../test/opencv';

/** CPU milliseconds of this process plus its finished children (FFmpeg, once it has exited). */
function cpuMs(): number {
  const own = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const childrenTicks = Number(fields[13]) + Number(fields[14]);
  return (own.user + own.system) / 1000 + childrenTicks * 10;
}

async function measure(frames: number, step: () => Promise<unknown> | unknown): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = cpuMs();
  const started = performance.now();
  for (let i = 0; i < frames; i++) await step();
  return { wallMs: (performance.now() - started) / frames, cpuMs: (cpuMs() - cpu) / frames };
}

async function main(): Promise<void> {
  const frames = Number(process.argv[2] ?? 200);
  const video = findSampleFile('vtest.avi');
  if (!video) throw new Error('vtest.avi not found: run "npm run setup" (Debian package opencv-doc)');
  const cv = loadOpenCv();
  const rows: string[] = [];
  const row = (what: string, ours: { wallMs: number; cpuMs: number }, theirs?: { wallMs: number; cpuMs: number }) =>
    rows.push(
      `${what.padEnd(30)} sharp/FFmpeg ${ours.wallMs.toFixed(2).padStart(6)} ms wall ${ours.cpuMs.toFixed(2).padStart(6)} ms CPU` +
        (theirs ? `   OpenCV ${theirs.wallMs.toFixed(2).padStart(6)} ms wall ${theirs.cpuMs.toFixed(2).padStart(6)} ms CPU   ratio ${(ours.wallMs / theirs.wallMs).toFixed(2)}` : ''),
    );

  // Whole-file decoding, each frame let go as a camera's frame store lets it go; FFmpeg's CPU is counted once it
  // has exited, at the end of the file.
  let decoded = 0;
  let cpu = cpuMs();
  let started = performance.now();
  for await (const _frame of readVideoFile(video)) decoded++;
  const ffmpeg = { wallMs: (performance.now() - started) / decoded, cpuMs: (cpuMs() - cpu) / decoded };
  let opencv: typeof ffmpeg | undefined;
  if (cv) {
    const capture = new cv.VideoCapture(video);
    let read = 0;
    cpu = cpuMs();
    started = performance.now();
    for (;;) {
      const mat = capture.read();
      if (mat.empty) break;
      mat.getData();
      mat.release();
      read++;
    }
    opencv = { wallMs: (performance.now() - started) / read, cpuMs: (cpuMs() - cpu) / read };
    capture.release();
  }
  row(`decode ${decoded} frames`, ffmpeg, opencv);

  const sample: RgbImage[] = [];
  for await (const image of readVideoFile(video)) {
    sample.push(image);
    if (sample.length === frames) break;
  }

  const image = (i: number) => sample[i % sample.length];
  const mat = (i: number) => new cv!.Mat(Buffer.from(image(i).pixels), image(i).height, image(i).width, cv!.CV_8UC3);
  const lb = letterbox(sample[0].width, sample[0].height, 640, 640);
  let i = 0;
  row(
    'letterbox to 640x480',
    await measure(frames, () => letterboxImage(image(i++), 640, 640)),
    cv ? await measure(frames, () => { const m = mat(i++); m.resize(lb.resizedHeight, lb.resizedWidth, 0, 0, cv.INTER_LINEAR).release(); m.release(); }) : undefined,
  );
  row(
    'JPEG quality 80',
    await measure(frames, () => encodeImage(image(i++), 'jpeg', 80)),
    cv ? await measure(frames, () => { const m = mat(i++); cv.imencode('.jpg', m, [cv.IMWRITE_JPEG_QUALITY, 80]); m.release(); }) : undefined,
  );
  const overlay = {
    tracks: [1, 2, 3, 4, 5].map((id) => ({ id, bbox: [id * 100, 100, id * 100 + 60, 300] as [number, number, number, number], trail: [[id * 100, 320], [id * 100 + 30, 300]] as [number, number][] })),
    zones: [{ id: 'door', polygon: [[50, 50], [300, 50], [300, 250], [50, 250]] as [number, number][], currentCount: 2 }],
    lines: [{ id: 'line', from: [0, 400] as [number, number], to: [768, 400] as [number, number], in: 3, out: 1 }],
  };
  row('annotated frame (API)', await measure(frames, () => annotateFrame(image(i++), overlay, { quality: 80, privacy: false })));
  row('annotated frame (API), privacy', await measure(frames, () => annotateFrame(image(i++), overlay, { quality: 80, privacy: true })));

  console.log(`bench/imaging: vtest.avi ${sample[0].width}x${sample[0].height}, ${frames} frames per operation${cv ? '' : ' (OpenCV binding not built: no comparison)'}`);
  for (const line of rows) console.log(line);
  console.log(`decoding: FFmpeg ${(1000 / ffmpeg.wallMs).toFixed(0)} frames/s${opencv ? `, OpenCV ${(1000 / opencv.wallMs).toFixed(0)} frames/s` : ''}`);
}

main().catch((err) => {
  console.error(`bench/imaging: ${(err as Error).message}`);
  process.exitCode = 1;
});
