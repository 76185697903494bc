import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { DEFAULT_BUYING_UNIT_OPTIONS } from '../src/analytics/buying-units';
import { ZoneService } from '../src/analytics/zone-service';
import { SUMMARY_INTERVALS, type SummaryInterval } from '../src/analytics/summaries';
import { DEFAULT_ZONE_OPTIONS, type Anchor, type ZoneEvent, type ZoneLayout } from '../src/analytics/zones';
import { calendarKey } from '../src/metrics/calendar';
import { encodeImage } from '../src/imaging/image';
import { frameStore } from '../src/camera/frame-store';
import { acquireMetrics, type SharedMetrics } from '../src/metrics/shared';
import { SqliteUnavailableError } from '../src/sqlite';
import { cameraIdOf, eventTopic, readFrameRef, readTracks } from '../src/messages';
import { nearBoundaries } from '../src/detection/near-boundary';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber, startThrottledStatus } from './status';
import type { StoreCalendarNode, ZoneAnalyticsNode } from './types';

interface ZoneAnalyticsDef extends NodeDef {
  layout: string;
  anchor: Anchor;
  /** Absent in flows made before timeouts were in seconds: those have trackTimeout and relinkFrames in frames. */
  trackTimeoutSeconds?: string | number;
  relinkSeconds?: string | number;
  trackTimeout?: string | number;
  relinkFrames?: string | number;
  relinkDistance?: string | number;
  timeZone: string;
  /** A store-calendar config node's id; absent in flows made before it, or blank: no calendar. */
  calendar?: string;
  persist: boolean;
  database: string;
  minuteRetentionDays: string | number;
  hourRetentionDays: string | number;
  /** Absent in flows made before summaries: off. */
  summaries?: 'off' | SummaryInterval;
  summaryDelivery?: 'sent' | 'acknowledged';
  summaryRetrySeconds?: string | number;
  /** Absent in flows made before buying units: off. */
  buyingUnits?: boolean;
  unitSeconds?: string | number;
  unitDistance?: string | number;
}

type ZoneMsg = NodeMessageInFlow & { frame?: unknown; cameraId?: unknown; tracks?: unknown[]; delivered?: unknown; summaryId?: unknown; layout?: unknown };

/** Tracks read per message: far above any camera's view, low enough that one message cannot exhaust memory. */
const MAX_TRACKS = 1000;

const FLUSH_INTERVAL_MS = 1000;

/** Flows saved when these settings were frames read them at the frame rate of the examples then, 10 per second. */
const FORMER_FRAMES_PER_SECOND = 10;

function describeLayout(layout: ZoneLayout): string {
  const names = (items: { id: string; name?: string }[] | undefined) => (items ?? []).map((item) => item.name ?? item.id).join(', ') || 'none';
  return `zones ${names(layout.zones)}; lines ${names(layout.lines)}`;
}

/** An event as a message of the second output, under its topic (eventTopic). */
function eventMessage(event: ZoneEvent & { cameraId: string }): NodeMessage {
  return { topic: eventTopic(event), payload: event };
}

function secondsSetting(seconds: string | number | undefined, formerFrames: string | number | undefined, fallback: number): number {
  if (seconds !== undefined) return settingNumber(seconds, fallback);
  return formerFrames === undefined || formerFrames === '' ? fallback : settingNumber(formerFrames, fallback) / FORMER_FRAMES_PER_SECOND;
}

export = function register(RED: NodeAPI): void {
  // The editor draws zones on each camera's latest frame.
  const canRead = RED.auth.needsPermission('zone-analytics.read');
  RED.httpAdmin.get('/retail-analytics/cameras', canRead, (_req, res) => {
    res.json(frameStore.latestFrames().map((f) => ({ id: f.ref.cameraId, width: f.width, height: f.height, timestamp: f.ref.timestamp })));
  });
  RED.httpAdmin.get('/retail-analytics/cameras/:id/frame.jpg', canRead, (req, res) => {
    const frame = frameStore.latest(String(req.params.id));
    if (!frame) {
      res.status(404).json({ error: `no frame from camera "${req.params.id}": is its camera-source running?` });
      return;
    }
    frameStore.using(frame, () => encodeImage(frame, 'jpeg', 85)).then(
      (jpeg) => res.type('image/jpeg').set('Cache-Control', 'no-store').send(jpeg),
      (err: Error) => res.status(500).json({ error: err.message }),
    );
  });

  function ZoneAnalyticsNode(this: Node, config: ZoneAnalyticsDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let metrics: SharedMetrics | undefined;
    let notPersisted = false;
    let service: ZoneService;
    try {
      let layout: ZoneLayout;
      try {
        layout = JSON.parse(config.layout || '{}');
      } catch (err) {
        throw new Error(`the zone layout is not valid JSON: ${(err as Error).message}`);
      }
      const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
      const database = config.persist === false ? null : config.database?.trim() || path.join(userDir, 'retail-analytics', 'metrics.db');
      let calendar: StoreCalendarNode | null = null;
      if (config.calendar) {
        calendar = RED.nodes.getNode(config.calendar) as StoreCalendarNode | null;
        if (!calendar) throw new Error('its store calendar node is missing: choose one, or none, in the node');
        if (calendar.problem) throw new Error(calendar.problem);
      }
      const options = {
        timeZone: calendar?.timeZone ?? (config.timeZone?.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone),
        minuteRetentionDays: settingNumber(config.minuteRetentionDays, 7),
        hourRetentionDays: settingNumber(config.hourRetentionDays, 400),
        calendar: calendarKey(calendar?.settings ?? null),
      };
      try {
        metrics = acquireMetrics(database, options);
      } catch (err) {
        // Counting matters more than keeping the counts: without SQLite the node counts in memory and says so.
        if (!(err instanceof SqliteUnavailableError)) throw err;
        node.warn(`counts are not persisted: ${err.message}`);
        notPersisted = true;
        metrics = acquireMetrics(null, options);
      }
      const zoneOptions = {
        anchor: config.anchor || 'bottom-center',
        trackTimeoutSeconds: secondsSetting(config.trackTimeoutSeconds, config.trackTimeout, DEFAULT_ZONE_OPTIONS.trackTimeoutSeconds),
        relinkSeconds: secondsSetting(config.relinkSeconds, config.relinkFrames, DEFAULT_ZONE_OPTIONS.relinkSeconds),
        relinkDistance: settingNumber(config.relinkDistance, 0.5),
      };
      const interval = config.summaries && config.summaries !== 'off' ? config.summaries : null;
      if (interval && !SUMMARY_INTERVALS.includes(interval)) throw new Error(`summaries must be off, minute or hour, not "${interval}"`);
      const summaries = interval
        ? { interval, acknowledge: config.summaryDelivery === 'acknowledged', retrySeconds: settingNumber(config.summaryRetrySeconds, 30) }
        : undefined;
      const buyingUnits = config.buyingUnits === true
        ? { seconds: settingNumber(config.unitSeconds, DEFAULT_BUYING_UNIT_OPTIONS.seconds), distance: settingNumber(config.unitDistance, DEFAULT_BUYING_UNIT_OPTIONS.distance) }
        : null;
      service = new ZoneService(layout, zoneOptions, metrics, node.id, undefined, summaries, buyingUnits);
    } catch (err) {
      metrics?.release();
      refuseToRun(node, 'zone-analytics', err as Error);
      return;
    }
    const shared = metrics;
    const relayout = (layout: unknown, origin: string) => {
      let ended;
      try {
        ended = service.relayout(layout as ZoneLayout);
      } catch (err) {
        throw new Error(`the new layout was refused, counting goes on with the old one: ${(err as Error).message}`);
      }
      save();
      if (ended.length > 0) node.send([null, ended.map(eventMessage), null]);
      node.log(`layout changed ${origin}: ${describeLayout(layout as ZoneLayout)}; ${ended.length} visits under way ended`);
      return ended.length;
    };
    Object.assign(node, { currentLayout: () => service.currentLayout, relayout } satisfies Omit<ZoneAnalyticsNode, keyof Node>);
    let occupancy = 0;
    let malformed = 0;
    const status = startThrottledStatus(node, () => {
      const today = shared.collector.footfallOn(shared.collector.dayOf(Date.now()));
      const waiting = service.summariesWaiting();
      const closed = shared.collector.calendar && !shared.collector.calendar.isOpen(Date.now()) ? ' · store closed' : '';
      const text = `${service.insideZones()} in zones · ${occupancy} visible · footfall today ${today}${closed}${service.layoutFromMessage ? ' · layout from message' : ''}${malformed ? ` · ${malformed} bad tracks dropped` : ''}${waiting ? ` · ${waiting} summaries awaiting delivery` : ''}`;
      return notPersisted ? { fill: 'yellow', shape: 'dot', text: `${text} · not persisted (no SQLite)` } : { fill: 'green', shape: 'dot', text };
    });
    const save = () => {
      try {
        service.flush();
      } catch (err) {
        node.error(err as Error);
      }
    };
    // Summaries leave before what they delivered is saved: a crash in between sends them again, never skips them.
    const sendSummaries = () => {
      let due: ReturnType<typeof service.dueSummaries>;
      try {
        due = service.dueSummaries();
      } catch (err) {
        node.error(err as Error);
        return;
      }
      if (due.length > 0) node.send([null, null, due.map((summary) => ({ topic: `${summary.cameraId}/summaries/${summary.interval}`, summaryId: summary.id, payload: summary }))]);
    };
    const flusher = setInterval(() => {
      try {
        const closing = service.tick();
        if (closing.length > 0) node.send([null, closing.map(eventMessage), null]);
      } catch (err) {
        node.error(err as Error);
      }
      sendSummaries();
      save();
    }, FLUSH_INTERVAL_MS);
    flusher.unref();

    node.on('input', (incoming, send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as ZoneMsg;
      if (msg.delivered !== undefined && msg.tracks === undefined) {
        // An acknowledgement: msg.delivered is the summary's id, or true with the id in msg.summaryId as sent.
        const id = msg.delivered === true ? msg.summaryId : msg.delivered;
        if (typeof id !== 'string') return failMessage(msg, done, new Error('msg.delivered must be a summary id, or true with msg.summaryId set as zone-analytics sent it'));
        if (service.acknowledgeSummary(id)) {
          save();
          sendSummaries();
        }
        return done();
      }
      if (msg.layout !== undefined && msg.tracks === undefined) {
        try {
          relayout(typeof msg.layout === 'string' ? JSON.parse(msg.layout) : msg.layout, 'by message');
        } catch (err) {
          return failMessage(msg, done, err as Error);
        }
        return done();
      }
      if (msg.tracks === undefined) {
        return failMessage(msg, done, new Error('zone-analytics needs msg.tracks (from sort-track) and msg.frame (from camera-source)'));
      }
      try {
        const ref = msg.frame === undefined ? null : readFrameRef(msg.frame);
        const frame = { cameraId: ref?.cameraId ?? cameraIdOf(msg), timestamp: ref?.timestamp ?? Date.now(), width: ref?.width, height: ref?.height, seq: ref?.seq };
        const { tracks, dropped } = readTracks(msg.tracks, MAX_TRACKS);
        if (dropped > 0 && malformed === 0) {
          node.warn(`dropped ${dropped} of ${msg.tracks.length} tracks of camera "${frame.cameraId}": each needs a numeric id unique in its frame and a bbox [x1, y1, x2, y2] of finite numbers, at most ${MAX_TRACKS} per message (counted in the status from now on, warned once)`);
        }
        malformed += dropped;
        const result = service.process(frame, tracks);
        // yolo-detect's "Faster near lines" detects this camera faster while someone is about to be counted.
        nearBoundaries.report(frame.cameraId, result.nearBoundary, frame.timestamp);
        // What an event announces is saved before the event leaves: a crash can neither take back a count already
        // reported nor end a visit a second time when the counters come back.
        if (result.events.length > 0) save();
        occupancy = result.occupancy;
        const out = msg as NodeMessage & Record<string, unknown>;
        out.zones = result.zones;
        out.lines = result.lines;
        out.occupancy = result.occupancy;
        out.today = result.today;
        out.zoneGeometry = result.geometry;
        const events = result.events.map(eventMessage);
        send([out, events.length > 0 ? events : null, null]);
        done();
      } catch (err) {
        node.status(errorStatus(err as Error));
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      clearInterval(flusher);
      try {
        service.close();
      } catch (err) {
        node.error(err as Error);
      }
      shared.release();
      done();
    });
  }

  RED.nodes.registerType('zone-analytics', ZoneAnalyticsNode);
};
