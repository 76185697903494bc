import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { decodeImage } from '../src/imaging/image';
import { HAND_OVER_SECONDS, topicSafe } from '../src/mqtt/topics';
import { startMosquitto, type Broker } from './mosquitto';
import { chromiumInstalled, launchChromium } from './browser';
import { installedDefinitions, ourDefinitions } from './node-definitions';
import { startNodeRed, stopAllNodeRed, type RunningNodeRed } from './node-red';
import { ROOT, waitUntil } from './support';

type FlowNode = { id: string; type: string; z?: string; wires?: string[][]; d?: boolean; [key: string]: unknown };

const EXAMPLES = path.join(ROOT, 'examples');
const exampleNames = () => readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const example = (name: string): FlowNode[] => JSON.parse(readFileSync(path.join(EXAMPLES, `${name}.json`), 'utf8'));

/** The example as a user deploys it against their own broker: the MQTT broker nodes pointed at `broker`. */
function withBroker(flows: FlowNode[], broker: Broker): FlowNode[] {
  return flows.map((n) => (n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(broker.port) } : n));
}

const getJson = async (red: RunningNodeRed, url: string) => {
  const res = await fetch(`http://127.0.0.1:${red.port}${url}`);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
};

/**
 * The deploy as a user first sees it: no warnings or errors in the log a few seconds on, and in the editor no
 * node marked invalid and nothing to deploy (a flow the editor has to complete opens with Deploy lit).
 */
async function assertCleanDeploy(context: Mocha.Context, red: RunningNodeRed): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.deepEqual(red.problems(), [], `warnings or errors in the log:\n${red.output()}`);
  if (!chromiumInstalled()) {
    console.log('      (the editor check needs Chromium, which is not installed)');
    return;
  }
  const browser = await launchChromium(context);
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(`http://127.0.0.1:${red.port}/`);
    await page.waitForSelector('.red-ui-flow-node', { timeout: 30000 });
    // Palette modules finish setting up (node-red-dashboard adds its theme node here) after the flows are drawn.
    await page.waitForTimeout(2000);
    const editor = await page.evaluate(() => {
      type EditorNode = { id: string; type: string; valid?: boolean };
      const nodes = (window as unknown as { RED: { nodes: { dirty(): boolean; eachNode(f: (n: EditorNode) => void): void; eachConfig(f: (n: EditorNode) => void): void } } }).RED.nodes;
      const invalid: string[] = [];
      nodes.eachNode((n) => { if (n.valid === false) invalid.push(`${n.id} (${n.type})`); });
      nodes.eachConfig((n) => { if (n.valid === false) invalid.push(`${n.id} (${n.type})`); });
      return { dirty: nodes.dirty(), invalid };
    });
    assert.deepEqual(editor, { dirty: false, invalid: [] }, 'the flow opens in the editor as deployed');
  } finally {
    await browser.close();
  }
}

describe('example flows (examples/)', function () {
  let broker: Broker | undefined;

  afterEach(async () => {
    await stopAllNodeRed();
    await broker?.stop();
    broker = undefined;
  });

  describe('as files', () => {
    it('are the nine documented examples, each a valid flow whose wires and config references resolve', () => {
      assert.deepEqual(exampleNames(), ['dashboard', 'dashboard-2', 'full-pipeline', 'mqtt', 'multi-camera', 'pos-integration', 'scale-out-aggregator', 'scale-out-worker', 'summaries-webhook']);
      for (const name of exampleNames()) {
        const flow = example(name);
        assert.ok(Array.isArray(flow), name);
        const ids = new Set(flow.map((n) => n.id));
        assert.equal(ids.size, flow.length, `${name}: node ids are unique`);
        for (const node of flow) {
          assert.ok(typeof node.id === 'string' && typeof node.type === 'string', `${name}: ${JSON.stringify(node).slice(0, 80)}`);
          if (node.z) assert.ok(ids.has(node.z), `${name}: ${node.id} is on a tab of this flow`);
          const targets = [...(node.wires ?? []).flat(), ...((node.links as string[] | undefined) ?? []), ...(Array.isArray(node.scope) ? node.scope : [])];
          for (const target of targets) assert.ok(ids.has(target), `${name}: ${node.id} refers to ${target}, which is in the flow`);
          for (const key of ['model', 'broker', 'group', 'tab'] as const) {
            const ref = node[key];
            if (typeof ref === 'string' && ref.includes('.')) assert.ok(ids.has(ref), `${name}: ${node.id}.${key} → ${ref}`);
          }
        }
        assert.ok(flow.some((n) => n.type === 'comment' && typeof n.info === 'string' && n.info.length > 100), `${name} explains itself in a comment node`);
      }
    });

    it('give every node each property its editor defines, so nothing opens as changed or invalid', () => {
      const definitions = new Map([...ourDefinitions(), ...installedDefinitions()].map((d) => [d.type, d]));
      const missing = exampleNames().flatMap((name) =>
        example(name).flatMap((node) => {
          const definition = definitions.get(node.type);
          if (!definition && !['tab', 'group'].includes(node.type)) return [`${name}: ${node.id} has the unknown type ${node.type}`];
          return (definition?.defaults ?? []).filter((key) => !(key in node)).map((key) => `${name}: ${node.id} (${node.type}) lacks ${key}`);
        }),
      );
      assert.deepEqual(missing, []);
    });

    for (const name of ['dashboard', 'dashboard-2']) {
      it(`${name} is the full pipeline unchanged, with its dashboard's widgets wired from it`, () => {
        const dashboard = new Map(example(name).map((n) => [n.id, n]));
        for (const node of example('full-pipeline')) {
          const copy = dashboard.get(node.id);
          assert.ok(copy, `${node.id} is in the ${name} example`);
          const strip = ({ wires: _wires, info: _info, ...rest }: FlowNode) => rest;
          assert.deepEqual(strip(copy), strip(node), node.id);
          node.wires?.forEach((targets, port) => assert.ok(targets.every((t) => copy.wires![port].includes(t)), `${node.id} keeps its wires`));
        }
      });
    }
  });

  describe('deployed in Node-RED', function () {
    // Above the longest wait inside these tests (90 s for counts), plus starting Node-RED and Chromium on a busy box.
    this.timeout(180000);

    it('full-pipeline: people detected and tracked, zone counts and line crossings, every endpoint answering', async function () {
      const red = await startNodeRed(this, { flows: example('full-pipeline') });
      const zones = await waitUntil(
        () => getJson(red, '/api/zones'),
        (z: { cameraId: string; zones: { totalEntries: number }[]; lines: { in: number; out: number }[] }[]) =>
          z.length === 1 && z[0].zones.some((zone) => zone.totalEntries > 0) && z[0].lines.some((line) => line.in + line.out > 0),
        90000,
        'zone entries and line crossings',
      );
      assert.equal(zones[0].cameraId, 'vtest');
      const camera = await getJson(red, '/api/cameras/vtest');
      assert.equal(camera.state, 'running');
      assert.ok(camera.activeTracks > 0 && camera.framesProcessed > 0, JSON.stringify(camera));
      for (const endpoint of ['/api/health', '/api/cameras', '/api/stats', '/api/openapi.json', '/dashboard/', '/docs/']) {
        assert.equal((await fetch(`http://127.0.0.1:${red.port}${endpoint}`)).status, 200, endpoint);
      }
      const frame = await fetch(`http://127.0.0.1:${red.port}/api/cameras/vtest/frame`);
      assert.equal((await decodeImage(Buffer.from(await frame.arrayBuffer()))).width, 768);
      // The sample is 768×576 (4:3): the model's input is fitted to it and quantised, calibrated on its frames and
      // checked against the square float model.
      const fitted = await waitUntil(
        () => getJson(red, '/api/health'),
        (h: { detectors: { input: string; precision: string; inputNote: string | null }[] }) => h.detectors[0]?.inputNote !== null,
        60000,
        'the model fitted to the camera',
      );
      assert.deepEqual([fitted.detectors[0].input, fitted.detectors[0].precision], ['640x480', 'int8'], fitted.detectors[0].inputNote ?? '');
      const { msPerImage, runMsPerImage } = (await getJson(red, '/api/health')).detectors[0] as { msPerImage: number; runMsPerImage: number };
      assert.ok(runMsPerImage > 0 && runMsPerImage <= msPerImage, `the network ran ${runMsPerImage} of ${msPerImage} ms per image`);
      assert.match(fitted.detectors[0].inputNote ?? '', /^int8 640x480 from fp32 640x640; \d+ of \d+ detections agreed on 16 camera frames, median score difference 0\.0\d\d; calibrated on 16 camera frames$/);
      // Megabyte frames make garbage: a running pipeline's health shows its collection (once a 10 s window passed).
      const loop = await waitUntil(
        () => getJson(red, '/api/health'),
        (h: { eventLoopDelay: { gcMsPerSecond: number; majorGcPerSecond: number } | null }) => h.eventLoopDelay !== null,
        30000,
        'a complete event-loop window',
      );
      const { gcMsPerSecond, majorGcPerSecond } = loop.eventLoopDelay!;
      assert.ok(gcMsPerSecond > 0 && Number.isFinite(majorGcPerSecond), JSON.stringify(loop.eventLoopDelay));
      const heatmap = await waitUntil(() => fetch(`http://127.0.0.1:${red.port}/api/cameras/vtest/heatmap`), (res) => res.status === 200, 30000, 'a heatmap');
      assert.equal(heatmap.headers.get('content-type'), 'image/png');
      const conversion = await fetch(`http://127.0.0.1:${red.port}/api/conversion`);
      assert.equal(conversion.status, 404, 'no sales without a pos-conversion node, and the API says so');
      const tick = await new Promise<{ type: string }>((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${red.port}/api/ws/analytics`);
        socket.once('message', (data) => {
          socket.close();
          resolve(JSON.parse(data.toString()));
        });
        socket.once('error', reject);
      });
      assert.equal(tick.type, 'tick');
      await assertCleanDeploy(this, red);
    });

    it("full-pipeline: a count audit recorded, played and tallied in the audit page, and scored against the product's counts", async function () {
      const red = await startNodeRed(this, { flows: example('full-pipeline') });
      await waitUntil(() => getJson(red, '/api/cameras'), (cameras: unknown[]) => cameras.length === 1, 90000, 'the camera in the API');
      const browser = await launchChromium(this);
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(`http://127.0.0.1:${red.port}/dashboard/`);
        await page.click('a[href="audit.html"]');
        await page.waitForSelector('#camera option[value="vtest"]', { state: 'attached' });
        await page.fill('#seconds', '10');
        await page.click('#record button[type=submit]');
        await page.waitForSelector('#clips button:has-text("Audit")', { timeout: 60000 });
        const [clip] = (await getJson(red, '/api/clips')) as { id: string }[];
        type Clip = { frameTimes: number[]; counters: { counter: string; kind: string }[]; counts: { counter: string; kind: string; at: number }[]; width: number };
        const recorded = (await getJson(red, `/api/clips/${clip.id}`)) as Clip;
        assert.ok(recorded.frameTimes.length >= 20 && recorded.width === 768, `${recorded.frameTimes.length} frames of 10 s`);
        assert.deepEqual(recorded.counters.map((c) => `${c.counter} ${c.kind}`), ['middle in', 'middle out', 'path-left entry', 'road entry']);
        assert.ok(recorded.counts.length > 0, 'the product counted people in the 10 s of vtest.avi');
        await page.click('#clips button:has-text("Audit")');
        await page.waitForSelector('#player:not([hidden])');
        // Play a little, pause, step back and on with the keys: the frame shown follows.
        await page.click('#play');
        await page.waitForTimeout(1500);
        await page.keyboard.press(' ');
        const playedTo = Number(await page.locator('#position').inputValue());
        assert.ok(playedTo > 0, 'playing moved through the clip');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowRight');
        await page.keyboard.press('ArrowLeft');
        assert.equal(Number(await page.locator('#position').inputValue()), playedTo + 1);
        // The auditor agrees with every count of the product, at its frame, clicking or pressing the counter's key,
        // and counts one person more on the first counter at the last frame: a miss.
        const goTo = (n: number) => page.evaluate((frame) => {
          const slider = document.getElementById('position') as HTMLInputElement;
          slider.value = String(frame);
          slider.dispatchEvent(new Event('input'));
        }, n);
        for (const [i, count] of recorded.counts.entries()) {
          await goTo(recorded.frameTimes.indexOf(count.at));
          const key = recorded.counters.findIndex((c) => c.counter === count.counter && c.kind === count.kind) + 1;
          if (i % 2 === 0) await page.keyboard.press(String(key));
          else await page.locator('#counters button.counter').nth(key - 1).click();
        }
        await goTo(recorded.frameTimes.length - 1);
        await page.locator('#counters button.counter').first().click();
        assert.equal(await page.locator('#marks li').count(), recorded.counts.length + 1);
        await page.fill('#auditor', 'Ana');
        await page.click('#submit');
        await page.waitForSelector('#result:not([hidden])');
        const total = await page.locator('#result tr.total td').allInnerTexts();
        const truth = recorded.counts.length + 1;
        assert.deepEqual(total, ['All counters', String(truth), String(recorded.counts.length), '1', '0', `${((-1 / truth) * 100).toFixed(1)} %`, `${((1 / truth) * 100).toFixed(1)} %`]);
        await waitUntil(() => page.locator('#history tr').first().locator('td').allInnerTexts(), (cells) => cells[3] === 'Ana', 5000, 'the audit in the history');
        const [audit] = (await getJson(red, '/api/audits?camera=vtest')) as { clipId: string; score: { total: { missed: number; extra: number } } }[];
        assert.deepEqual([audit.clipId, audit.score.total.missed, audit.score.total.extra], [clip.id, 1, 0]);
        mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'count-audit.png'), fullPage: true });
        // The address retail-analytics audit --record prints opens the clip at once.
        await page.goto(`http://127.0.0.1:${red.port}/dashboard/audit.html#clip=${clip.id}`);
        await waitUntil(() => page.locator('#time').innerText(), (text) => text === `frame 1 of ${recorded.frameTimes.length} · 0:00.0`, 5000, 'the linked clip at its first frame');
        assert.equal(await page.locator('#marks li').count(), 0, 'a fresh tally');
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    });

    it('summaries-webhook: each minute posted to the webhook once it settled, a refused one sent again until confirmed', async function () {
      this.timeout(240000);
      const port = 19000 + Math.floor(Math.random() * 1000);
      const flows = example('summaries-webhook').map((n) => (n.type === 'http request' ? { ...n, url: String(n.url).replace('localhost:1880', `127.0.0.1:${port}`) } : n));
      const red = await startNodeRed(this, { flows, port });
      type Summary = { id: string; start: string; end: string; counters: { kind: string; counter: string }[] };
      // The first minute ends within 60 s and settles 5 s later; the second post is refused and sent again 10 s on.
      const webhook = await waitUntil(
        () => getJson(red, '/retail-analytics-example/summaries') as Promise<{ requests: number; kept: Summary[] }>,
        (w) => w.kept.length >= 2,
        170000,
        'two minutes delivered',
      );
      assert.ok(webhook.requests >= 3, `${webhook.requests} requests: the refused one was sent again`);
      const [first, second] = webhook.kept;
      assert.match(first.id, /^vtest\/minute\/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00[+-]\d{2}:\d{2}$/);
      assert.equal(Date.parse(second.start), Date.parse(first.end), 'the minutes follow each other');
      assert.deepEqual(first.counters.map((c) => `${c.kind}:${c.counter}`), ['line:middle', 'zone:path-left', 'zone:road']);
      await assertCleanDeploy(this, red);
    });

    it('full-pipeline beside Dashboard 2.0: Dashboard 2.0 keeps /dashboard, our pages move to /retail-analytics and say so, the API stays', async function () {
      const dashboard2 = [
        { id: 'd2.base', type: 'ui-base', name: 'Store', path: '/dashboard', includeClientData: true, acceptsClientConfig: ['ui-notification', 'ui-control'], showPathInSidebar: false, navigationStyle: 'default', titleBarStyle: 'default' },
        { id: 'd2.theme', type: 'ui-theme', name: 'Default', colors: { surface: '#ffffff', primary: '#0094CE', bgPage: '#eeeeee', groupBg: '#ffffff', groupOutline: '#cccccc' }, sizes: { pagePadding: '12px', groupGap: '12px', groupBorderRadius: '4px', widgetGap: '12px' } },
        { id: 'd2.page', type: 'ui-page', name: 'Counts', ui: 'd2.base', path: '/counts', icon: 'home', layout: 'grid', theme: 'd2.theme', order: 1, className: '', visible: 'true', disabled: 'false' },
        { id: 'd2.group', type: 'ui-group', name: 'Footfall', page: 'd2.page', width: '6', height: '1', order: 1, showTitle: true, className: '', visible: 'true', disabled: 'false' },
        { id: 'd2.text', type: 'ui-text', z: 'demo.tab', group: 'd2.group', order: 1, width: 0, height: 0, name: '', label: 'Visitors', format: '{{msg.payload}}', layout: 'row-spread', style: false, font: '', fontSize: 16, color: '#717171', className: '', x: 900, y: 400, wires: [] },
      ];
      const red = await startNodeRed(this, { flows: [...example('full-pipeline'), ...dashboard2] });
      await waitUntil(() => getJson(red, '/api/cameras/vtest'), (camera: { state: string; framesProcessed: number }) => camera.state === 'running' && camera.framesProcessed > 0, 60000, 'the camera running');
      const setup = await fetch(`http://127.0.0.1:${red.port}/dashboard/_setup`);
      assert.equal(setup.status, 200, "Dashboard 2.0's /dashboard/_setup answers");
      assert.match((await setup.json()).socketio.path, /^\/dashboard\/socket\.io/);
      const ours = await fetch(`http://127.0.0.1:${red.port}/retail-analytics/dashboard/`);
      assert.equal(ours.status, 200);
      assert.match(await ours.text(), /<title>Store analytics<\/title>/, 'our dashboard page');
      const config = await getJson(red, '/retail-analytics/dashboard/config.json');
      assert.equal(config.apiBase, '/api', 'the moved page still reads the API where it is');
      assert.equal((await fetch(`http://127.0.0.1:${red.port}/retail-analytics/docs/`)).status, 200);
      for (const endpoint of ['/api/health', '/api/zones', '/api/openapi.json']) assert.equal((await fetch(`http://127.0.0.1:${red.port}${endpoint}`)).status, 200, endpoint);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.deepEqual(red.problems(), [], `no warning or error:\n${red.output()}`);
      assert.match(red.output(), /\[info\] \[api-out:REST API\] \/dashboard is served by Dashboard 2\.0 \(ui-base "Store"\): this node's dashboard is at \/retail-analytics\/dashboard\/ and its API docs at \/retail-analytics\/docs\//, 'the log says where our pages went');
    });

    it('full-pipeline where onnxruntime-node cannot load (as on Alpine): the model runs on WebAssembly, says so, and people are detected', async function () {
      const noNative = path.join(ROOT, 'test', 'fixtures', 'no-native-onnx.js');
      const red = await startNodeRed(this, { flows: example('full-pipeline'), env: { NODE_OPTIONS: `--require ${noNative}` } });
      const health = await waitUntil(
        () => getJson(red, '/api/health'),
        (h: { detectors: { state: string; runtime: string | null; runtimeFallback: string }[] }) => h.detectors[0]?.state === 'ready',
        60000,
        'the model loaded',
      );
      assert.equal(health.detectors[0].runtime, 'wasm');
      assert.match(health.detectors[0].runtimeFallback, /onnxruntime-node cannot load here \(Error loading shared library/);
      const camera = await waitUntil(() => getJson(red, '/api/cameras/vtest'), (c: { state: string; activeTracks: number }) => c.activeTracks > 0, 90000, 'people tracked from WebAssembly detections');
      assert.equal(camera.state, 'running');
      assert.ok(red.problems().some((line) => /\[warn\] \[yolo-model:.*running on the WebAssembly runtime, several times slower than native, because onnxruntime-node cannot load here/.test(line)), red.output());
    });

    it('multi-camera: the file cameras run through one model and tracker, with zones per camera and store totals', async function () {
      const flow = example('multi-camera');
      const cameras = flow.filter((n) => n.type === 'camera-source');
      assert.ok(cameras.length >= 3 && cameras.some((c) => /^rtsp:\/\//.test(String(c.source)) && c.d === true), 'three cameras, the RTSP placeholder disabled');
      assert.equal(new Set(flow.filter((n) => n.type === 'yolo-detect').map((n) => n.model)).size, 1, 'one shared model config node');
      const red = await startNodeRed(this, { flows: flow });
      type Stats = { total: { occupancy: number; footfallToday: number }; cameras: Record<string, { occupancy: number; footfallToday: number }> };
      const stats = await waitUntil(
        () => getJson(red, '/api/stats') as Promise<Stats>,
        (s) => Object.keys(s.cameras).length === 2 && s.total.footfallToday > 0,
        90000,
        'both file cameras counted',
      );
      assert.deepEqual(Object.keys(stats.cameras).sort(), ['entrance', 'promo-screen']);
      const zones = (await getJson(red, '/api/zones')) as { cameraId: string; zones: { id: string }[] }[];
      const zoneIds = Object.fromEntries(zones.map((z) => [z.cameraId, z.zones.map((zone) => zone.id)]));
      assert.deepEqual(zoneIds, { entrance: ['path-left', 'road'], 'promo-screen': ['screen'] });
      // The store total is the cameras added together (read in one response, so from one moment).
      const sum = (key: 'footfallToday') => Object.values(stats.cameras).reduce((total, c) => total + c[key], 0);
      assert.equal(stats.total.footfallToday, sum('footfallToday'));
      await assertCleanDeploy(this, red);
    });

    it('mqtt: counts (retained) and events reach a separate MQTT client through a real Mosquitto', async function () {
      broker = await startMosquitto(this);
      const red = await startNodeRed(this, { flows: withBroker(example('mqtt'), broker) });
      const seen = new Map<string, string>();
      const events: { type: string; cameraId: string }[] = [];
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
      try {
        client.on('message', (topic, payload) => {
          seen.set(topic, payload.toString());
          if (topic === 'retail/vtest/events') events.push(JSON.parse(payload.toString()));
        });
        await client.subscribeAsync('retail/#', { qos: 1 });
        await waitUntil(async () => seen, () => events.length > 0 && seen.has('retail/vtest/zones/path-left/count') && seen.has('retail/vtest/lines/middle/in'), 90000, 'counts and events over MQTT');
      } finally {
        await client.endAsync();
      }
      assert.ok(Number.isInteger(Number(seen.get('retail/vtest/occupancy'))), 'occupancy is a plain number');
      assert.ok(['enter', 'exit', 'cross'].includes(events[0].type) && events[0].cameraId === 'vtest', JSON.stringify(events[0]));

      // A client that connects later gets the current counts at once, from the broker's retained messages.
      const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
      const retained = new Map<string, string>();
      try {
        late.on('message', (topic, payload, packet) => {
          if (packet.retain) retained.set(topic, payload.toString());
        });
        await late.subscribeAsync('retail/vtest/#', { qos: 1 });
        await waitUntil(async () => retained, (r) => r.has('retail/vtest/occupancy') && r.has('retail/vtest/footfall/today') && r.has('retail/vtest/zones/road/count'), 5000, 'retained counts');
      } finally {
        await late.endAsync();
      }
      assert.ok(!retained.has('retail/vtest/events'), 'events are not retained');
      await assertCleanDeploy(this, red);
    });

    it('mqtt: Home Assistant device discovery (handing over the per-entity configs of before) and availability; a crash shows offline, a restart online with the restored counts', async function () {
      broker = await startMosquitto(this);
      const flows = withBroker(example('mqtt'), broker);
      const log: { topic: string; payload: string }[] = [];
      const latest = (topic: string) => log.findLast((m) => m.topic === topic)?.payload;
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
      try {
        // An upgrade: the broker holds the per-entity configs an earlier version announced, and its user directory says so.
        const instance = topicSafe(hostname());
        const legacy = ['occupancy', 'zone_road_count'].map((key) => `homeassistant/sensor/retail_${instance}/vtest_${key}/config`);
        for (const topic of legacy) await client.publishAsync(topic, JSON.stringify({ name: 'before', unique_id: topic }), { qos: 1, retain: true });
        const userDir = mkdtempSync(path.join(tmpdir(), 'node-red-'));
        mkdirSync(path.join(userDir, 'retail-analytics'));
        writeFileSync(path.join(userDir, 'retail-analytics', 'mqtt-discovery-mqtt_topics.json'), JSON.stringify({ vtest: legacy }));

        client.on('message', (topic, payload) => log.push({ topic, payload: payload.toString() }));
        await client.subscribeAsync(['retail/#', 'homeassistant/#'], { qos: 1 });
        let red = await startNodeRed(this, { flows, userDir });
        const deviceTopic = `homeassistant/device/retail_${instance}_vtest/config`;
        const device = () => {
          const config = latest(deviceTopic);
          return config ? JSON.parse(config) : undefined;
        };
        const events = () => log.filter((m) => m.topic === 'retail/vtest/events').map((m) => JSON.parse(m.payload));
        await waitUntil(
          async () => log,
          () => latest('retail/available') === 'online' && Boolean(device()?.cmps.zone_road_count) && events().some((e) => e.type === 'exit') && Number(latest('retail/vtest/footfall/today')) > 0,
          90000,
          'availability, discovery, counts and a visit that ended',
        );
        const config = device();
        assert.equal(config.availability_topic, 'retail/available');
        assert.equal(config.o.name, '@retail-vision/node-red-retail-analytics');
        for (const key of ['occupancy', 'footfall_today', 'zone_path-left_count', 'zone_path-left_occupied', 'zone_road_count', 'line_middle_in', 'line_middle_out']) {
          const component = config.cmps[key];
          for (const field of ['p', 'name', 'unique_id', 'state_topic', 'expire_after']) assert.ok(field in component, `${key}: ${field}`);
          assert.ok(latest(component.state_topic) !== undefined, `${key}: its state topic ${component.state_topic} is published`);
        }
        assert.equal(config.cmps.zone_road_count.unique_id, `retail_${instance}_vtest_zone_road_count`, 'the unique id of before');
        const model = config.cmps.model;
        assert.deepEqual([model?.device_class, model?.entity_category, model?.state_topic, latest('retail/vtest/model')], ['enum', 'diagnostic', 'retail/vtest/model', 'ready'], 'the model state as a diagnostic entity');
        for (const topic of legacy) {
          const handOver = log.findIndex((m) => m.topic === topic && m.payload === '{"migrate_discovery":true}');
          assert.ok(handOver >= 0 && handOver < log.findIndex((m) => m.topic === deviceTopic), `${topic}: handed over before the device config`);
        }
        await waitUntil(async () => legacy.map(latest), (payloads) => payloads.every((p) => p === ''), (HAND_OVER_SECONDS + 10) * 1000, 'the per-entity configs cleared');
        const leftOnBroker = new Map<string, string>();
        const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
        try {
          late.on('message', (topic, payload, packet) => packet.retain && leftOnBroker.set(topic, payload.toString()));
          await late.subscribeAsync('homeassistant/#', { qos: 1 });
          await waitUntil(async () => leftOnBroker, (m) => m.has(deviceTopic), 5000, 'the retained device config');
        } finally {
          await late.endAsync();
        }
        assert.deepEqual([...leftOnBroker.keys()], [deviceTopic], 'only the device config stays on the broker');
        const ids = events().map((e) => e.eventId);
        assert.equal(new Set(ids).size, ids.length, 'event ids are unique');
        for (const [i, exit] of events().entries()) {
          if (exit.type === 'exit') assert.ok(events().slice(0, i).some((e) => e.type === 'enter' && e.visitId === exit.visitId), `exit ${exit.visitId} follows its enter`);
        }

        // A crash: the broker publishes the will, so subscribers see offline instead of stale counts.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const footfallAtCrash = Number(latest('retail/vtest/footfall/today'));
        await red.kill();
        await waitUntil(async () => latest('retail/available'), (value) => value === 'offline', 10000, 'offline from the will');

        const restartAt = log.length;
        red = await startNodeRed(this, { flows, userDir: red.userDir });
        const after = () => log.slice(restartAt);
        await waitUntil(async () => after(), (m) => m.some((x) => x.topic === 'retail/available' && x.payload === 'online') && m.some((x) => x.topic === 'retail/vtest/footfall/today'), 60000, 'online and counts again');
        const restored = Number(after().find((m) => m.topic === 'retail/vtest/footfall/today')!.payload);
        assert.ok(restored >= footfallAtCrash && footfallAtCrash > 0, `footfall restored: ${restored} after the restart, ${footfallAtCrash} at the crash`);

        // The road zone leaves the layout: its components are reduced to their platform, so Home Assistant removes them.
        const withoutRoad = flows.map((n) => {
          if (n.type !== 'zone-analytics') return n;
          const layout = JSON.parse(n.layout as string) as { zones: { id: string }[] };
          return { ...n, layout: JSON.stringify({ ...layout, zones: layout.zones.filter((z) => z.id !== 'road') }) };
        });
        const deployed = await fetch(`http://127.0.0.1:${red.port}/flows`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(withoutRoad) });
        assert.equal(deployed.status, 204);
        await waitUntil(async () => device()?.cmps.zone_road_count, (component) => JSON.stringify(component) === '{"p":"sensor"}', 60000, "the road zone's components removed");
        assert.deepEqual(device().cmps.zone_road_occupied, { p: 'binary_sensor' });
        assert.ok(device().cmps['zone_path-left_count'].unique_id, 'the other zone stays');
      } finally {
        await client.endAsync();
      }
    });

    /** pos-integration deployed next to a flow whose footfall is exactly 8 visitors (and an api-out node at /api). */
    async function startPosWithKnownFootfall(context: Mocha.Context) {
      broker = await startMosquitto(context);
      const footfall = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'known-footfall-flow.json'), 'utf8')) as FlowNode[];
      const red = await startNodeRed(context, { flows: [...withBroker(example('pos-integration'), broker), ...footfall] });
      await waitUntil(() => getJson(red, '/api/stats'), (s: { total: { footfallToday: number } }) => s.total.footfallToday === 8, 30000, 'the fixture\'s 8 visitors');
      const post = (body: unknown) =>
        fetch(`http://127.0.0.1:${red.port}/pos/transactions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      return { red, post, broker };
    }

    it('pos-integration: sales by webhook and by MQTT give the expected conversion rate for a known footfall', async function () {
      const { red, post, broker } = await startPosWithKnownFootfall(this);
      const first = await post([{ id: 'W1', amount: 10 }, { id: 'W2', amount: 30 }]);
      assert.equal(first.status, 200);
      const answer = await first.json();
      assert.deepEqual([answer.accepted, answer.duplicates, answer.today.transactions, answer.today.footfall], [2, 0, 2, 8]);

      const refused = await post([{ id: 'W3', amount: 5 }, { id: 'W4', amount: -3 }]);
      assert.equal(refused.status, 400);
      assert.match((await refused.json()).error, /transaction 2: amount -3/);

      const till = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
      try {
        await till.publishAsync('pos/till-1/transactions', JSON.stringify({ id: 'M1', amount: 20 }), { qos: 1 });
        await till.publishAsync('pos/till-2/transactions', JSON.stringify({ id: 'W2', amount: 30 }), { qos: 1 });
      } finally {
        await till.endAsync();
      }
      const report = await waitUntil(() => getJson(red, '/api/conversion'), (r: { total: { transactions: number }; hours: { transactions: number }[] }) => r.total.transactions === 3, 15000, 'the MQTT sale');
      assert.deepEqual(report.total, { footfall: 8, transactions: 3, conversionRate: 0.375, revenue: 60, averageBasket: 20, basketPerVisitor: 7.5 });
      assert.equal(report.hours.reduce((sum, h) => sum + h.transactions, 0), 3);
      const stats = await getJson(red, '/api/stats');
      assert.deepEqual(stats.conversionToday, report.total);
      const again = await (await post({ id: 'W1', amount: 10 })).json();
      assert.deepEqual([again.accepted, again.duplicates, again.today.transactions], [0, 1, 3], 'a retried webhook counts once');
      await assertCleanDeploy(this, red);
    });

    it('pos-integration: the dashboard shows today\'s conversion, and sales per hour as they arrive', async function () {
      const { red, post } = await startPosWithKnownFootfall(this);
      const browser = await launchChromium(this);
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(`http://127.0.0.1:${red.port}/dashboard/`);
        await waitUntil(() => page.locator('#footfall').innerText(), (text) => text === '8', 15000, 'footfall 8 on the dashboard');
        // A pos-conversion node records sales here: the tile shows from the start, at 0 until the first sale.
        await waitUntil(() => page.locator('#conversion').innerText(), (text) => text === '0.0 %', 15000, 'conversion 0 / 8');
        assert.equal((await post([{ id: 'S1', amount: 30 }, { id: 'S2', amount: 10 }])).status, 200);
        await waitUntil(() => page.locator('#conversion').innerText(), (text) => text === '25.0 %', 15000, 'conversion 2 / 8');
        assert.equal(await page.locator('#sales').innerText(), '2 sales · 5.00 per visitor');
        const sales = await waitUntil(
          () => page.evaluate(() => (window as unknown as { Chart: { getChart(id: string): { data: { datasets: { data: number[] }[] } } } }).Chart.getChart('footfall-chart').data.datasets[1].data),
          (data) => data.reduce((sum, n) => sum + n, 0) === 2,
          15000,
          'sales per hour in the chart',
        );
        assert.deepEqual(sales, [2]);
        const today = await waitUntil(
          () => page.locator('#conversion-days tr').first().locator('td').allInnerTexts(),
          (cells) => cells[2] === '2',
          15000,
          'today first in the 7-day table',
        );
        assert.deepEqual(today.slice(1), ['8', '2', '25.0 %', '20.00', '5.00']);
        assert.equal(await page.locator('#conversion-days tr').count(), 7);
        mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'dashboard-conversion.png'), fullPage: true });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    });

    it('dashboard-2: Dashboard 2.0 has /dashboard; our widgets show live video and the heatmap, and a zone drawn in the editor is counted', async function () {
      const red = await startNodeRed(this, { flows: example('dashboard-2') });
      const setup = await fetch(`http://127.0.0.1:${red.port}/dashboard/_setup`);
      assert.equal(setup.status, 200, "Dashboard 2.0's /dashboard/_setup answers");
      assert.equal((await fetch(`http://127.0.0.1:${red.port}/retail-analytics/dashboard/`)).status, 200, 'our own page moved aside');
      const browser = await launchChromium(this);
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1700 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        const widgetFiles: string[] = [];
        page.on('response', (response) => {
          if (response.url().includes('/resources/@retail-vision/node-red-dashboard-2-retail-analytics/')) widgetFiles.push(`${response.status()} ${new URL(response.url()).pathname}`);
        });
        await page.goto(`http://127.0.0.1:${red.port}/dashboard/store`);
        const read = () =>
          page.evaluate(() => ({
            frames: Number(document.querySelector('.retail-video canvas')?.getAttribute('data-frames') ?? 0),
            heatmap: document.querySelector('.retail-heatmap img')?.getAttribute('src') ?? '',
            shapes: Array.from(document.querySelectorAll('.retail-zones .retail-shape')).map((g) => g.getAttribute('data-id')),
            gauges: document.querySelectorAll('.nrdb-ui-gauge').length,
            tableRows: document.querySelectorAll('.nrdb-ui-table tbody tr').length,
          }));
        const shown = await waitUntil(read, (s) => s.frames >= 5 && s.heatmap.startsWith('blob:') && s.shapes.length === 3 && s.gauges === 2 && s.tableRows === 2, 90000, 'every widget filled');
        assert.deepEqual(shown.shapes, ['path-left', 'road', 'middle'], 'the editor shows the layout zone-analytics counts with');
        assert.deepEqual([...new Set(widgetFiles)], ['200 /resources/@retail-vision/node-red-dashboard-2-retail-analytics/retail-analytics-widgets.js'], 'the widgets come from our package');

        // A new zone over the middle of the picture, drawn with four clicks and closed on the first corner.
        const surface = page.locator('.retail-zones svg.retail-surface');
        await surface.scrollIntoViewIfNeeded();
        const picture = await page.evaluate(() => {
          const svg = document.querySelector('.retail-zones svg.retail-surface') as SVGSVGElement;
          const m = svg.getScreenCTM()!;
          const [w, h] = svg.getAttribute('viewBox')!.split(' ').slice(2).map(Number);
          return { x: m.e, y: m.f, width: w * m.a, height: h * m.d };
        });
        const at = (fx: number, fy: number) => ({ x: picture.x + fx * picture.width, y: picture.y + fy * picture.height });
        await page.click('.retail-zones button.retail-zone');
        for (const [fx, fy] of [[0.3, 0.5], [0.7, 0.5], [0.7, 0.95], [0.3, 0.95], [0.3, 0.5]]) await page.mouse.click(at(fx, fy).x, at(fx, fy).y);
        await page.fill('.retail-zones input.retail-name', 'Lawn');
        await page.dispatchEvent('.retail-zones input.retail-name', 'change');
        await page.click('.retail-zones button.retail-apply');
        await waitUntil(() => page.locator('.retail-zones .retail-message').innerText(), (text) => /^applied/.test(text), 15000, 'the layout applied');
        const camera = await waitUntil(
          () => getJson(red, '/api/cameras/vtest') as Promise<{ zoneStats: { id: string; name: string }[] }>,
          (c) => c.zoneStats.some((z) => z.id === 'zone-1'),
          30000,
          'the new zone counted',
        );
        assert.deepEqual(camera.zoneStats.map((z) => `${z.id} ${z.name}`), ['path-left Path (left)', 'road Road', 'zone-1 Lawn'], 'the old zones stay, the new one is counted');
        assert.match(red.output(), /\[zone-analytics:zones\] layout changed from the Dashboard 2\.0 zone editor "zone editor": zones Path \(left\), Road, Lawn; lines Middle of the scene; 0 visits under way ended/);
        const layout = await page.evaluate(() => Array.from(document.querySelectorAll('.retail-zones .retail-shape')).map((g) => g.getAttribute('data-id')));
        assert.deepEqual(layout, ['path-left', 'road', 'zone-1', 'middle'], 'the editor reloads the layout it applied');
        mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'dashboard-2.png'), fullPage: true });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
      await assertCleanDeploy(this, red);
    });

    it('dashboard: /ui shows live video, gauges, the chart, the zone table and the heatmap from the pipeline', async function () {
      const red = await startNodeRed(this, { flows: example('dashboard') });
      const browser = await launchChromium(this);
      try {
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        const errors: string[] = [];
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(`http://127.0.0.1:${red.port}/ui/`);
        const read = () =>
          page.evaluate(() => ({
            frames: Number(document.querySelector('canvas.retail-video')?.getAttribute('data-frames') ?? 0),
            gauge: document.querySelector('.retail-people-now')?.textContent ?? '',
            footfall: document.querySelector('.retail-footfall')?.textContent ?? '',
            zoneRows: document.querySelectorAll('table.retail-zones tr').length,
            chartCanvas: !!document.querySelector('.retail-chart canvas'),
            heatmap: document.querySelector('img.retail-heatmap')?.getAttribute('src') ?? '',
          }));
        const shown = await waitUntil(read, (s) => s.frames >= 5 && /\d/.test(s.gauge) && /\d+ today/.test(s.footfall) && s.zoneRows === 3 && s.chartCanvas && s.heatmap.startsWith('data:image/png;base64,'), 60000, 'every widget filled');
        assert.ok(shown.frames >= 5);
        mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'ui.png'), fullPage: true });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
      await assertCleanDeploy(this, red);
    });
  });
});
