import type Database from 'better-sqlite3';
import type { LineStats, ZoneGeometry, ZoneStats } from '../analytics/zones';
import { copyImage, encodeImage } from '../imaging/image';
import { openDatabase } from '../sqlite';
import type { FrameRef, RgbImage } from '../types';
import { COUNT_KINDS, scoreAudit, type AuditScore, type CountKind, type CountMark } from './score';

export const MIN_CLIP_SECONDS = 5;
export const MAX_CLIP_SECONDS = 600;
/** Clips whose frames are kept; older ones lose their frames (their audits stay). */
export const MAX_CLIPS_KEPT = 20;
/** A recording that has seen no frame this long after it should have ended stops with what it has. */
const SILENCE_GRACE_MS = 30_000;
const MAX_AUDITOR_LENGTH = 100;
const MAX_TALLY_MARKS = 100_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clips (
  id TEXT PRIMARY KEY, camera_id TEXT NOT NULL, state TEXT NOT NULL, seconds REAL NOT NULL, requested_at INTEGER NOT NULL,
  started_at INTEGER, ended_at INTEGER, width INTEGER, height INTEGER, geometry TEXT, note TEXT);
CREATE TABLE IF NOT EXISTS clip_frames (clip_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, jpeg BLOB NOT NULL, PRIMARY KEY (clip_id, n));
CREATE TABLE IF NOT EXISTS clip_counts (clip_id TEXT NOT NULL, counter TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audits (
  id INTEGER PRIMARY KEY AUTOINCREMENT, clip_id TEXT NOT NULL, camera_id TEXT NOT NULL, auditor TEXT NOT NULL,
  audited_at INTEGER NOT NULL, clip_started_at INTEGER, clip_ended_at INTEGER, tally TEXT NOT NULL, score TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audits_by_camera ON audits (camera_id, audited_at);
`;

/** A request the store refuses, with the reason a user can act on; `status` is the HTTP status that fits it. */
export class AuditError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export type ClipState = 'recording' | 'ready' | 'failed';

/** One counter a clip can be audited on: a line's direction or a zone's entries. */
export interface ClipCounter {
  counter: string;
  name: string;
  kind: CountKind;
}

export interface ClipSummary {
  id: string;
  cameraId: string;
  state: ClipState;
  /** The length asked for. */
  seconds: number;
  requestedAt: number;
  /** The times of its first and last frame (the camera's clock). */
  startedAt: number | null;
  endedAt: number | null;
  frames: number;
  width: number | null;
  height: number | null;
  /** Why it failed, ended early, or lost its frames. */
  note: string | null;
  audits: number;
}

export interface Clip extends ClipSummary {
  frameTimes: number[];
  geometry: ZoneGeometry | null;
  counters: ClipCounter[];
  /** What the product counted during the clip: each count at the frame it was made on. */
  counts: CountMark[];
}

export interface AuditRecord {
  id: number;
  clipId: string;
  cameraId: string;
  auditor: string;
  auditedAt: number;
  clipStartedAt: number | null;
  clipEndedAt: number | null;
  score: AuditScore;
}

/** The camera's counters as one message of zone-analytics shows them. */
interface Counts {
  zones: readonly Pick<ZoneStats, 'id' | 'totalEntries'>[];
  lines: readonly Pick<LineStats, 'id' | 'in' | 'out'>[];
}

/** What a frame of the pipeline brings to a recording: the frame, its picture (when still stored) and the counts. */
export interface ClipFrame extends Counts {
  frame: FrameRef;
  image: RgbImage | undefined;
  geometry: ZoneGeometry | null;
}

interface Recording {
  id: string;
  cameraId: string;
  seconds: number;
  frames: number;
  startedAt: number | null;
  lastSeq: number | null;
  /** Each counter's value at the previous frame: the clip counts what they grow by. */
  previous: Map<string, number> | null;
  /** Frames are encoded in turn, so they are stored in the order they came. */
  writing: Promise<void>;
  timer: NodeJS.Timeout;
}

const countKey = (counter: string, kind: CountKind) => `${kind}\u0000${counter}`;

function countValues({ zones, lines }: Counts): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of lines) {
    values.set(countKey(line.id, 'in'), line.in);
    values.set(countKey(line.id, 'out'), line.out);
  }
  for (const zone of zones) values.set(countKey(zone.id, 'entry'), zone.totalEntries);
  return values;
}

function countersOf(geometry: ZoneGeometry | null): ClipCounter[] {
  if (!geometry) return [];
  return [
    ...geometry.lines.flatMap((l) => (['in', 'out'] as const).map((kind) => ({ counter: l.id, name: l.name || l.id, kind }))),
    ...geometry.zones.map((z) => ({ counter: z.id, name: z.name || z.id, kind: 'entry' as const })),
  ];
}

/** A person's tally as the API receives it, checked against the clip's counters and times. */
function readTally(value: unknown, clip: Clip): CountMark[] {
  if (!Array.isArray(value)) throw new AuditError(400, 'tally must be a list of {counter, kind, at}: one entry per person counted');
  if (value.length > MAX_TALLY_MARKS) throw new AuditError(413, `tally has ${value.length} entries; at most ${MAX_TALLY_MARKS}`);
  const known = new Set(clip.counters.map((c) => countKey(c.counter, c.kind)));
  return value.map((entry, i) => {
    const { counter, kind, at } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof counter !== 'string' || !COUNT_KINDS.includes(kind as CountKind) || typeof at !== 'number' || !Number.isFinite(at)) {
      throw new AuditError(400, `tally[${i}] must be {counter: string, kind: "in", "out" or "entry", at: ms since the epoch}`);
    }
    if (!known.has(countKey(counter, kind as CountKind))) {
      throw new AuditError(400, `tally[${i}]: the clip has no counter "${counter}" counting "${String(kind)}"; it has ${clip.counters.map((c) => `${c.counter} ${c.kind}`).join(', ') || 'none'}`);
    }
    if (clip.startedAt === null || clip.endedAt === null || at < clip.startedAt || at > clip.endedAt) {
      throw new AuditError(400, `tally[${i}] is at ${at}, outside the clip (${clip.startedAt} to ${clip.endedAt})`);
    }
    return { counter, kind: kind as CountKind, at };
  });
}

/**
 * Clips of a camera recorded on demand, with what the product counted during each, and the audits people made of
 * them: a person plays a clip, tallies each crossing and entry they see, and the product's counts are scored
 * against theirs. Frames, counts and audits are kept in one SQLite file; the newest MAX_CLIPS_KEPT clips keep
 * their frames, and every audit is kept.
 */
export class AuditStore {
  private readonly db: Database.Database;
  private readonly recordings = new Map<string, Recording>();
  /** Recordings that ended and are storing their last frames. */
  private readonly finishing = new Set<Promise<void>>();
  private closed = false;

  constructor(file: string, private readonly quality = 80, private readonly now = () => Date.now()) {
    this.db = openDatabase(file, SCHEMA, 'audit database');
    // A recording the process did not live to finish keeps what it stored.
    this.db
      .prepare(`UPDATE clips SET state = CASE WHEN EXISTS (SELECT 1 FROM clip_frames f WHERE f.clip_id = clips.id) THEN 'ready' ELSE 'failed' END,
        note = 'Node-RED stopped without closing while it was recording' WHERE state = 'recording'`)
      .run();
  }

  /** Starts recording a camera's next `seconds` of frames and counts; one recording per camera at a time. */
  record(cameraId: string, seconds: number): ClipSummary {
    if (!Number.isFinite(seconds) || seconds < MIN_CLIP_SECONDS || seconds > MAX_CLIP_SECONDS) {
      throw new AuditError(400, `seconds must be from ${MIN_CLIP_SECONDS} to ${MAX_CLIP_SECONDS}, got ${seconds}`);
    }
    const busy = [...this.recordings.values()].find((r) => r.cameraId === cameraId);
    if (busy) throw new AuditError(409, `camera "${cameraId}" is already recording clip ${busy.id}`);
    const requestedAt = this.now();
    const id = `${cameraId}-${new Date(requestedAt).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${Math.random().toString(36).slice(2, 6)}`;
    this.db.prepare('INSERT INTO clips (id, camera_id, state, seconds, requested_at) VALUES (?, ?, ?, ?, ?)').run(id, cameraId, 'recording', seconds, requestedAt);
    const recording: Recording = {
      id,
      cameraId,
      seconds,
      frames: 0,
      startedAt: null,
      lastSeq: null,
      previous: null,
      writing: Promise.resolve(),
      timer: setTimeout(() => this.finish(recording, 'the camera sent no frames for too long: the clip ends early'), seconds * 1000 + SILENCE_GRACE_MS),
    };
    recording.timer.unref();
    this.recordings.set(id, recording);
    return this.clipSummary(id)!;
  }

  /** Cameras being recorded now. */
  isRecording(cameraId: string): boolean {
    return [...this.recordings.values()].some((r) => r.cameraId === cameraId);
  }

  /** A frame of the pipeline: recorded (its picture and what the counters grew by) when its camera is being recorded. */
  offer(cameraId: string, input: ClipFrame): void {
    for (const recording of this.recordings.values()) {
      if (recording.cameraId !== cameraId || input.frame.seq === recording.lastSeq) continue;
      recording.lastSeq = input.frame.seq;
      const at = input.frame.timestamp;
      const values = countValues(input);
      if (recording.startedAt === null) {
        recording.startedAt = at;
        // The clip is audited on the counters of its first frame, drawn where they were then.
        this.db.prepare('UPDATE clips SET started_at = ?, width = ?, height = ?, geometry = ? WHERE id = ?').run(at, input.frame.width, input.frame.height, JSON.stringify(input.geometry), recording.id);
      } else {
        const insert = this.db.prepare('INSERT INTO clip_counts (clip_id, counter, kind, at) VALUES (?, ?, ?, ?)');
        for (const [key, value] of values) {
          const before = recording.previous?.get(key);
          if (before === undefined) continue;
          // A day's totals start again from zero at midnight: what the counter shows now was counted since.
          const grew = value >= before ? value - before : value;
          const [kind, counter] = key.split('\u0000') as [CountKind, string];
          for (let k = 0; k < grew; k++) insert.run(recording.id, counter, kind, at);
        }
      }
      recording.previous = values;
      if (input.image) {
        const n = recording.frames++;
        // Encoded later, after the frames before it: a copy, as the caller's pixels may be reused for a later frame.
        const image = copyImage(input.image);
        recording.writing = recording.writing.then(async () => {
          const jpeg = await encodeImage(image, 'jpeg', this.quality);
          if (!this.closed) this.db.prepare('INSERT INTO clip_frames (clip_id, n, at, jpeg) VALUES (?, ?, ?, ?)').run(recording.id, n, at, jpeg);
        });
      }
      if (at - recording.startedAt >= recording.seconds * 1000) this.finish(recording, null);
    }
  }

  /** Stops a recording: no frame is added from now on, and the clip is ready once its frames are stored. */
  private finish(recording: Recording, note: string | null): Promise<void> {
    if (this.recordings.get(recording.id) !== recording) return Promise.resolve();
    this.recordings.delete(recording.id);
    clearTimeout(recording.timer);
    const done = this.store(recording, note).finally(() => this.finishing.delete(done));
    this.finishing.add(done);
    return done;
  }

  private async store(recording: Recording, note: string | null): Promise<void> {
    let failure: string | null = null;
    await recording.writing.catch((err: Error) => void (failure = `a frame could not be stored: ${err.message}`));
    if (this.closed) return;
    const frames = this.db.prepare('SELECT COUNT(*) AS n, MAX(at) AS last FROM clip_frames WHERE clip_id = ?').get(recording.id) as { n: number; last: number | null };
    const state: ClipState = frames.n > 0 && !failure ? 'ready' : 'failed';
    const why = failure ?? (frames.n === 0 ? 'no frames arrived from the camera while recording' : note);
    this.db.prepare('UPDATE clips SET state = ?, ended_at = ?, note = ? WHERE id = ?').run(state, frames.last, why, recording.id);
    this.forgetOldFrames();
  }

  private forgetOldFrames(): void {
    const old = this.db.prepare(`SELECT id FROM clips WHERE state = 'ready' AND EXISTS (SELECT 1 FROM clip_frames f WHERE f.clip_id = clips.id)
      ORDER BY requested_at DESC LIMIT -1 OFFSET ?`).all(MAX_CLIPS_KEPT) as { id: string }[];
    for (const { id } of old) {
      this.db.prepare('DELETE FROM clip_frames WHERE clip_id = ?').run(id);
      this.db.prepare(`UPDATE clips SET state = 'failed', note = ? WHERE id = ?`).run(`its frames were deleted to keep the newest ${MAX_CLIPS_KEPT} clips; its audits are kept`, id);
    }
  }

  /** Waits until the recordings under way have ended (tests, and stopping). */
  async settled(): Promise<void> {
    await Promise.all([...this.recordings.values()].map((r) => r.writing.catch(() => undefined)));
    await Promise.all(this.finishing);
  }

  list(cameraId?: string): ClipSummary[] {
    const ids = (cameraId === undefined
      ? this.db.prepare('SELECT id FROM clips ORDER BY requested_at DESC').all()
      : this.db.prepare('SELECT id FROM clips WHERE camera_id = ? ORDER BY requested_at DESC').all(cameraId)) as { id: string }[];
    return ids.map(({ id }) => this.clipSummary(id)!);
  }

  private clipSummary(id: string): ClipSummary | null {
    const row = this.db
      .prepare(`SELECT id, camera_id, state, seconds, requested_at, started_at, ended_at, width, height, note,
        (SELECT COUNT(*) FROM clip_frames f WHERE f.clip_id = clips.id) AS frames,
        (SELECT COUNT(*) FROM audits a WHERE a.clip_id = clips.id) AS audits FROM clips WHERE id = ?`)
      .get(id) as Record<string, unknown> | undefined;
    if (!row) return null;
    return {
      id: row.id as string,
      cameraId: row.camera_id as string,
      state: row.state as ClipState,
      seconds: row.seconds as number,
      requestedAt: row.requested_at as number,
      startedAt: row.started_at as number | null,
      endedAt: row.ended_at as number | null,
      frames: row.frames as number,
      width: row.width as number | null,
      height: row.height as number | null,
      note: row.note as string | null,
      audits: row.audits as number,
    };
  }

  clip(id: string): Clip {
    const summary = this.clipSummary(id);
    if (!summary) throw new AuditError(404, `no clip "${id}"`);
    const { geometry } = this.db.prepare('SELECT geometry FROM clips WHERE id = ?').get(id) as { geometry: string | null };
    const parsed = geometry ? (JSON.parse(geometry) as ZoneGeometry | null) : null;
    const frameTimes = (this.db.prepare('SELECT at FROM clip_frames WHERE clip_id = ? ORDER BY n').all(id) as { at: number }[]).map((f) => f.at);
    const counts = this.db.prepare('SELECT counter, kind, at FROM clip_counts WHERE clip_id = ? ORDER BY at, rowid').all(id) as CountMark[];
    return { ...summary, frameTimes, geometry: parsed, counters: countersOf(parsed), counts };
  }

  /** Frame n (from 0) of a clip, as JPEG. */
  frame(id: string, n: number): Buffer {
    const row = this.db.prepare('SELECT jpeg FROM clip_frames WHERE clip_id = ? AND n = ?').get(id, n) as { jpeg: Buffer } | undefined;
    if (!row) throw new AuditError(404, this.clipSummary(id) ? `clip "${id}" has no frame ${n}` : `no clip "${id}"`);
    return row.jpeg;
  }

  /** Scores a person's tally of a finished clip against what the product counted, and keeps it. */
  audit(clipId: string, body: { auditor?: unknown; tally?: unknown }): AuditRecord {
    const clip = this.clip(clipId);
    if (clip.state === 'recording') throw new AuditError(409, `clip "${clipId}" is still recording`);
    if (clip.startedAt === null) throw new AuditError(409, `clip "${clipId}" has no frames to audit${clip.note ? `: ${clip.note}` : ''}`);
    const auditor = body.auditor === undefined ? '' : body.auditor;
    if (typeof auditor !== 'string' || auditor.length > MAX_AUDITOR_LENGTH) throw new AuditError(400, `auditor must be a name of at most ${MAX_AUDITOR_LENGTH} characters`);
    const tally = readTally(body.tally, clip);
    const score = scoreAudit(tally, clip.counts, clip.counters);
    const auditedAt = this.now();
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO audits (clip_id, camera_id, auditor, audited_at, clip_started_at, clip_ended_at, tally, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(clipId, clip.cameraId, auditor.trim(), auditedAt, clip.startedAt, clip.endedAt, JSON.stringify(tally), JSON.stringify(score));
    return { id: Number(lastInsertRowid), clipId, cameraId: clip.cameraId, auditor: auditor.trim(), auditedAt, clipStartedAt: clip.startedAt, clipEndedAt: clip.endedAt, score };
  }

  /** Every audit, newest first, of one camera or all. */
  audits(cameraId?: string): AuditRecord[] {
    const rows = (cameraId === undefined
      ? this.db.prepare('SELECT * FROM audits ORDER BY audited_at DESC, id DESC').all()
      : this.db.prepare('SELECT * FROM audits WHERE camera_id = ? ORDER BY audited_at DESC, id DESC').all(cameraId)) as Record<string, unknown>[];
    return rows.map((row) => ({
      id: row.id as number,
      clipId: row.clip_id as string,
      cameraId: row.camera_id as string,
      auditor: row.auditor as string,
      auditedAt: row.audited_at as number,
      clipStartedAt: row.clip_started_at as number | null,
      clipEndedAt: row.clip_ended_at as number | null,
      score: JSON.parse(row.score as string) as AuditScore,
    }));
  }

  /** Ends the recordings under way with what they have, then closes the file. */
  async close(): Promise<void> {
    await Promise.all([...this.recordings.values()].map((r) => this.finish(r, 'the api-out node stopped (a redeploy or Node-RED stopping) before the clip ended')));
    await Promise.all(this.finishing);
    this.closed = true;
    this.db.close();
  }
}
