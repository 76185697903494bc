import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { launchChromium } from './browser';
import { startNodeRed, stopAllNodeRed, type RunningNodeRed } from './node-red';
import { ffmpegReading, requireVtest, ROOT, signalFfmpeg, uniqueVideo, waitUntil } from './support';

/**
 * The demo flow as `npm start` runs it, on a camera of its own (a uniquely named link to vtest.avi, so the test can
 * find its FFmpeg), hit by what a store box meets: FFmpeg killed or hung, redeploys, Node-RED killed.
 */

type Health = { status: string; problems: { kind: string; id: string; problem: string }[]; cameras: { id: string; state: string; fps: number; problem: string | null }[] };
type Zones = { cameraId: string; zones: { id: string; totalEntries: number; totalExits: number; currentCount: number }[] }[];
type ZoneEvent = { type: string; zoneId: string; visitId: string; reason?: string };

const demoFlow = (video: string) =>
  (JSON.parse(readFileSync(path.join(ROOT, 'examples', 'dashboard.json'), 'utf8')) as { id: string; source?: string }[]).map((node) =>
    node.id === 'demo.camera' ? { ...node, source: video } : node,
  );

async function health(red: RunningNodeRed): Promise<Health & { httpStatus: number }> {
  const res = await fetch(`http://127.0.0.1:${red.port}/api/health`);
  return { ...((await res.json()) as Health), httpStatus: res.status };
}

/** The zone counts api-out shows; none while a redeploy has taken its route away. */
async function zones(red: RunningNodeRed): Promise<Zones> {
  const res = await fetch(`http://127.0.0.1:${red.port}/api/zones`);
  return res.status === 200 ? ((await res.json()) as Zones) : [];
}

/** Zones whose entries − exits is not the number inside, as "camera/zone entries−exits≠inside". */
const unbalanced = (all: Zones) =>
  all.flatMap(({ cameraId, zones }) => zones.filter((z) => z.totalEntries - z.totalExits !== z.currentCount || z.currentCount < 0).map((z) => `${cameraId}/${z.id} ${z.totalEntries}−${z.totalExits}≠${z.currentCount}`));

/** The zone events the demo's "zone events" debug node shows, as the editor's sidebar receives them. */
function zoneEvents(red: RunningNodeRed): { events: ZoneEvent[]; close(): void } {
  const events: ZoneEvent[] = [];
  const comms = new WebSocket(`ws://127.0.0.1:${red.port}/comms`);
  comms.on('open', () => comms.send(JSON.stringify({ subscribe: 'debug' })));
  comms.on('message', (data) => {
    for (const message of JSON.parse(String(data)) as { topic: string; data: { name?: string; msg?: string } }[]) {
      if (message.topic === 'debug' && message.data.name === 'zone events') events.push(JSON.parse(message.data.msg!));
    }
  });
  return { events, close: () => comms.close() };
}

async function redeploy(red: RunningNodeRed): Promise<void> {
  const flows = await (await fetch(`http://127.0.0.1:${red.port}/flows`)).json();
  const res = await fetch(`http://127.0.0.1:${red.port}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(flows),
  });
  assert.equal(res.status, 204, await res.text());
}

describe('chaos: the demo recovers by itself and its books balance', function () {
  this.timeout(600000);

  afterEach(stopAllNodeRed);

  it('FFmpeg killed or hung: the camera comes back by itself, and health tells the truth meanwhile', async function () {
    const video = uniqueVideo(requireVtest(this), 'chaos-camera');
    const red = await startNodeRed(this, { flows: demoFlow(video) });
    await waitUntil(() => health(red), (h) => h.status === 'ok' && h.cameras.length === 1, 60000, 'the demo healthy');

    for (let kill = 1; kill <= 3; kill++) {
      const [victim] = ffmpegReading(video);
      assert.ok(victim, 'FFmpeg runs');
      process.kill(victim, 'SIGKILL');
      const back = await waitUntil(() => health(red), (h) => h.status === 'ok' && ffmpegReading(video).length === 1 && !ffmpegReading(video).includes(victim), 30000, `the camera back after kill ${kill}`);
      assert.equal(back.httpStatus, 200);
    }
    assert.equal((red.output().match(/\[debug:errors\][\s\S]*?FFmpeg was killed \(SIGKILL\)/g) ?? []).length, 3, 'each kill reaches the Catch node once');

    // A hung FFmpeg sends nothing and does not exit: after 10 s without a frame health says the only camera is down
    // (503, for probes), and the 15 s watchdog replaces FFmpeg.
    assert.ok(signalFfmpeg(video, 'SIGSTOP'));
    const down = await waitUntil(() => health(red), (h) => h.status === 'down', 30000, 'health to see the stalled camera');
    assert.equal(down.httpStatus, 503);
    assert.match(down.problems[0].problem, /no frame for \d+ s/);
    assert.deepEqual(down.problems.map((p) => [p.kind, p.id]), [['camera', 'vtest']]);
    await waitUntil(() => health(red), (h) => h.status === 'ok', 30000, 'the watchdog to restart FFmpeg');
    assert.match(red.output(), /\[debug:errors\][\s\S]*no frame for 15 s/);
    assert.deepEqual(red.problems().filter((line) => !/unencrypted credentials|Projects disabled|FFmpeg was killed|no frame for/.test(line) && !/\[error\] \[camera-source/.test(line)), [], red.output());
  });

  it('a camera that cannot run: health is degraded with the reason, 503 for a strict probe, and the dashboard shows it plainly', async function () {
    const video = uniqueVideo(requireVtest(this), 'chaos-fine');
    const red = await startNodeRed(this, {
      flows: [
        { id: 'tab', type: 'tab', label: 'two cameras' },
        { id: 'fine', type: 'camera-source', z: 'tab', cameraId: 'aisle', source: video, loop: true, realtime: true, width: 320, height: 0, fps: 5, autostart: true, ffmpegPath: '', wires: [['api']] },
        { id: 'gone', type: 'camera-source', z: 'tab', cameraId: 'door', source: '/nonexistent/door.mp4', loop: false, realtime: true, width: 0, height: 0, fps: 0, autostart: true, ffmpegPath: '', wires: [['api']] },
        { id: 'api', type: 'api-out', z: 'tab', basePath: '/api', quality: 80, privacy: false, database: '', wires: [] },
      ],
    });
    const degraded = await waitUntil(() => health(red), (h) => h.status === 'degraded' && h.cameras.length === 2 && h.problems.some((p) => p.id === 'door' && p.problem.startsWith('failed')), 30000, 'health to see the failed camera');
    assert.equal(degraded.httpStatus, 200, 'degraded is still alive for a liveness probe');
    assert.deepEqual(degraded.problems.map((p) => [p.kind, p.id]), [['camera', 'door']]);
    assert.match(degraded.problems[0].problem, /^failed: .*\/nonexistent\/door\.mp4/);
    assert.equal((await fetch(`http://127.0.0.1:${red.port}/api/health?strict`)).status, 503);

    const browser = await launchChromium(this);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`http://127.0.0.1:${red.port}/dashboard/`);
      await page.waitForSelector('.camera.down', { timeout: 20000 });
      const cards = await page.locator('.camera').evaluateAll((all) => all.map((card) => [card.querySelector('.name')!.textContent, card.classList.contains('down'), card.querySelector('.state')!.textContent]));
      const door = cards.find(([name]) => name === 'door')!;
      assert.deepEqual(door.slice(0, 2), ['door', true]);
      assert.match(String(door[2]), /^DOWN · failed: /);
      assert.deepEqual(cards.find(([name]) => name === 'aisle')!.slice(0, 2), ['aisle', false]);
      assert.match(await page.locator('#health').innerText(), /^degraded: door failed/);
      mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'dashboard-camera-down.png') });
    } finally {
      await browser.close();
    }
  });

  it('ten redeploys, a SIGKILL and a clean restart: entries − exits = inside at every read, and every visit ends once with its reason', async function () {
    const video = uniqueVideo(requireVtest(this), 'chaos-books');
    let red = await startNodeRed(this, { flows: demoFlow(video) });
    let listener = zoneEvents(red);
    const events: ZoneEvent[] = [];
    const reads: string[] = [];
    const read = async () => {
      const all = await zones(red);
      reads.push(...unbalanced(all));
      return all;
    };
    const inside = (all: Zones) => all.reduce((sum, c) => sum + c.zones.reduce((s, z) => s + z.currentCount, 0), 0);
    await waitUntil(read, (all) => inside(all) > 0, 90000, 'people inside a zone');

    for (let deploy = 1; deploy <= 10; deploy++) {
      await redeploy(red);
      // Reads while the flow restarts and counts again.
      const until = Date.now() + 4000;
      while (Date.now() < until) {
        await read();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await waitUntil(() => Promise.resolve(listener.events), (all) => all.some((e) => e.reason === 'redeploy'), 30000, 'exits of visits a redeploy cut short');

    // Someone inside for over a second: the counters saved each second hold an open visit when Node-RED dies.
    await waitUntil(read, (all) => inside(all) > 0, 90000, 'people inside a zone');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await waitUntil(read, (all) => inside(all) > 0, 90000, 'people still inside');
    await red.kill();
    listener.close();
    events.push(...listener.events);
    red = await startNodeRed(this, { flows: demoFlow(video), userDir: red.userDir });
    listener = zoneEvents(red);
    await waitUntil(() => Promise.resolve(listener.events), (all) => all.some((e) => e.reason === 'restart'), 60000, 'exits of visits the kill cut short');

    // Node-RED stopped cleanly and started again: the visits under way end as a redeploy's do.
    await waitUntil(read, (all) => inside(all) > 0, 90000, 'people inside a zone');
    await red.stop();
    listener.close();
    events.push(...listener.events);
    const redeployExits = events.filter((e) => e.reason === 'redeploy').length;
    red = await startNodeRed(this, { flows: demoFlow(video), userDir: red.userDir });
    listener = zoneEvents(red);
    await waitUntil(() => Promise.resolve(listener.events), (all) => all.some((e) => e.reason === 'redeploy'), 60000, 'exits of visits a clean stop cut short');
    assert.ok(redeployExits > 0);
    for (let i = 0; i < 20; i++) {
      await read();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The events stream and the counters agree: visits begun and not ended are the people inside.
    await waitUntil(
      read,
      (all) => {
        const seen = [...events, ...listener.events];
        const open = new Set(seen.filter((e) => e.type === 'enter').map((e) => e.visitId));
        for (const e of seen) if (e.type === 'exit') open.delete(e.visitId);
        return open.size === inside(all);
      },
      30000,
      'visits open in the events to equal the people inside',
    );
    listener.close();
    events.push(...listener.events);

    assert.deepEqual(reads, [], 'every read balanced');
    const exits = events.filter((e) => e.type === 'exit');
    const enters = new Set(events.filter((e) => e.type === 'enter').map((e) => e.visitId));
    assert.equal(new Set(exits.map((e) => e.visitId)).size, exits.length, 'no visit ends twice');
    assert.deepEqual(exits.filter((e) => !enters.has(e.visitId)), [], 'every exit ends a visit that began');
    assert.deepEqual([...new Set(exits.map((e) => e.reason))].sort().filter((r) => r !== 'lost' && r !== 'left'), ['redeploy', 'restart']);
  });
});
