import { strict as assert } from 'node:assert';
import { Camera, type CameraState } from '../src/camera/camera';
import { FrameStore, type StoredFrame } from '../src/camera/frame-store';
import { ffmpegReading, requireVtest, signalFfmpeg, uniqueVideo, waitFor } from './support';

function recorder() {
  const frames: StoredFrame[] = [];
  const states: { state: CameraState; detail?: string; at: number }[] = [];
  const errors: Error[] = [];
  return {
    frames,
    states,
    errors,
    handlers: {
      frame: (frame: StoredFrame) => frames.push(frame),
      state: (state: CameraState, detail?: string) => states.push({ state, detail, at: Date.now() }),
      error: (err: Error) => errors.push(err),
    },
  };
}

describe('Camera', function () {
  const cameras: Camera[] = [];
  const open = (...args: ConstructorParameters<typeof Camera>) => {
    const camera = new Camera(...args);
    cameras.push(camera);
    return camera;
  };

  afterEach(async () => {
    await Promise.all(cameras.splice(0).map((camera) => camera.close()));
  });

  it('delivers every frame of vtest.avi in order, at its size, and ends', async function () {
    requireVtest(this);
    const store = new FrameStore(4);
    const seen = recorder();
    const camera = open({ id: 'order', source: 'sample:vtest.avi', realtime: false, store }, seen.handlers);
    camera.start();
    await waitFor(() => camera.state === 'ended', 30000, 'the end of the file');
    assert.equal(seen.frames.length, 795);
    seen.frames.forEach((frame, i) => {
      assert.equal(frame.ref.seq, i + 1);
      assert.deepEqual([frame.ref.width, frame.ref.height, frame.pixels.length], [768, 576, 768 * 576 * 3]);
      if (i > 0) assert.ok(frame.ref.timestamp >= seen.frames[i - 1].ref.timestamp);
    });
    assert.deepEqual(seen.states.map((s) => s.state), ['starting', 'running', 'ended']);
    assert.equal(camera.stats().dropped, 0, 'nothing is dropped when not playing in real time');
    assert.equal(store.count('order'), 4, 'the store keeps only the newest frames');
    assert.equal(store.latest('order')?.ref.seq, 795);
  });

  it('resizes, keeping the aspect ratio when one side is 0', async function () {
    requireVtest(this);
    const seen = recorder();
    open({ id: 'resize', source: 'sample:vtest.avi', realtime: false, width: 384 }, seen.handlers).start();
    await waitFor(() => seen.frames.length >= 3, 10000, 'frames');
    assert.deepEqual([seen.frames[0].width, seen.frames[0].height, seen.frames[0].pixels.length], [384, 288, 384 * 288 * 3]);
  });

  it('plays a file in real time and limits the frame rate', async function () {
    requireVtest(this);
    const seen = recorder();
    const camera = open({ id: 'rate', source: 'sample:vtest.avi', fps: 5 }, seen.handlers);
    camera.start();
    await waitFor(() => seen.frames.length >= 6, 10000, 'six frames');
    const span = seen.frames[5].ref.timestamp - seen.frames[0].ref.timestamp;
    // vtest.avi is 10 fps; at 5 fps five intervals take about a second.
    assert.ok(span > 800 && span < 1600, `5 intervals took ${span} ms`);
  });

  it('drops the oldest frames and stays bounded when the consumer is slower than the camera', async function () {
    requireVtest(this);
    const store = new FrameStore(4);
    const seen = recorder();
    const camera = open(
      { id: 'slow', source: 'sample:vtest.avi', loop: true, store },
      {
        ...seen.handlers,
        frame: (frame) => {
          seen.frames.push(frame);
          // A consumer that blocks the event loop for 400 ms per frame, against a 10 fps file.
          const until = Date.now() + 400;
          while (Date.now() < until);
        },
      },
    );
    camera.start();
    await waitFor(() => seen.frames.length >= 6, 20000, 'six frames');
    assert.ok(camera.stats().dropped > 0, 'frames were dropped');
    assert.ok(store.count('slow') <= 4);
    const last = seen.frames.at(-1)!.ref;
    assert.ok(last.dropped > 0 && last.dropped <= camera.stats().dropped, 'the message tells how many frames were dropped');
    // Sequence numbers stay consecutive: they count delivered frames, drops are reported separately.
    assert.deepEqual(seen.frames.map((f) => f.ref.seq), seen.frames.map((_, i) => i + 1));
  });

  it('loops a file', async function () {
    requireVtest(this);
    const seen = recorder();
    const camera = open({ id: 'loop', source: 'sample:vtest.avi', realtime: false, loop: true, width: 96 }, seen.handlers);
    camera.start();
    await waitFor(() => seen.frames.length > 900, 30000, 'more frames than the file has');
    assert.equal(camera.state, 'running');
  });

  it('fails clearly on a missing file and does not retry it', async () => {
    const seen = recorder();
    const camera = open({ id: 'missing', source: '/nonexistent/video.mp4' }, seen.handlers);
    camera.start();
    await waitFor(() => camera.state === 'failed', 10000, 'the failure');
    assert.equal(seen.errors.length, 1);
    assert.match(seen.errors[0].message, /\/nonexistent\/video.mp4/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(camera.state, 'failed');
    assert.equal(seen.errors.length, 1);
  });

  it('says how to install FFmpeg when it is missing, and does not retry', async () => {
    const seen = recorder();
    const camera = open({ id: 'no-ffmpeg', source: 'rtsp://127.0.0.1:9/stream', ffmpegPath: '/nonexistent/ffmpeg', reconnectInitialMs: 50 }, seen.handlers);
    camera.start();
    await waitFor(() => camera.state === 'failed', 10000, 'the failure');
    assert.match(seen.errors[0].message, /FFmpeg not found \("\/nonexistent\/ffmpeg"\): install FFmpeg \(Debian\/Ubuntu: sudo apt-get install ffmpeg\)/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([camera.state, seen.errors.length], ['failed', 1]);
  });

  it('reconnects a live source with exponential backoff', async () => {
    const seen = recorder();
    // Nothing listens on port 9 of loopback: every connection attempt fails at once.
    const camera = open(
      { id: 'offline', source: 'rtsp://127.0.0.1:9/stream', reconnectInitialMs: 100, reconnectMaxMs: 400 },
      seen.handlers,
    );
    camera.start();
    await waitFor(() => camera.stats().reconnects >= 4, 20000, 'four reconnection attempts');
    const retries = seen.states.filter((s) => s.state === 'reconnecting').map((s) => s.detail ?? '');
    assert.ok(seen.errors.length >= 4);
    const starts = seen.states.filter((s) => s.state === 'starting').map((s) => s.at);
    const failures = seen.states.filter((s) => s.state === 'reconnecting').map((s) => s.at);
    const waits = failures.slice(0, 3).map((failedAt, i) => starts[i + 1] - failedAt);
    // 100, 200, 400 ms: each wait doubles up to the maximum.
    assert.ok(waits[0] >= 90 && waits[0] < 190, `first wait ${waits[0]} ms`);
    assert.ok(waits[1] >= 190 && waits[1] < 340, `second wait ${waits[1]} ms`);
    assert.ok(waits[2] >= 390 && waits[2] < 600, `third wait ${waits[2]} ms`);
    assert.match(retries[0], /retry in/);
    await camera.stop();
    const stoppedAt = seen.states.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(seen.states.length, stoppedAt, 'no retry after stop');
    assert.equal(camera.state, 'stopped');
  });

  it('stops and starts again, continuing the sequence', async function () {
    requireVtest(this);
    const seen = recorder();
    const camera = open({ id: 'restart', source: 'sample:vtest.avi', realtime: false, loop: true, width: 96 }, seen.handlers);
    camera.start();
    await waitFor(() => seen.frames.length >= 5, 10000, 'frames');
    await camera.stop();
    const count = seen.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(seen.frames.length, count, 'no frames after stop');
    camera.start();
    await waitFor(() => seen.frames.length >= count + 5, 10000, 'frames after restart');
    assert.equal(seen.frames[count].ref.seq, count + 1);
  });

  it('starts FFmpeg again after it is killed while looping a file, and keeps the sequence', async function () {
    const video = uniqueVideo(requireVtest(this), 'killed-loop');
    const seen = recorder();
    const camera = open({ id: 'killed-loop', source: video, loop: true, width: 96, reconnectInitialMs: 100 }, seen.handlers);
    camera.start();
    for (let kill = 1; kill <= 3; kill++) {
      await waitFor(() => camera.state === 'running' && ffmpegReading(video).length === 1, 10000, `FFmpeg running before kill ${kill}`);
      assert.ok(signalFfmpeg(video, 'SIGKILL'));
      await waitFor(() => camera.stats().reconnects === kill, 10000, `the camera to notice kill ${kill}`);
      const noticed = seen.frames.length;
      await waitFor(() => camera.state === 'running' && seen.frames.length > noticed + 3, 10000, `frames after kill ${kill}`);
    }
    assert.equal(seen.errors.length, 3, 'each exit is reported once');
    assert.match(seen.errors[0].message, /SIGKILL/);
    assert.match(seen.states.find((s) => s.state === 'reconnecting')!.detail!, /retry in 0 s: .*SIGKILL/);
    assert.deepEqual(seen.frames.map((f) => f.ref.seq), seen.frames.map((_, i) => i + 1), 'sequence numbers continue across restarts');
    assert.equal(camera.state, 'running');
  });

  it('reopens a looping file whose FFmpeg hangs (no frame within the stall timeout)', async function () {
    const video = uniqueVideo(requireVtest(this), 'hung-loop');
    const seen = recorder();
    const camera = open({ id: 'hung-loop', source: video, loop: true, width: 96, stallTimeoutMs: 1000, reconnectInitialMs: 100 }, seen.handlers);
    camera.start();
    await waitFor(() => camera.state === 'running', 10000, 'running');
    const [hung] = ffmpegReading(video);
    process.kill(hung, 'SIGSTOP');
    await waitFor(() => camera.stats().reconnects === 1, 10000, 'the stall noticed');
    assert.match(seen.errors[0].message, /no frame for 1 s/);
    const before = seen.frames.length;
    await waitFor(() => seen.frames.length > before + 3 && camera.state === 'running', 10000, 'frames from a new FFmpeg');
    assert.ok(!ffmpegReading(video).includes(hung), 'the hung FFmpeg is gone');
  });

  it('a file that is not looped fails when FFmpeg is killed before its end, and reports 0 fps', async function () {
    const video = uniqueVideo(requireVtest(this), 'killed-once');
    const seen = recorder();
    const camera = open({ id: 'killed-once', source: video, reconnectInitialMs: 100 }, seen.handlers);
    camera.start();
    await waitFor(() => seen.frames.length >= 5, 10000, 'frames');
    assert.ok(camera.stats().fps > 0);
    signalFfmpeg(video, 'SIGKILL');
    await waitFor(() => camera.state === 'failed', 10000, 'the failure');
    assert.equal(camera.stats().fps, 0, 'a camera that is not running has no frame rate');
    assert.match(camera.stats().lastError!, /SIGKILL/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([camera.state, camera.stats().reconnects], ['failed', 0], 'not replayed from its start');
  });

  it('a looping source that keeps failing retries with growing waits and says how often it failed', async () => {
    const seen = recorder();
    const camera = open({ id: 'gone', source: '/nonexistent/loop.mp4', loop: true, reconnectInitialMs: 50, reconnectMaxMs: 200 }, seen.handlers);
    camera.start();
    await waitFor(() => camera.stats().failures >= 4, 10000, 'four failures');
    const details = seen.states.filter((s) => s.state === 'reconnecting').map((s) => s.detail!);
    assert.match(details[0], /^retry in 0 s: \/nonexistent\/loop.mp4/);
    assert.match(details[3], /failed 4 times in a row/);
    const starts = seen.states.filter((s) => s.state === 'starting').map((s) => s.at);
    assert.ok(starts[3] - starts[2] >= 190, `the third wait is the maximum, 200 ms: ${starts[3] - starts[2]} ms`);
    assert.equal(camera.stats().fps, 0);
  });

  it('refuses a camera without an id', () => {
    assert.throws(() => new Camera({ id: '', source: '0' }), /needs an id/);
  });
});
