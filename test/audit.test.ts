import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AuditStore, MAX_CLIPS_KEPT, type ClipFrame } from '../src/audit/clips';
import { scoreAudit, type CountMark } from '../src/audit/score';
import { createApi } from '../src/api/http';
import { ApiState } from '../src/api/state';
import type { ZoneGeometry } from '../src/analytics/zones';
import { ROOT } from './support';

/** The command line, run without blocking this process (the API it calls is served here). */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

const geometry: ZoneGeometry = {
  zones: [{ id: 'till', name: 'Till', polygon: [[0, 0], [10, 0], [10, 10], [0, 10]] }],
  lines: [{ id: 'door', name: 'Door', from: [0, 5], to: [10, 5] }],
};
const counters = [
  { counter: 'door', kind: 'in' as const },
  { counter: 'door', kind: 'out' as const },
  { counter: 'till', kind: 'entry' as const },
];
const image = { pixels: new Uint8Array(16 * 12 * 3).fill(90), width: 16, height: 12 };

/** A frame of camera "cam" at second `s` (ms from 0), with the counters at these values. */
function frameAt(seq: number, at: number, counts: { in: number; out: number; entries: number }, withImage = true): ClipFrame {
  return {
    frame: { cameraId: 'cam', seq, timestamp: at, width: 16, height: 12, dropped: 0 },
    image: withImage ? image : undefined,
    geometry,
    lines: [{ id: 'door', in: counts.in, out: counts.out }],
    zones: [{ id: 'till', totalEntries: counts.entries }],
  };
}

describe('Count audit: scoring', () => {
  const mark = (counter: string, kind: CountMark['kind'], at: number): CountMark => ({ counter, kind, at });

  it('pairs counts within 2 s, so a miss and an extra count show as gross error even when the totals agree', () => {
    const tally = [mark('door', 'in', 1000), mark('door', 'in', 5000), mark('door', 'out', 9000)];
    // The product counts the first crossing 1.5 s late, misses the second, counts one nobody made, and the exit.
    const product = [mark('door', 'in', 2500), mark('door', 'in', 20000), mark('door', 'out', 8200)];
    const score = scoreAudit(tally, product, counters);
    const doorIn = score.counters[0];
    assert.deepEqual([doorIn.truth, doorIn.counted, doorIn.missed, doorIn.extra, doorIn.netError, doorIn.grossError], [2, 2, 1, 1, 0, 1]);
    assert.deepEqual(score.counters[1], { counter: 'door', kind: 'out', truth: 1, counted: 1, missed: 0, extra: 0, netError: 0, grossError: 0 });
    assert.deepEqual(score.counters[2], { counter: 'till', kind: 'entry', truth: 0, counted: 0, missed: 0, extra: 0, netError: null, grossError: null });
    assert.deepEqual(score.total, { truth: 3, counted: 3, missed: 1, extra: 1, netError: 0, grossError: 2 / 3 });
  });

  it('finds the most pairs there are: an early product count does not take the partner of a later one', () => {
    // Person at 0 and 3 s; product at 1.9 and 4.9 s. Pairing 1.9 with 3 would leave 0 and 4.9 apart.
    const score = scoreAudit([mark('door', 'in', 0), mark('door', 'in', 3000)], [mark('door', 'in', 1900), mark('door', 'in', 4900)], counters);
    assert.deepEqual([score.total.missed, score.total.extra], [0, 0]);
    const counts = scoreAudit([mark('door', 'in', 0)], [mark('door', 'in', 2001), mark('till', 'entry', 0)], counters);
    assert.deepEqual([counts.total.missed, counts.total.extra, counts.total.netError], [1, 2, 1], 'another counter and a count 2.001 s away are not a pair');
  });
});

describe('Count audit: clips and audits', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records a camera\'s frames and the counts it made, ends after the seconds asked for, and scores an audit', async () => {
    const store = new AuditStore(path.join(dir, 'audits.db'));
    const clip = store.record('cam', 5);
    assert.equal(clip.state, 'recording');
    assert.throws(() => store.record('cam', 5), /camera "cam" is already recording clip/);
    store.offer('other', { ...frameAt(1, 0, { in: 0, out: 0, entries: 0 }), frame: { ...frameAt(1, 0, { in: 0, out: 0, entries: 0 }).frame, cameraId: 'other' } });
    // Counts from before the clip (7 in) are not the clip's; 2 in, 1 out, 1 entry happen during it.
    const steps: [number, number, number, number][] = [[0, 7, 3, 2], [1000, 8, 3, 2], [2000, 8, 3, 2], [3000, 9, 4, 3], [4000, 9, 4, 3], [5000, 9, 4, 3], [6000, 10, 4, 3]];
    steps.forEach(([at, inside, out, entries], i) => store.offer('cam', frameAt(i + 1, 1_000_000 + at, { in: inside, out, entries })));
    store.offer('cam', frameAt(6, 1_000_000 + 5000, { in: 99, out: 99, entries: 99 }));
    await store.settled();
    const done = store.clip(clip.id);
    assert.equal(done.state, 'ready');
    assert.deepEqual([done.startedAt, done.endedAt, done.frames, done.width, done.height], [1_000_000, 1_005_000, 6, 16, 12], 'five seconds, the frame after them not recorded');
    assert.deepEqual(done.counters.map((c) => `${c.name} ${c.kind}`), ['Door in', 'Door out', 'Till entry']);
    assert.deepEqual(done.counts.map((c) => `${c.counter} ${c.kind} ${c.at - 1_000_000}`), ['door in 1000', 'door in 3000', 'door out 3000', 'till entry 3000']);
    assert.deepEqual([...store.frame(clip.id, 0).subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    assert.throws(() => store.frame(clip.id, 6), /has no frame 6/);

    const audit = store.audit(clip.id, { auditor: ' Ana ', tally: [{ counter: 'door', kind: 'in', at: 1_000_900 }, { counter: 'door', kind: 'out', at: 1_003_100 }, { counter: 'till', kind: 'entry', at: 1_003_000 }] });
    assert.equal(audit.auditor, 'Ana');
    assert.deepEqual(audit.score.total, { truth: 3, counted: 4, missed: 0, extra: 1, netError: 1 / 3, grossError: 1 / 3 });
    assert.deepEqual(store.audits('cam').map((a) => a.id), [audit.id]);
    assert.deepEqual(store.audits('other'), []);
    assert.throws(() => store.audit(clip.id, { tally: [{ counter: 'door', kind: 'entry', at: 1_000_000 }] }), /no counter "door" counting "entry"; it has door in, door out, till entry/);
    assert.throws(() => store.audit(clip.id, { tally: [{ counter: 'door', kind: 'in', at: 2_000_000 }] }), /outside the clip/);
    assert.throws(() => store.audit(clip.id, { tally: 'many' }), /tally must be a list/);
    assert.equal(store.audits().length, 1, 'refused audits are not kept');
    await store.close();

    const reopened = new AuditStore(path.join(dir, 'audits.db'));
    assert.deepEqual([reopened.list()[0].audits, reopened.audits()[0].score.total.extra], [1, 1], 'clips and audits outlive a restart');
    await reopened.close();
  });

  it('ends a recording early when the camera stops, keeps what it has over a restart, and refuses bad lengths', async () => {
    const file = path.join(dir, 'audits.db');
    const store = new AuditStore(file);
    assert.throws(() => store.record('cam', 2), /seconds must be from 5 to 600, got 2/);
    const clip = store.record('cam', 60);
    store.offer('cam', frameAt(1, 0, { in: 0, out: 0, entries: 0 }));
    store.offer('cam', frameAt(2, 40, { in: 1, out: 0, entries: 0 }, false));
    await store.close();
    const stopped = new AuditStore(file);
    const kept = stopped.clip(clip.id);
    assert.deepEqual([kept.state, kept.frames, kept.counts.length, kept.note], ['ready', 1, 1, 'the api-out node stopped (a redeploy or Node-RED stopping) before the clip ended']);
    assert.throws(() => stopped.audit('nothing', { tally: [] }), /no clip "nothing"/);
    // A process that dies while recording: the next start keeps what was stored.
    const crashed = stopped.record('cam', 60);
    stopped.offer('cam', frameAt(3, 80, { in: 1, out: 0, entries: 0 }));
    await stopped.settled();
    const restarted = new AuditStore(file);
    assert.deepEqual([restarted.clip(crashed.id).state, restarted.clip(crashed.id).note], ['ready', 'Node-RED stopped without closing while it was recording']);
    await restarted.close();
    await stopped.close();
  });

  it(`keeps the frames of the newest ${MAX_CLIPS_KEPT} clips and every audit`, async () => {
    let now = 0;
    const store = new AuditStore(path.join(dir, 'audits.db'), 80, () => (now += 1000));
    const ids: string[] = [];
    for (let i = 0; i <= MAX_CLIPS_KEPT; i++) {
      ids.push(store.record('cam', 5).id);
      for (let s = 0; s <= 5; s++) store.offer('cam', frameAt(i * 10 + s, i * 100_000 + s * 1000, { in: 0, out: 0, entries: 0 }));
      await store.settled();
      await new Promise((resolve) => setImmediate(resolve));
      if (i === 0) store.audit(ids[0], { tally: [] });
    }
    const first = store.clip(ids[0]);
    assert.deepEqual([first.state, first.frames, first.audits], ['failed', 0, 1]);
    assert.match(first.note!, /frames were deleted to keep the newest 20 clips; its audits are kept/);
    assert.ok(ids.slice(1).every((id) => store.clip(id).frames === 6));
    await store.close();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.ok(condition(), 'waited 10 s');
}

describe('Count audit: the API and the command line', () => {
  let server: Server;
  let port: number;
  let dir: string;
  let store: AuditStore;
  const state = new ApiState();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-api-'));
    store = new AuditStore(path.join(dir, 'audits.db'));
    const api = createApi({ state, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: false, startedAt: Date.now(), audits: () => store });
    server = createServer((req, res) => {
      if (req.url?.startsWith('/api')) {
        req.url = req.url.slice(4);
        void api.handle(req, res);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    state.ingest({ frame: frameAt(1, 0, { in: 0, out: 0, entries: 0 }).frame, zones: [], lines: [] });
  });
  after(async () => {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (route: string, method = 'GET', body?: unknown) => {
    const headers = { 'Content-Type': 'application/json' };
    const res = await fetch(`http://127.0.0.1:${port}/api${route}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, allow: res.headers.get('allow'), body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[] };
  };

  it('records a clip by POST, lists it, serves its frames, takes an audit and keeps its history', async () => {
    const started = await call('/cameras/cam/clips', 'POST', { seconds: 5 });
    assert.equal(started.status, 202);
    const id = started.body.id as string;
    for (let s = 0; s <= 5; s++) store.offer('cam', frameAt(s + 2, s * 1000, { in: s >= 2 ? 1 : 0, out: 0, entries: 0 }));
    await store.settled();
    assert.deepEqual((await call('/clips')).body.map((c) => [c.id, c.state]), [[id, 'ready']]);
    assert.equal((await call('/cameras/cam/clips')).body.length, 1);
    const clip = await call(`/clips/${id}`);
    assert.deepEqual(clip.body.counts, [{ counter: 'door', kind: 'in', at: 2000 }]);
    const frame = await fetch(`http://127.0.0.1:${port}/api/clips/${id}/frames/3`);
    assert.deepEqual([frame.status, frame.headers.get('content-type')], [200, 'image/jpeg']);
    const audit = await call(`/clips/${id}/audits`, 'POST', { auditor: 'Ana', tally: [{ counter: 'door', kind: 'in', at: 1800 }] });
    assert.equal(audit.status, 201);
    assert.deepEqual((audit.body.score as { total: object }).total, { truth: 1, counted: 1, missed: 0, extra: 0, netError: 0, grossError: 0 });
    assert.deepEqual((await call(`/clips/${id}/audits`)).body.map((a) => a.auditor), ['Ana']);
    assert.deepEqual((await call('/audits?camera=cam')).body.map((a) => a.id), [audit.body.id]);
  });

  it('retail-analytics audit prints the history per camera and counter, and records a clip, saying where to audit it', async () => {
    const api = `http://127.0.0.1:${port}/api`;
    const history = await cli('audit', '--api', api);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^camera cam: 1 audit, 1 counted by people, 1 by the product; net error 0\.0 %, gross error 0\.0 %\n  door in +people +1  product +1  missed +0  extra +0  net error 0\.0 %, gross error 0\.0 %\n  door out .*gross error – *\n/);
    assert.match(history.stdout, /audits, newest first:\n  \d{4}-\d\d-\d\d \d\d:\d\d  cam  clip cam-\S+  Ana: 1 people, 1 counted; net error 0\.0 %, gross error 0\.0 %\n$/);
    const json = JSON.parse((await cli('audit', '--api', api, '--json', '--camera', 'cam')).stdout);
    assert.deepEqual(json.cameras[0].total, { truth: 1, counted: 1, missed: 0, extra: 0 });
    assert.equal((await cli('audit', '--api', api, '--camera', 'elsewhere')).stdout, 'no audits yet: record a clip (--record --camera ID) and tally it on the Count audit page\n');

    const recording = cli('audit', '--api', api, '--record', '--camera', 'cam', '--seconds', '5');
    await waitFor(() => store.isRecording('cam'));
    for (let s = 0; s <= 5; s++) store.offer('cam', frameAt(100 + s, 100_000 + s * 1000, { in: 1, out: 0, entries: 0 }));
    const recorded = await recording;
    assert.equal(recorded.code, 0, recorded.stderr);
    assert.match(recorded.stderr, /^recording 5 s of camera cam \(clip cam-\S+\)…\n$/);
    assert.match(recorded.stdout, new RegExp(`^clip cam-\\S+: 6 frames\naudit it at http://127\\.0\\.0\\.1:${port}/dashboard/audit\\.html#clip=cam-\\S+\n$`));

    const refused = await cli('audit', '--api', api, '--record');
    assert.deepEqual([refused.code, refused.stderr.split('\n')[0]], [1, 'retail-analytics: --record needs --camera ID: the camera-source "Camera id" to record']);
    const tooLong = await cli('audit', '--api', api, '--record', '--camera', 'cam', '--seconds', '6000');
    assert.match(tooLong.stderr, /POST http:\/\/127\.0\.0\.1:\d+\/api\/cameras\/cam\/clips: HTTP 400: seconds must be from 5 to 600, got 6000/);
    const nowhere = await cli('audit', '--api', 'http://127.0.0.1:1/api');
    assert.deepEqual([nowhere.code, /cannot reach http:\/\/127\.0\.0\.1:1\/api: .*is Node-RED running/.test(nowhere.stderr)], [1, true]);
  });

  it('records no clip in privacy mode, nor of another instance\'s camera', async () => {
    const privateApi = createApi({ state, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: true, startedAt: Date.now(), audits: () => store });
    const fleet = new ApiState();
    fleet.ingest({ cameraId: 'far', fleet: { aggregator: 'agg', instance: 'shop-2' } });
    const fleetApi = createApi({ state: fleet, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: false, startedAt: Date.now(), audits: () => store });
    const post = async (api: typeof privateApi, camera: string) => {
      const server = createServer((req, res) => void api.handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/cameras/${camera}/clips`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      server.close();
      return [res.status, ((await res.json()) as { error: string }).error];
    };
    assert.deepEqual(await post(privateApi, 'cam'), [403, 'privacy mode: a clip shows people, so this api-out node records none; turn Privacy off to audit counts']);
    assert.deepEqual(await post(fleetApi, 'far'), [409, 'camera "far" runs on instance "shop-2": record its clips through that instance\'s api-out']);
  });

  it('explains what it refuses, and takes writes only where it records', async () => {
    assert.deepEqual([(await call('/cameras/nowhere/clips', 'POST', {})).status, (await call('/cameras/nowhere/clips', 'POST', {})).body.error], [404, 'unknown camera "nowhere"']);
    const bad = await call('/cameras/cam/clips', 'POST', '{"seconds":');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error as string, /the body is not JSON/);
    assert.match((await call('/cameras/cam/clips', 'POST', { seconds: '60' })).body.error as string, /seconds must be a number, got "60"/);
    assert.match((await call('/cameras/cam/clips', 'POST', { seconds: 6000 })).body.error as string, /seconds must be from 5 to 600/);
    assert.deepEqual([(await call('/clips/x/audits', 'POST', { tally: [] })).status], [404]);
    const stats = await call('/stats', 'POST', {});
    assert.deepEqual([stats.status, stats.allow], [405, 'GET, HEAD']);
    const clips = await call('/cameras/cam/clips', 'DELETE');
    assert.deepEqual([clips.status, clips.allow], [405, 'GET, HEAD, POST']);
    // A page of another site can post a form or text without a CORS preflight: refused before anything happens.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const form = await fetch(`http://127.0.0.1:${port}/api/cameras/cam/clips`, { method: 'POST', headers: { 'Content-Type': type }, body: '{"seconds":5}' });
      assert.deepEqual([form.status, ((await form.json()) as { error: string }).error], [415, `send a JSON body with Content-Type: application/json, got "${type}"`]);
    }
    assert.equal(store.isRecording('cam'), false);
    const big = await call('/cameras/cam/clips', 'POST', `{"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`);
    assert.equal(big.status, 413);
  });
});
