import { parseArgs } from 'node:util';
import type { AuditRecord, ClipSummary } from '../audit/clips';
import type { CountKind, CounterScore } from '../audit/score';

export const AUDIT_USAGE = `  audit [--api http://localhost:1880/api] [--camera ID] [--json] [--user NAME:PASSWORD]
      the count audits kept by a running Node-RED's api-out node: per camera and counter, what people counted
      in the clips they audited against what the product counted (missed, extra, net and gross error), then
      every audit. --record --camera ID [--seconds 60] records a clip of the camera instead, waits until it
      is ready, and prints where to audit it (the dashboard's Count audit page). --user for httpNodeAuth`;

/** Something the command cannot do, with the reason; the caller prints usage for a UsageError only. */
class AuditCommandError extends Error {}

type Totals = Pick<CounterScore, 'truth' | 'counted' | 'missed' | 'extra'>;

const KIND_WORDS: Record<CountKind, string> = { in: 'in', out: 'out', entry: 'entries' };
const percent = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)} %`);
const errorsOf = ({ truth, counted, missed, extra }: Totals) =>
  `net error ${percent(truth > 0 ? (counted - truth) / truth : null)}, gross error ${percent(truth > 0 ? (missed + extra) / truth : null)}`;

/** Adds up audits per camera and per counter: the figures a store owner asks for ("how right is the door?"). */
export function auditTotals(audits: readonly AuditRecord[]): { cameraId: string; audits: number; total: Totals; counters: (Totals & { counter: string; kind: CountKind })[] }[] {
  const cameras = new Map<string, { audits: number; total: Totals; counters: Map<string, Totals & { counter: string; kind: CountKind }> }>();
  const add = (into: Totals, from: Totals) => {
    into.truth += from.truth;
    into.counted += from.counted;
    into.missed += from.missed;
    into.extra += from.extra;
  };
  for (const audit of audits) {
    const camera = cameras.get(audit.cameraId) ?? { audits: 0, total: { truth: 0, counted: 0, missed: 0, extra: 0 }, counters: new Map() };
    camera.audits++;
    add(camera.total, audit.score.total);
    for (const score of audit.score.counters) {
      const key = `${score.kind} ${score.counter}`;
      const counter = camera.counters.get(key) ?? { counter: score.counter, kind: score.kind, truth: 0, counted: 0, missed: 0, extra: 0 };
      add(counter, score);
      camera.counters.set(key, counter);
    }
    cameras.set(audit.cameraId, camera);
  }
  return [...cameras].map(([cameraId, c]) => ({ cameraId, audits: c.audits, total: c.total, counters: [...c.counters.values()] }));
}

/** The audit history as text: totals per camera and counter, then each audit, newest first. */
export function formatAudits(audits: readonly AuditRecord[]): string {
  if (audits.length === 0) return 'no audits yet: record a clip (--record --camera ID) and tally it on the Count audit page\n';
  const lines: string[] = [];
  for (const camera of auditTotals(audits)) {
    const { truth, counted } = camera.total;
    lines.push(`camera ${camera.cameraId}: ${camera.audits} audit${camera.audits === 1 ? '' : 's'}, ${truth} counted by people, ${counted} by the product; ${errorsOf(camera.total)}`);
    for (const c of camera.counters) {
      lines.push(`  ${`${c.counter} ${KIND_WORDS[c.kind]}`.padEnd(24)} people ${String(c.truth).padStart(4)}  product ${String(c.counted).padStart(4)}  missed ${String(c.missed).padStart(3)}  extra ${String(c.extra).padStart(3)}  ${errorsOf(c)}`);
    }
  }
  lines.push('', 'audits, newest first:');
  for (const a of audits) {
    // Swedish writes local time as ISO does: 2026-12-06 14:05.
    const when = new Date(a.auditedAt).toLocaleString('sv-SE').slice(0, 16);
    lines.push(`  ${when}  ${a.cameraId}  clip ${a.clipId}  ${a.auditor || '(no name)'}: ${a.score.total.truth} people, ${a.score.total.counted} counted; ${errorsOf(a.score.total)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function request(api: string, route: string, headers: Record<string, string>, init?: { method: string; body: unknown }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${api}${route}`, { method: init?.method ?? 'GET', headers: { ...headers, 'Content-Type': 'application/json' }, body: init ? JSON.stringify(init.body) : undefined });
  } catch (err) {
    throw new AuditCommandError(`cannot reach ${api}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message} (is Node-RED running with an api-out node there?)`);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new AuditCommandError(`${init?.method ?? 'GET'} ${api}${route}: HTTP ${res.status}${body.error ? `: ${body.error}` : ''}`);
  return body;
}

/**
 * Where the dashboard of this API is: beside it (/dashboard for /api, <base>/dashboard for others), or under
 * /retail-analytics when another package (Dashboard 2.0) serves that path; the page's config.json names its API.
 */
async function dashboardOf(api: string, headers: Record<string, string>): Promise<string> {
  const { origin, pathname } = new URL(api);
  const usual = `${pathname === '/api' ? '' : pathname}/dashboard/`;
  for (const candidate of [usual, `/retail-analytics${usual}`]) {
    const config = await fetch(`${origin}${candidate}config.json`, { headers })
      .then((res) => (res.ok ? (res.json() as Promise<{ apiBase?: string }>) : null))
      .catch(() => null);
    if (config?.apiBase === pathname) return `${origin}${candidate}`;
  }
  return `${origin}${usual}`;
}

/** `retail-analytics audit`: the audit history of a running instance, or a clip recorded for an audit. */
export async function audit(args: string[], out: (text: string) => void, progress: (text: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { api: { type: 'string' }, camera: { type: 'string' }, record: { type: 'boolean' }, seconds: { type: 'string' }, json: { type: 'boolean' }, user: { type: 'string' } },
  });
  const api = (values.api ?? 'http://localhost:1880/api').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(api)) throw new AuditCommandError(`--api must be the API's http:// or https:// address, e.g. http://localhost:1880/api, got "${api}"`);
  const headers: Record<string, string> = values.user ? { Authorization: `Basic ${Buffer.from(values.user).toString('base64')}` } : {};
  if (!values.record) {
    const audits = (await request(api, `/audits${values.camera ? `?camera=${encodeURIComponent(values.camera)}` : ''}`, headers)) as AuditRecord[];
    out(values.json ? `${JSON.stringify({ cameras: auditTotals(audits), audits }, null, 2)}\n` : formatAudits(audits));
    return;
  }
  if (!values.camera) throw new AuditCommandError('--record needs --camera ID: the camera-source "Camera id" to record');
  const seconds = values.seconds === undefined ? 60 : Number(values.seconds);
  let clip = (await request(api, `/cameras/${encodeURIComponent(values.camera)}/clips`, headers, { method: 'POST', body: { seconds } })) as ClipSummary;
  progress(`recording ${clip.seconds} s of camera ${clip.cameraId} (clip ${clip.id})…`);
  while (clip.state === 'recording') {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clip = (await request(api, `/clips/${encodeURIComponent(clip.id)}`, headers)) as ClipSummary;
  }
  if (clip.state !== 'ready') throw new AuditCommandError(`clip ${clip.id} failed: ${clip.note}`);
  const page = `${await dashboardOf(api, headers)}audit.html#clip=${encodeURIComponent(clip.id)}`;
  out(values.json ? `${JSON.stringify({ ...clip, page }, null, 2)}\n` : `clip ${clip.id}: ${clip.frames} frames${clip.note ? ` (${clip.note})` : ''}\naudit it at ${page}\n`);
}
