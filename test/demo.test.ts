import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { decodeImage } from '../src/detection/image';
import { ROOT, requireModel, requireVtest, waitFor } from './support';

/** `npm start` as a user runs it: Node-RED in its own process, the demo flow deployed, debug output live. */
describe('npm start (the demo)', function () {
  let demo: ChildProcess | undefined;
  let output = '';

  afterEach(async () => {
    if (demo && demo.exitCode === null) {
      const exited = new Promise((resolve) => demo!.once('exit', resolve));
      demo.kill('SIGINT');
      await exited;
    }
  });

  /** Starts the demo on a free port with a fresh user directory; returns the port. */
  async function startDemo(context: Mocha.Context, extraEnv: Record<string, string> = {}): Promise<number> {
    requireModel(context);
    requireVtest(context);
    output = '';
    const port = 19000 + Math.floor(Math.random() * 1000);
    const userDir = mkdtempSync(path.join(tmpdir(), 'demo-'));
    demo = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
      env: { ...process.env, PORT: String(port), DEMO_USER_DIR: userDir, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => /Started flows/.test(output), 30000, `Node-RED to start:\n${output}`);
    return port;
  }

  it('serves the editor with our nodes and streams people, tracks and zone counts to the debug sidebar', async function () {
    const port = await startDemo(this);
    assert.match(output, new RegExp(`http://localhost:${port}/`), 'the URL is printed');

    const nodes = await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })).json();
    const ours = (nodes as { module: string; types: string[] }[]).filter((set) => set.module === '@retail-vision/node-red-retail-analytics');
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), ['api-out', 'camera-source', 'heatmap', 'sort-track', 'yolo-detect', 'yolo-model', 'zone-analytics']);

    const summaries: { people: number; tracks: number[]; zones: Record<string, { entries: number }> }[] = [];
    const comms = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    comms.on('open', () => comms.send(JSON.stringify({ subscribe: 'debug' })));
    comms.on('message', (data) => {
      for (const event of JSON.parse(data.toString())) {
        if (event.topic === 'debug' && event.data.name === 'people') summaries.push(JSON.parse(event.data.msg));
      }
    });
    try {
      await waitFor(() => summaries.some((s) => s.tracks.length >= 2 && Object.values(s.zones).some((z) => z.entries > 0)), 60000, 'people tracked and counted');
    } finally {
      comms.close();
    }
    assert.ok(!/\[error\]/.test(output), `no errors in the log:\n${output}`);
  });

  it('serves the REST API of the running pipeline: annotated frames, heatmaps, stats', async function () {
    const port = await startDemo(this);
    const api = (p: string) => fetch(`http://127.0.0.1:${port}/api${p}`);
    let frame: Response | undefined;
    for (let i = 0; i < 100 && frame?.status !== 200; i++) {
      frame = await api('/cameras/vtest/frame');
      if (frame.status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(frame!.headers.get('content-type'), 'image/jpeg');
    const image = decodeImage(Buffer.from(await frame!.arrayBuffer()));
    assert.deepEqual([image.width, image.height], [768, 576]);

    const camera = await (await api('/cameras/vtest')).json();
    assert.deepEqual([camera.id, camera.state, camera.width, camera.height], ['vtest', 'running', 768, 576]);
    assert.deepEqual(camera.zones, ['path-left', 'road']);
    const health = await (await api('/health')).json();
    assert.equal(health.cameras[0].state, 'running');
    assert.ok(health.cameras[0].fps > 5, `fps ${health.cameras[0].fps}`);
    const stats = await (await api('/stats')).json();
    assert.match(stats.day, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok('vtest' in stats.cameras);

    let heatmap: Response | undefined;
    for (let i = 0; i < 100 && heatmap?.status !== 200; i++) {
      heatmap = await api('/cameras/vtest/heatmap');
      if (heatmap.status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(heatmap!.headers.get('content-type'), 'image/png');
    assert.equal(decodeImage(Buffer.from(await heatmap!.arrayBuffer())).width, 768);
    assert.equal((await api('/cameras/elsewhere')).status, 404);
  });

  it('puts the API behind Node-RED\'s httpNodeAuth when it is set', async function () {
    const port = await startDemo(this, { DEMO_SETTINGS: path.join(ROOT, 'test', 'fixtures', 'auth-settings.js') });
    const anonymous = await fetch(`http://127.0.0.1:${port}/api/health`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { Authorization: `Basic ${Buffer.from('store:guess').toString('base64')}` } });
    assert.equal(wrong.status, 401);
    const allowed = await fetch(`http://127.0.0.1:${port}/api/health`, { headers: { Authorization: `Basic ${Buffer.from('store:shopfloor').toString('base64')}` } });
    assert.equal(allowed.status, 200);
  });
});
