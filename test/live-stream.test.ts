import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Camera, type CameraState } from '../src/camera/camera';
import { FrameStore } from '../src/camera/frame-store';
import { ROOT, requireVtest, videoJpegs, waitFor } from './support';

/** An MJPEG-over-HTTP camera on loopback, like the many IP cameras that serve /video.mjpg. */
class MjpegCamera {
  private server: http.Server | undefined;
  port = 0;

  constructor(public jpegs: Buffer[], private readonly intervalMs = 40) {}

  async start(port = 0): Promise<void> {
    let next = 0;
    this.server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
      const timer = setInterval(() => {
        const jpeg = this.jpegs[next++ % this.jpegs.length];
        res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
        res.write(jpeg);
        res.write('\r\n');
      }, this.intervalMs);
      req.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The camera goes away: connections cut, port closed. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Resident memory of this process and of its children (the capture processes), in MB. */
function residentMb(): { own: number; children: number } {
  const rss = (pid: number | string) => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  };
  let children = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) children += rss(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return { own: rss(process.pid), children };
}

describe('live streams', function () {
  let source: MjpegCamera;
  let camera: Camera | undefined;

  beforeEach(async function () {
    source = new MjpegCamera(await videoJpegs(requireVtest(this), 20, 192, 144));
    await source.start();
  });

  afterEach(async () => {
    await camera?.close();
    await source.stop();
  });

  it('reads an MJPEG stream, survives the camera going away and resumes when it is back', async () => {
    const frames: number[] = [];
    const states: CameraState[] = [];
    const errors: string[] = [];
    camera = new Camera(
      { id: 'ip-cam', source: `http://127.0.0.1:${source.port}/video.mjpg`, reconnectInitialMs: 200, reconnectMaxMs: 1000 },
      { frame: (f) => frames.push(f.ref.seq), state: (s) => states.push(s), error: (e) => errors.push(e.message) },
    );
    camera.start();
    await waitFor(() => frames.length >= 10, 20000, 'frames from the stream');
    assert.deepEqual(camera.stats().width, 192);

    const port = source.port;
    await source.stop();
    await waitFor(() => states.includes('reconnecting'), 20000, 'the camera to notice the stream is gone');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(camera.stats().reconnects >= 2, 'it keeps trying while the camera is away');

    const before = frames.length;
    await source.start(port);
    await waitFor(() => frames.length >= before + 10, 20000, 'frames after the camera came back');
    assert.equal(camera.state, 'running');
    assert.deepEqual(frames, frames.map((_, i) => i + 1), 'sequence numbers continue across reconnects');
    assert.ok(errors.length >= 2);
  });

  it('reads the new size of a camera that comes back at another resolution', async function () {
    const sizes: string[] = [];
    camera = new Camera(
      { id: 'resized-cam', source: `http://127.0.0.1:${source.port}/video.mjpg`, reconnectInitialMs: 200, reconnectMaxMs: 500 },
      { frame: (f) => sizes.push(`${f.width}x${f.height}`) },
    );
    camera.start();
    await waitFor(() => sizes.length >= 5, 20000, 'frames at the first size');
    const port = source.port;
    await source.stop();
    source.jpegs = await videoJpegs(requireVtest(this), 10, 320, 240);
    await source.start(port);
    await waitFor(() => sizes.at(-1) === '320x240', 30000, 'frames at the new size');
    assert.equal(sizes[0], '192x144');
    assert.deepEqual([camera.stats().width, camera.stats().height], [320, 240]);
  });

  it('never shows the stream password in its state, errors or description', async () => {
    const details: string[] = [];
    const errors: string[] = [];
    const port = source.port;
    await source.stop();
    camera = new Camera(
      { id: 'secret-cam', source: `http://127.0.0.1:${port}/video.mjpg`, username: 'admin', password: 'Sup3rSecret!', reconnectInitialMs: 100, reconnectMaxMs: 200 },
      { state: (_s, detail) => details.push(detail ?? ''), error: (e) => errors.push(e.message) },
    );
    camera.start();
    await waitFor(() => camera!.stats().reconnects >= 2, 20000, 'failed attempts');
    const seen = [...details, ...errors, JSON.stringify(camera.stats())].join('\n');
    assert.ok(errors.length >= 2, 'the failures are reported');
    assert.ok(!seen.includes('Sup3rSecret'), `the password shows: ${seen}`);
    assert.match(camera.stats().source, /admin:\*\*\*@127\.0\.0\.1/);
  });

  it('keeps memory flat over a long run', async function () {
    this.timeout(120000);
    await source.stop();
    source = new MjpegCamera(await videoJpegs(requireVtest(this), 20, 192, 144), 4);
    await source.start();
    const store = new FrameStore(8);
    let delivered = 0;
    camera = new Camera({ id: 'soak', source: `http://127.0.0.1:${source.port}/video.mjpg`, store }, { frame: () => delivered++ });
    camera.start();
    await waitFor(() => delivered >= 100, 30000, 'warm-up frames');
    const warm = residentMb();
    await waitFor(() => delivered >= 1600, 100000, '1,500 more frames');
    const after = residentMb();
    // Each frame is 83 KB of pixels: 1,500 unreleased frames would be 124 MB in either process.
    assert.ok(after.own - warm.own < 40, `this process grew from ${warm.own.toFixed(0)} to ${after.own.toFixed(0)} MB`);
    assert.ok(after.children - warm.children < 40, `the capture process grew from ${warm.children.toFixed(0)} to ${after.children.toFixed(0)} MB`);
    assert.equal(store.count('soak'), 8);
  });
});

/** An RTSP camera on loopback (GStreamer's RTSP server, Debian packages), serving vtest.avi as H.264. */
class RtspCamera {
  private process: ChildProcess | undefined;

  constructor(readonly port: number, private readonly video: string) {}

  static available(): boolean {
    const probe = spawnSync('/usr/bin/python3', ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"]);
    return probe.status === 0;
  }

  get url(): string {
    return `rtsp://127.0.0.1:${this.port}/cam`;
  }

  async start(): Promise<void> {
    const child = spawn('/usr/bin/python3', [`${ROOT}/test/fixtures/rtsp-server.py`, String(this.port), '/cam', this.video], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (data: Buffer) => data.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the RTSP server exited with code ${code}`)));
    });
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

describe('RTSP cameras', function () {
  let server: RtspCamera;
  let camera: Camera | undefined;

  beforeEach(async function () {
    const video = requireVtest(this);
    if (!RtspCamera.available()) {
      console.log("      skipped: GStreamer's RTSP server for Python is not installed (npm run setup installs it)");
      this.skip();
    }
    server = new RtspCamera(18554 + Math.floor(Math.random() * 1000), video);
    await server.start();
  });

  afterEach(async () => {
    await camera?.close();
    camera = undefined;
    await server?.stop();
  });

  it('receives an RTSP stream and reconnects after the camera restarts', async () => {
    const frames: number[] = [];
    const states: CameraState[] = [];
    camera = new Camera(
      { id: 'rtsp-cam', source: server.url, reconnectInitialMs: 200, reconnectMaxMs: 1000 },
      { frame: (f) => frames.push(f.ref.seq), state: (s) => states.push(s) },
    );
    camera.start();
    await waitFor(() => frames.length >= 10, 30000, 'frames over RTSP');
    assert.deepEqual([camera.stats().width, camera.stats().height], [384, 288]);

    await server.stop();
    await waitFor(() => states.includes('reconnecting'), 60000, 'the camera to notice the stream is gone');
    const before = frames.length;
    await server.start();
    await waitFor(() => frames.length >= before + 10, 60000, 'frames after the camera came back');
    assert.equal(camera.state, 'running');
    assert.deepEqual(frames, frames.map((_, i) => i + 1), 'sequence numbers continue across reconnects');
  });
});
