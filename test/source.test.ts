import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describeSource, isLive, parseSource } from '../src/camera/source';
import { requireVtest } from './support';

describe('camera sources', () => {
  it('recognises devices, device nodes, stream URLs and files', () => {
    assert.deepEqual(parseSource('0'), { kind: 'usb', device: 0 });
    assert.deepEqual(parseSource(' /dev/video2 '), { kind: 'usb', device: '/dev/video2' });
    assert.deepEqual(parseSource('rtsp://cam.local:554/stream1'), { kind: 'stream', url: 'rtsp://cam.local:554/stream1' });
    assert.deepEqual(parseSource('http://cam.local/video.mjpg'), { kind: 'stream', url: 'http://cam.local/video.mjpg' });
    assert.deepEqual(parseSource('videos/door.mp4'), { kind: 'file', path: path.resolve('videos/door.mp4') });
    assert.equal(isLive(parseSource('0')), true);
    assert.equal(isLive(parseSource('/tmp/a.mp4')), false);
  });

  it('finds the sample video wherever the distribution put it', function () {
    const vtest = requireVtest(this);
    assert.deepEqual(parseSource('sample:vtest.avi'), { kind: 'file', path: vtest });
  });

  it('explains a missing sample or an empty source', () => {
    assert.throws(() => parseSource('sample:no-such-clip.avi'), /sample video no-such-clip.avi not found/);
    assert.throws(() => parseSource('sample:../../etc/passwd'), /not found/);
    assert.throws(() => parseSource('  '), /no camera source given/);
  });

  it('hides passwords in stream URLs it shows', () => {
    assert.equal(describeSource(parseSource('rtsp://admin:s3cret@10.0.0.5/live')), 'rtsp://admin:***@10.0.0.5/live');
    assert.equal(describeSource(parseSource('1')), 'camera 1');
  });
});
