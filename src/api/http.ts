import type { IncomingMessage, ServerResponse } from 'node:http';
import { frameStore } from '../camera/frame-store';
import { cameraRegistry } from '../camera/registry';
import { detectionRegistry } from '../detection/usage-registry';
import { eventLoopDelay } from './event-loop';
import { cameraProblem, modelProblem, overallHealth } from './health';
import { ALL_CAMERAS, type MetricsCollector } from '../metrics/collector';
import { conversionReport } from '../sales/conversion';
import type { SalesLedger } from '../sales/ledger';
import { analyticsOverlay, annotateFrame } from './annotate';
import { openApiDocument } from './openapi';
import { EXPORT_INTERVALS, exportRows, parseExportTime, toCsv, type ExportInterval } from '../metrics/export';
import type { ApiState, CameraView } from './state';
import { AuditError, type AuditStore } from '../audit/clips';

export type UpgradeTarget = { kind: 'stream'; cameraId: string } | { kind: 'analytics' };

export interface ApiOptions {
  state: ApiState;
  /** Where the API is mounted, for the OpenAPI document (e.g. `/api`). */
  basePath: string;
  /** The shared metrics, when a zone-analytics node keeps them. */
  metrics: () => MetricsCollector | null;
  /** The sales ledger, when a pos-conversion node records sales into the same database. */
  sales: () => SalesLedger | null;
  quality: number;
  privacy: boolean;
  startedAt: number;
  /** Where clips and audits are kept; throws an AuditError saying why when they cannot be. */
  audits?: () => AuditStore;
  /** Takes over a WebSocket handshake that reached a /ws/ route; false when the request is not one. */
  upgrade?: (req: IncomingMessage, res: ServerResponse, target: UpgradeTarget) => boolean;
}

export interface Api {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** The annotated JPEG of a camera's latest frame, or null when it has none. */
  renderFrame(cameraId: string): Promise<Buffer | null>;
  /** What the analytics WebSocket sends about once a second. */
  snapshot(): unknown;
}

/** This process's memory in MB: what the system gives it (rss), the JavaScript heap, and memory outside it (buffers, native). */
function memoryMb(): { rss: number; heapUsed: number; external: number } {
  const { rss, heapUsed, external } = process.memoryUsage();
  const mb = (bytes: number) => Math.round(bytes / 1048576);
  return { rss: mb(rss), heapUsed: mb(heapUsed), external: mb(external) };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

function sendImage(res: ServerResponse, type: string, image: Buffer): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(image);
}

/** Largest JSON body the API reads: an audit's tally of a 10-minute clip is a few hundred kilobytes at most. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The request's JSON body (an empty body is {}), or what a body parser in front of us already made of it. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // A form or a text/plain fetch of another site's page is sent without asking first (no CORS preflight): only
  // what declares JSON is taken.
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpError(415, `send a JSON body with Content-Type: application/json, got ${req.headers['content-type'] ? `"${req.headers['content-type']}"` : 'none'}`);
  }
  const parsed = (req as { body?: unknown }).body;
  let value: unknown = parsed;
  if (parsed === undefined || Buffer.isBuffer(parsed) || typeof parsed === 'string') {
    let text = typeof parsed === 'string' ? parsed : Buffer.isBuffer(parsed) ? parsed.toString('utf8') : '';
    if (parsed === undefined) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES / 1048576} MB`);
        chunks.push(chunk as Buffer);
      }
      text = Buffer.concat(chunks).toString('utf8');
    }
    try {
      value = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `badly encoded path segment "${segment}"`);
  }
}

/**
 * The REST API as one request handler, to mount under a base path on Node-RED's HTTP server (so its
 * httpNodeAuth, TLS and CORS settings apply). Reads what api-out nodes collected; the only writes are clips and
 * audits of counts, kept by the AuditStore it is given.
 */
export function createApi(options: ApiOptions): Api {
  const { state } = options;
  // Measuring starts now, so /api/health has figures 10 s after deploy rather than 10 s after its first call.
  eventLoopDelay();
  /** Annotated JPEGs by camera (or being drawn), reused while the frame and the drawing inputs do not change. */
  const rendered = new Map<string, { key: string; jpeg: Promise<Buffer> }>();

  const cameraOf = (id: string): CameraView => {
    const view = state.camera(id);
    if (!view) throw new HttpError(404, `unknown camera "${id}"`);
    return view;
  };

  /** The detection figures of each camera, from the yolo-detect nodes of this process. */
  const detectionByCamera = () => new Map(detectionRegistry.cameras().map(({ cameraId, ...figures }) => [cameraId, figures]));

  const describe = (view: CameraView, detection = detectionByCamera()) => {
    const remote = view.remote;
    if (remote) {
      return {
        id: view.id,
        instance: remote.instance,
        name: remote.name || view.id,
        source: null,
        state: remote.online ? remote.state : 'offline',
        width: remote.width,
        height: remote.height,
        fps: remote.online ? remote.fps : 0,
        framesProcessed: remote.framesProcessed,
        activeTracks: remote.online ? remote.activeTracks : 0,
        occupancy: view.occupancy,
        zones: view.zones.map((z) => z.id),
        lastFrameAt: remote.lastFrameAt,
        detection: remote.detection,
      };
    }
    const camera = cameraRegistry.get(view.id)?.stats();
    return {
      id: view.id,
      instance: null,
      name: camera?.name ?? view.id,
      source: camera?.source ?? null,
      state: camera?.state ?? 'unknown',
      width: view.frame?.width ?? camera?.width ?? null,
      height: view.frame?.height ?? camera?.height ?? null,
      fps: camera?.fps ?? 0,
      framesProcessed: view.framesProcessed,
      activeTracks: view.tracks.length,
      occupancy: view.occupancy,
      zones: view.zones.map((z) => z.id),
      lastFrameAt: view.frame?.timestamp ?? camera?.lastFrameAt ?? null,
      detection: detection.get(view.id) ?? null,
    };
  };

  const frameJpeg = (view: CameraView, quality: number): Promise<Buffer> => {
    if (view.remote) {
      if (!view.remoteFrame) throw new HttpError(404, `no frame shared by camera "${view.id}": turn on frame sharing in the fleet-publish node of instance "${view.remote.instance}"`);
      return Promise.resolve(view.remoteFrame.image);
    }
    const stored = (view.frame && frameStore.get(view.frame)) ?? frameStore.latest(view.id);
    if (!stored) throw new HttpError(404, `no frame from camera "${view.id}" yet`);
    const key = `${stored.ref.seq}:${quality}:${view.updatedAt}`;
    const cached = rendered.get(view.id);
    if (cached?.key === key) return cached.jpeg;
    const jpeg = frameStore.using(stored, () => annotateFrame(stored, analyticsOverlay(view), { quality, privacy: options.privacy }));
    rendered.set(view.id, { key, jpeg });
    jpeg.catch(() => rendered.get(view.id)?.jpeg === jpeg && rendered.delete(view.id));
    return jpeg;
  };

  const period = (collector: MetricsCollector | null, day: string | null, id: string, occupancy: number) => {
    const peak = collector && day ? collector.peakOn(day, id) : null;
    return {
      occupancy,
      footfallToday: collector && day ? collector.footfallOn(day, id) : 0,
      footfallOutsideHoursToday: collector && day ? collector.extraOn('outsideHours', day, id) : 0,
      staffToday: collector && day ? collector.extraOn('staff', day, id) : 0,
      // Null when zone-analytics keeps no buying units (or has counted none today).
      buyingUnitsToday: collector && day && collector.hours(id, day).some((h) => h.units !== undefined) ? collector.extraOn('units', day, id) : null,
      peakToday: peak ? { count: peak.peak, at: peak.peakAt } : null,
      footfallByHour: collector && day ? collector.hours(id, day).map((h) => ({ hour: h.key, footfall: h.footfall })) : [],
    };
  };

  /** Today's sales figures, or null when no pos-conversion node records sales (or its settings clash with the footfall's). */
  const conversionToday = (collector: MetricsCollector | null) => {
    const sales = options.sales();
    if (!sales) return null;
    try {
      return conversionReport(sales, collector, sales.dayOf(Date.now())).total;
    } catch {
      return null;
    }
  };

  const statsNow = () => {
    const collector = options.metrics();
    const day = collector ? collector.dayOf(Date.now()) : null;
    const views = state.list();
    const cameras = Object.fromEntries(views.map((v) => [v.id, period(collector, day, v.id, v.occupancy ?? v.tracks.length)]));
    const total = period(collector, day, ALL_CAMERAS, views.reduce((sum, v) => sum + (v.occupancy ?? v.tracks.length), 0));
    const storeOpen = collector?.calendar ? collector.calendar.isOpen(Date.now()) : null;
    return { day, storeOpen, total, cameras, conversionToday: conversionToday(collector) };
  };

  const upgrade = (req: IncomingMessage, res: ServerResponse, target: UpgradeTarget) => {
    if (!options.upgrade?.(req, res, target)) throw new HttpError(426, 'this endpoint is a WebSocket: connect with ws:// or wss://');
  };

  /** A camera of this process whose frames can be recorded here. */
  const recordable = (id: string): CameraView => {
    const view = cameraOf(id);
    if (view.remote) throw new HttpError(409, `camera "${view.id}" runs on instance "${view.remote.instance}": record its clips through that instance's api-out`);
    if (options.privacy) throw new HttpError(403, 'privacy mode: a clip shows people, so this api-out node records none; turn Privacy off to audit counts');
    return view;
  };

  const auditStore = (): AuditStore => {
    if (!options.audits) throw new HttpError(404, 'clips and audits are not kept by this API');
    return options.audits();
  };

  const clipsOf = (url: URL) => auditStore().list(url.searchParams.get('camera') ?? undefined);

  type Route = (match: RegExpMatchArray, url: URL, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;
  /** The routes that change something, by path, with the method each takes besides GET. */
  const writes: [RegExp, string, Route][] = [
    [/^\/cameras\/([^/]+)\/clips$/, 'POST', async (m, url, res, req) => {
      const view = recordable(decodeSegment(m[1]));
      const body = await readJson(req);
      const seconds = body.seconds ?? (url.searchParams.has('seconds') ? Number(url.searchParams.get('seconds')) : 60);
      if (typeof seconds !== 'number') throw new HttpError(400, `seconds must be a number, got ${JSON.stringify(seconds)}`);
      sendJson(res, 202, auditStore().record(view.id, seconds));
    }],
    [/^\/clips\/([^/]+)\/audits$/, 'POST', async (m, _u, res, req) => {
      sendJson(res, 201, auditStore().audit(decodeSegment(m[1]), await readJson(req)));
    }],
  ];

  const routes: [RegExp, Route][] = [
    [/^\/health$/, (_m, url, res) => {
      const now = Date.now();
      const detection = detectionByCamera();
      const views = state.list();
      const seen = new Set(views.map((v) => v.id));
      // A camera of this process that never delivered a frame (it failed at start) is reported too.
      const silent = cameraRegistry.list().filter((c) => !seen.has(c.id)).map((c) => c.stats());
      const cameras = [
        ...views.map((view) => {
          const described = describe(view, detection);
          const local = view.remote ? null : cameraRegistry.get(view.id)?.stats();
          const condition = { ...described, lastFrameAt: view.remote ? undefined : described.lastFrameAt, lastError: local?.lastError };
          return { id: view.id, instance: described.instance, state: described.state, fps: described.fps, lastFrameAt: described.lastFrameAt, problem: cameraProblem(condition, now), detection: described.detection };
        }),
        ...silent.map((c) => ({ id: c.id, instance: null, state: c.state, fps: c.fps, lastFrameAt: c.lastFrameAt, problem: cameraProblem(c, now), detection: detection.get(c.id) ?? null })),
      ];
      const instances = new Map<string, { name: string; cameras: number; online: number }>();
      for (const { remote } of views) {
        if (!remote) continue;
        const instance = instances.get(remote.instance) ?? { name: remote.instance, cameras: 0, online: 0 };
        instance.cameras++;
        if (remote.online) instance.online++;
        instances.set(remote.instance, instance);
      }
      const detectors = detectionRegistry.models();
      const status = overallHealth(cameras, detectors);
      const problems = [
        ...cameras.flatMap((c) => (c.problem ? [{ kind: 'camera', id: c.id, problem: c.problem }] : [])),
        ...detectors.flatMap((m) => {
          const problem = modelProblem(m);
          return problem ? [{ kind: 'model', id: m.id, problem }] : [];
        }),
      ];
      // Probes read the status code: 503 when down, and with ?strict whenever anything is wrong.
      const strict = url.searchParams.has('strict') && url.searchParams.get('strict') !== 'false';
      sendJson(res, status === 'down' || (strict && status !== 'ok') ? 503 : 200, {
        status,
        problems,
        uptimeSeconds: (now - options.startedAt) / 1000,
        cameras,
        instances: [...instances.values()],
        detectors,
        eventLoopDelay: eventLoopDelay(),
        memory: memoryMb(),
      });
    }],
    [/^\/cameras$/, (_m, _u, res) => {
      const detection = detectionByCamera();
      sendJson(res, 200, state.list().map((view) => describe(view, detection)));
    }],
    [/^\/cameras\/([^/]+)$/, (m, _u, res) => {
      const view = cameraOf(decodeSegment(m[1]));
      sendJson(res, 200, { ...describe(view), zoneStats: view.zones, lines: view.lines });
    }],
    [/^\/cameras\/([^/]+)\/frame$/, async (m, url, res) => {
      const view = cameraOf(decodeSegment(m[1]));
      const requested = url.searchParams.get('quality');
      const quality = requested === null ? options.quality : Number(requested);
      if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new HttpError(400, `quality must be a whole number from 1 to 100, got "${requested}"`);
      sendImage(res, 'image/jpeg', await frameJpeg(view, quality));
    }],
    [/^\/cameras\/([^/]+)\/heatmap$/, (m, _u, res) => {
      const view = cameraOf(decodeSegment(m[1]));
      if (!view.heatmap) throw new HttpError(404, `no heatmap for camera "${view.id}" yet: wire a heatmap node into this api-out node`);
      if (options.privacy && view.heatmap.showsPeople) {
        throw new HttpError(403, 'privacy mode: this heatmap is drawn over the frame with people visible; turn on Privacy in the heatmap node');
      }
      sendImage(res, view.heatmap.format === 'jpeg' ? 'image/jpeg' : 'image/png', view.heatmap.image);
    }],
    [/^\/stats$/, (_m, _u, res) => sendJson(res, 200, statsNow())],
    [/^\/conversion$/, (_m, url, res) => {
      const sales = options.sales();
      if (!sales) throw new HttpError(404, 'no sales recorded here: wire a pos-conversion node using the same database as this api-out node');
      const day = url.searchParams.get('day') ?? sales.dayOf(Date.now());
      try {
        sendJson(res, 200, conversionReport(sales, options.metrics(), day));
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    }],
    [/^\/export$/, (_m, url, res) => {
      const collector = options.metrics();
      if (!collector) throw new HttpError(404, 'no counts kept here: wire a zone-analytics node (or a fleet-aggregate node) using the same database as this api-out node');
      const param = (name: string) => url.searchParams.get(name);
      const interval = (param('interval') ?? 'hour') as ExportInterval;
      if (!EXPORT_INTERVALS.includes(interval)) throw new HttpError(400, `interval must be minute, hour or day, got "${interval}"`);
      const format = param('format') ?? 'csv';
      if (format !== 'csv' && format !== 'json') throw new HttpError(400, `format must be csv or json, got "${format}"`);
      const camera = param('camera');
      let query;
      try {
        const from = param('from') === null ? -Infinity : parseExportTime(param('from')!, collector.clock, 'from');
        const to = param('to') === null ? Infinity : parseExportTime(param('to')!, collector.clock, 'to');
        if (from >= to) throw new RangeError('from must be before to');
        query = { interval, from, to, cameras: camera === null ? undefined : [camera] };
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      let rows;
      try {
        rows = exportRows(collector, query);
      } catch (err) {
        throw new HttpError(err instanceof RangeError ? 413 : 500, (err as Error).message);
      }
      if (format === 'json') {
        sendJson(res, 200, { timeZone: collector.options.timeZone, interval, rows });
        return;
      }
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Disposition', `attachment; filename="retail-analytics-${interval}.csv"`);
      res.end(toCsv(rows));
    }],
    [/^\/cameras\/([^/]+)\/clips$/, (m, _u, res) => sendJson(res, 200, auditStore().list(cameraOf(decodeSegment(m[1])).id))],
    [/^\/clips$/, (_m, url, res) => sendJson(res, 200, clipsOf(url))],
    [/^\/clips\/([^/]+)$/, (m, _u, res) => sendJson(res, 200, auditStore().clip(decodeSegment(m[1])))],
    [/^\/clips\/([^/]+)\/frames\/(\d+)$/, (m, _u, res) => {
      const jpeg = auditStore().frame(decodeSegment(m[1]), Number(m[2]));
      res.setHeader('Cache-Control', 'private, max-age=86400, immutable');
      res.statusCode = 200;
      res.setHeader('Content-Type', 'image/jpeg');
      res.end(jpeg);
    }],
    [/^\/clips\/([^/]+)\/audits$/, (m, _u, res) => {
      const id = decodeSegment(m[1]);
      sendJson(res, 200, auditStore().audits(auditStore().clip(id).cameraId).filter((a) => a.clipId === id));
    }],
    [/^\/audits$/, (_m, url, res) => sendJson(res, 200, auditStore().audits(url.searchParams.get('camera') ?? undefined))],
    [/^\/zones$/, (_m, _u, res) => sendJson(res, 200, state.list().map((v) => ({ cameraId: v.id, zones: v.zones, lines: v.lines })))],
    [/^\/openapi\.json$/, (_m, _u, res) => sendJson(res, 200, openApiDocument(options.basePath))],
    [/^\/ws\/stream\/([^/]+)$/, (m, _u, res, req) => upgrade(req, res, { kind: 'stream', cameraId: cameraOf(decodeSegment(m[1])).id })],
    [/^\/ws\/analytics$/, (_m, _u, res, req) => upgrade(req, res, { kind: 'analytics' })],
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://api.local');
      const route = routes.find(([pattern]) => pattern.test(url.pathname));
      const write = writes.find(([pattern]) => pattern.test(url.pathname));
      if (!route && !write) throw new HttpError(404, `no such endpoint: ${url.pathname}; see ${options.basePath}/openapi.json`);
      if (write && req.method === write[1]) return await write[2](url.pathname.match(write[0])!, url, res, req);
      if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
        const allowed = [...(route ? ['GET', 'HEAD'] : []), ...(write ? [write[1]] : [])].join(', ');
        res.setHeader('Allow', allowed);
        throw new HttpError(405, `${req.method} is not allowed here; this endpoint takes ${allowed}`);
      }
      await route[1](url.pathname.match(route[0])!, url, res, req);
    } catch (err) {
      const status = err instanceof HttpError || err instanceof AuditError ? err.status : 500;
      if (!res.headersSent) sendJson(res, status, { error: (err as Error).message });
      else res.end();
    }
  };

  return {
    handle,
    async renderFrame(cameraId) {
      const view = state.camera(cameraId);
      if (!view) return null;
      try {
        return await frameJpeg(view, options.quality);
      } catch {
        return null;
      }
    },
    snapshot() {
      const stats = statsNow();
      return {
        at: Date.now(),
        day: stats.day,
        storeOpen: stats.storeOpen,
        total: {
          occupancy: stats.total.occupancy,
          footfallToday: stats.total.footfallToday,
          footfallOutsideHoursToday: stats.total.footfallOutsideHoursToday,
          buyingUnitsToday: stats.total.buyingUnitsToday,
          staffToday: stats.total.staffToday,
          peakToday: stats.total.peakToday,
        },
        conversionToday: stats.conversionToday,
        cameras: state.list().map((v) => ({
          id: v.id,
          occupancy: v.occupancy ?? v.tracks.length,
          activeTracks: v.tracks.length,
          footfallToday: stats.cameras[v.id]?.footfallToday ?? 0,
          zones: v.zones,
          lines: v.lines,
        })),
      };
    },
  };
}
