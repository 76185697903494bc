import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
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

  it('serves the editor with our nodes and streams people, tracks and zone counts to the debug sidebar', async function () {
    requireModel(this);
    requireVtest(this);
    const port = 19000 + Math.floor(Math.random() * 1000);
    const userDir = mkdtempSync(path.join(tmpdir(), 'demo-'));
    demo = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
      env: { ...process.env, PORT: String(port), DEMO_USER_DIR: userDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => /Started flows/.test(output), 30000, `Node-RED to start:\n${output}`);
    assert.match(output, new RegExp(`http://localhost:${port}/`), 'the URL is printed');

    const nodes = await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })).json();
    const ours = (nodes as { module: string; types: string[] }[]).filter((set) => set.module === '@retail-vision/node-red-retail-analytics');
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), ['camera-source', 'heatmap', 'sort-track', 'yolo-detect', 'yolo-model', 'zone-analytics']);

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
});
