import { strict as assert } from 'node:assert';
import { ffmpegArguments, PpmReader } from '../src/camera/ffmpeg';
import { parseSource, redactSecrets, withCredentials } from '../src/camera/source';

describe('FFmpeg command line', () => {
  const base = { width: 0, height: 0, fps: 0, loop: false };
  const filterOf = (args: string[]) => args[args.indexOf('-vf') + 1];

  it('reads a file, loops it, keeps the first video stream and writes PPM frames to stdout', () => {
    const args = ffmpegArguments({ ...base, source: { kind: 'file', path: '/v/a.mp4' }, loop: true });
    assert.deepEqual(args.slice(args.indexOf('-stream_loop'), args.indexOf('-stream_loop') + 4), ['-stream_loop', '-1', '-i', '/v/a.mp4']);
    assert.deepEqual(args.slice(-7), ['-f', 'image2pipe', '-c:v', 'ppm', '-pix_fmt', 'rgb24', 'pipe:1']);
    assert.ok(args.includes('0:v:0') && !args.includes('-vf'));
  });

  it('reads RTSP over TCP, V4L2 devices by index or node, and HTTP streams as they come', () => {
    const rtsp = ffmpegArguments({ ...base, source: { kind: 'stream', url: 'rtsp://cam/1' } });
    assert.deepEqual(rtsp.slice(rtsp.indexOf('-rtsp_transport'), rtsp.indexOf('-rtsp_transport') + 4), ['-rtsp_transport', 'tcp', '-i', 'rtsp://cam/1']);
    const usb = ffmpegArguments({ ...base, source: { kind: 'usb', device: 2 } });
    assert.deepEqual(usb.slice(usb.indexOf('-f'), usb.indexOf('-f') + 4), ['-f', 'v4l2', '-i', '/dev/video2']);
    assert.ok(!ffmpegArguments({ ...base, source: { kind: 'stream', url: 'http://cam/video.mjpg' } }).includes('-rtsp_transport'));
  });

  it('scales keeping the aspect ratio when one side is 0, and limits the rate without repeating frames', () => {
    assert.equal(filterOf(ffmpegArguments({ ...base, source: { kind: 'file', path: 'a' }, width: 384 })), 'scale=384:-1:flags=area');
    assert.equal(filterOf(ffmpegArguments({ ...base, source: { kind: 'file', path: 'a' }, fps: 5, sourceFps: 10, height: 240 })), 'fps=5,scale=-1:240:flags=area');
    assert.ok(!ffmpegArguments({ ...base, source: { kind: 'file', path: 'a' }, fps: 30, sourceFps: 10 }).includes('-vf'), 'a file is never sped up');
    assert.match(filterOf(ffmpegArguments({ ...base, source: { kind: 'stream', url: 'rtsp://c/1' }, fps: 4 })), /^select='gte\(t\+1e-6\\,ld\(0\)\).*0\.25/);
  });
});

describe('PpmReader', () => {
  const ppm = (width: number, height: number, fill: number) =>
    Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`), Buffer.alloc(width * height * 3, fill)]);

  it('reads frames split anywhere across chunks, each into its own buffer, at each frame own size', () => {
    const frames: { width: number; height: number; pixels: Uint8Array }[] = [];
    const reader = new PpmReader((pixels, width, height) => frames.push({ pixels, width, height }));
    const stream = Buffer.concat([ppm(4, 2, 7), ppm(3, 3, 9), ppm(4, 2, 11)]);
    for (let at = 0; at < stream.length; at += 5) reader.push(stream.subarray(at, at + 5));
    assert.deepEqual(frames.map((f) => [f.width, f.height, f.pixels.length, f.pixels[0]]), [[4, 2, 24, 7], [3, 3, 27, 9], [4, 2, 24, 11]]);
    assert.notEqual(frames[0].pixels.buffer, frames[2].pixels.buffer);
  });

  it('refuses what is not a PPM stream', () => {
    const reader = new PpmReader(() => undefined);
    assert.throws(() => reader.push(Buffer.from('GIF89a....')), /not a PPM image header/);
  });
});

describe('stream credentials', () => {
  it('puts user name and password into the URL, encoded, replacing any it had', () => {
    assert.equal(withCredentials('rtsp://old:x@192.0.2.1:554/s1', 'admin', 'p@ss:w/rd'), 'rtsp://admin:p%40ss%3Aw%2Frd@192.0.2.1:554/s1');
    assert.equal(withCredentials('sample:vtest.avi', 'a', 'b'), 'sample:vtest.avi');
    assert.equal(withCredentials('rtsp://cam/1'), 'rtsp://cam/1');
  });

  it('hides the password in anything FFmpeg says', () => {
    const source = parseSource(withCredentials('rtsp://192.0.2.1/live', 'admin', 'Sup3rSecret'));
    const said = `[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized; rtsp://admin:Sup3rSecret@192.0.2.1/live: Server returned 401; Sup3rSecret`;
    const redacted = redactSecrets(said, source);
    assert.ok(!redacted.includes('Sup3rSecret'), redacted);
    assert.match(redacted, /rtsp:\/\/admin:\*\*\*@192\.0\.2\.1\/live: Server returned 401/);
  });
});
