import { ALL_CAMERAS } from '../metrics/collector';
import type { SharedMetrics } from '../metrics/shared';
import { BuyingUnits, validateBuyingUnitOptions, type BuyingUnitOptions } from './buying-units';
import { IntervalSummaries, type IntervalSummary, type SummaryOptions } from './summaries';
import { DEFAULT_ZONE_OPTIONS, validateLayout, validateZoneOptions, ZoneAnalytics, type ExitReason, type LineStats, type TrackObservation, type ZoneEvent, type ZoneGeometry, type ZoneLayout, type ZoneOptions, type ZoneStats } from './zones';

export interface CameraFrame {
  cameraId: string;
  timestamp: number;
  width?: number;
  height?: number;
  /** The camera's frame number, which counts frames not detected too. */
  seq?: number;
}

export interface FrameResult {
  zones: ZoneStats[];
  lines: LineStats[];
  /** Footfall entries carry the buying unit they belong to, when buying units are kept. */
  events: (ZoneEvent & { cameraId: string; buyingUnit?: number })[];
  /** Confirmed tracks visible in this frame. */
  occupancy: number;
  /** The zones and lines in this frame's pixels, for drawing. */
  geometry: ZoneGeometry;
  /** Someone stands within about a second's walk of a line or zone edge (ZoneAnalytics.wantsFasterDetection). */
  nearBoundary: boolean;
  /** Today (the store's local day) for this camera and for all cameras sharing the metrics. */
  today: {
    day: string;
    camera: { footfall: number; peakOccupancy: number; peakAt: number | null };
    all: { footfall: number; peakOccupancy: number; peakAt: number | null };
  };
}

/**
 * Zone analytics for every camera passing through one node: a ZoneAnalytics per camera on a shared layout,
 * footfall, occupancy and each zone's and line's counts per minute and hour fed to the shared metrics, zone totals
 * persisted under `scope`, and optionally interval summaries of them delivered at least once.
 */
export class ZoneService {
  private readonly cameras = new Map<string, ZoneAnalytics>();
  /** Each camera's latest frame or closing check, for noticing that the store closed since. */
  private readonly checkedAt = new Map<string, number>();
  /** Each camera's grouping of entries into buying units, when they are kept. */
  private readonly buyingUnits = new Map<string, BuyingUnits>();
  private readonly summaries: IntervalSummaries | null;
  private readonly summaryScope: string;
  /** Where a layout sent by message is kept, with the node's own layout it replaced. */
  private readonly layoutScope: string;
  private readonly configuredLayout: string;
  private sentLayout = false;

  constructor(
    private layout: ZoneLayout,
    private readonly options: Partial<ZoneOptions>,
    private readonly metrics: SharedMetrics,
    private readonly scope: string,
    readonly maxCameras = 256,
    summaries?: Omit<SummaryOptions, 'settleSeconds'>,
    private readonly buyingUnitOptions: BuyingUnitOptions | null = null,
  ) {
    if (buyingUnitOptions) validateBuyingUnitOptions(buyingUnitOptions);
    validateLayout(layout);
    this.layoutScope = `${scope}/layout`;
    this.configuredLayout = JSON.stringify(layout);
    // A layout sent by message outlives restarts and redeploys until someone changes the node's own layout.
    const sent = metrics.store?.loadCounters(this.layoutScope).sent as { configured?: unknown; layout?: ZoneLayout } | undefined;
    if (sent?.configured === this.configuredLayout && sent.layout) {
      validateLayout(sent.layout);
      this.layout = sent.layout;
      this.sentLayout = true;
    }
    const { trackTimeoutSeconds, relinkSeconds } = validateZoneOptions({ ...DEFAULT_ZONE_OPTIONS, ...options });
    this.summaryScope = `${scope}/summaries/${summaries?.interval}`;
    this.summaries = summaries
      ? new IntervalSummaries(
          metrics.collector,
          { ...summaries, settleSeconds: trackTimeoutSeconds + relinkSeconds + 1, buyingUnits: buyingUnitOptions !== null },
          metrics.store?.loadCounters(this.summaryScope),
        )
      : null;
  }

  /** One frame of a camera: its tracks, checked (readTracks). */
  process(frame: CameraFrame, tracks: readonly TrackObservation[]): FrameResult {
    const analytics = this.analyticsOf(frame.cameraId);
    const size = frame.width && frame.height ? { width: frame.width, height: frame.height } : undefined;
    const events = [...this.closing(frame.cameraId, analytics, frame.timestamp), ...analytics.update(tracks, frame.timestamp, size, frame.seq)];
    const collector = this.metrics.collector;
    collector.recordOccupancy(frame.cameraId, frame.timestamp, tracks.length);
    const units = this.record(frame.cameraId, analytics, events, tracks);
    const stats = analytics.stats(frame.timestamp);
    const inside: Record<string, number> = {};
    for (const zone of stats.zones) inside[`zone:${zone.id}`] = zone.currentCount;
    for (const line of stats.lines) inside[`line:${line.id}`] = 0;
    collector.recordPresence(frame.cameraId, frame.timestamp, inside);
    this.summaries?.counted(frame.cameraId, frame.timestamp);
    const day = collector.dayOf(frame.timestamp);
    const summary = (id: string) => {
      const peak = collector.peakOn(day, id);
      return { footfall: collector.footfallOn(day, id), peakOccupancy: peak?.peak ?? 0, peakAt: peak?.peakAt ?? null };
    };
    return {
      ...stats,
      events: events.map((e) => ({ ...e, cameraId: frame.cameraId, ...(units.has(e) ? { buyingUnit: units.get(e) } : {}) })),
      occupancy: tracks.length,
      geometry: analytics.geometry(size),
      nearBoundary: analytics.wantsFasterDetection,
      today: { day, camera: summary(frame.cameraId), all: summary(ALL_CAMERAS) },
    };
  }

  /** The layout counted now: the node's, or the latest sent by message. */
  get currentLayout(): ZoneLayout {
    return this.layout;
  }

  /** Whether the layout counted now came by message rather than from the node's settings. */
  get layoutFromMessage(): boolean {
    return this.sentLayout;
  }

  /**
   * Counting goes on with another layout for every camera (ZoneAnalytics.relayout), from now on; cameras seen later
   * start with it too. A layout that is not valid changes nothing and throws why. Returns the visits it ended.
   */
  relayout(layout: ZoneLayout): (ZoneEvent & { cameraId: string })[] {
    validateLayout(layout);
    this.layout = layout;
    this.sentLayout = true;
    const out: (ZoneEvent & { cameraId: string })[] = [];
    for (const [cameraId, analytics] of this.cameras) {
      const events = analytics.relayout(layout);
      this.record(cameraId, analytics, events);
      out.push(...events.map((e) => ({ ...e, cameraId })));
    }
    return out;
  }

  /**
   * The store closed while a camera sent no frames (it stopped, or stalls): its visits end at closing now rather than
   * at its next frame. Returns their exit events.
   */
  tick(now = Date.now()): (ZoneEvent & { cameraId: string })[] {
    const out: (ZoneEvent & { cameraId: string })[] = [];
    for (const [cameraId, analytics] of this.cameras) {
      const events = this.closing(cameraId, analytics, now);
      this.record(cameraId, analytics, events);
      out.push(...events.map((e) => ({ ...e, cameraId })));
    }
    return out;
  }

  /** The interval summaries to send now (none when summaries are off); send them, then `flush`. */
  dueSummaries(now = Date.now()): IntervalSummary[] {
    return this.summaries?.due(now) ?? [];
  }

  /** A summary was delivered (acknowledged delivery); false when none of that id waits for it. */
  acknowledgeSummary(id: string): boolean {
    return this.summaries?.acknowledge(id) ?? false;
  }

  /** Summaries sent and not yet acknowledged. */
  summariesWaiting(): number {
    return this.summaries?.waiting() ?? 0;
  }

  /** People inside zones now, over all cameras. */
  insideZones(): number {
    let total = 0;
    for (const analytics of this.cameras.values()) for (const zone of analytics.stats().zones) total += zone.currentCount;
    return total;
  }

  /**
   * Writes zone totals and the metrics that changed. Visits under way are saved to be ended as `restart` when
   * counting resumes: if the process dies before the next save, that is what happened to them.
   */
  flush(): void {
    this.save('restart');
  }

  /** The last save before the node stops (a redeploy, Node-RED stopping): visits under way end as `redeploy`. */
  close(): void {
    this.save('redeploy');
  }

  /** Totals, the counts per interval and how far summaries got are saved together: a crash keeps all or none. */
  private save(openVisitsEnd: ExitReason): void {
    const store = this.metrics.store;
    if (!store) return;
    store.atomically(() => {
      const totals: Record<string, unknown> = {};
      for (const [cameraId, analytics] of this.cameras) totals[cameraId] = analytics.totals(openVisitsEnd);
      store.saveCounters(this.scope, totals);
      if (this.summaries) store.saveCounters(this.summaryScope, this.summaries.progress());
      if (this.sentLayout) store.saveCounters(this.layoutScope, { sent: { configured: this.configuredLayout, layout: this.layout } });
      this.metrics.flush();
    });
  }

  /**
   * Footfall and the counts per interval of a camera's events; with buying units, each footfall entry's unit (from
   * where the person stood in `tracks`), which this returns.
   */
  private record(cameraId: string, analytics: ZoneAnalytics, events: readonly ZoneEvent[], tracks: readonly TrackObservation[] = []): Map<ZoneEvent, number> {
    const collector = this.metrics.collector;
    const units = new Map<ZoneEvent, number>();
    for (const event of analytics.footfallEvents(events)) {
      const grouping = this.buyingUnitsOf(cameraId);
      const box = grouping && 'trackId' in event ? tracks.find((t) => t.id === event.trackId)?.bbox : undefined;
      if (!grouping) {
        collector.recordFootfall(cameraId, event.at);
        continue;
      }
      // A person whose box is not in this frame (it cannot be, for an entry seen in it) is a unit of their own.
      const { unit, starts } = box ? grouping.enter({ at: event.at, position: [(box[0] + box[2]) / 2, box[3]], height: box[3] - box[1] }) : grouping.alone();
      units.set(event, unit);
      collector.recordFootfall(cameraId, event.at, 1, starts ? 1 : 0);
    }
    for (const event of events) {
      if (event.type === 'cross') collector.recordCount(cameraId, event.at, `line:${event.lineId}`, event.direction === 'in' ? { in: 1 } : { out: 1 });
      else if (event.type === 'enter') collector.recordCount(cameraId, event.at, `zone:${event.zoneId}`, { in: 1 });
      else if (event.type === 'exit') collector.recordCount(cameraId, event.at, `zone:${event.zoneId}`, event.staff ? { out: 1, staff: 1 } : { out: 1, dwellSeconds: event.dwellSeconds });
      else if (event.type === 'staff') {
        for (const at of event.footfallAt) collector.recordFootfall(cameraId, at, -1);
        collector.recordStaff(cameraId, event.at);
      }
    }
    return units;
  }

  private buyingUnitsOf(cameraId: string): BuyingUnits | null {
    if (!this.buyingUnitOptions) return null;
    let grouping = this.buyingUnits.get(cameraId);
    if (!grouping) {
      grouping = new BuyingUnits(this.buyingUnitOptions);
      this.buyingUnits.set(cameraId, grouping);
    }
    return grouping;
  }

  /**
   * With a store calendar: when the store was open at a camera's previous frame (or check) and has closed since,
   * every visit under way ends as `closing` (no occupancy carried into the night); people still there start anew.
   */
  private closing(cameraId: string, analytics: ZoneAnalytics, at: number): ZoneEvent[] {
    const calendar = this.metrics.collector.calendar;
    const last = this.checkedAt.get(cameraId);
    if (last !== undefined && at <= last) return [];
    this.checkedAt.set(cameraId, at);
    if (!calendar || last === undefined || !calendar.isOpen(last) || !calendar.closedBetween(last, at)) return [];
    return analytics.endAll('closing');
  }

  private analyticsOf(cameraId: string): ZoneAnalytics {
    let analytics = this.cameras.get(cameraId);
    if (!analytics) {
      if (this.cameras.size >= this.maxCameras) throw new Error(`already counting ${this.maxCameras} cameras; camera "${cameraId}" is one too many`);
      analytics = new ZoneAnalytics(this.layout, this.options);
      const saved = this.metrics.store?.loadCounters(this.scope)[cameraId];
      if (saved) analytics.restoreTotals(saved as Record<string, unknown>);
      this.cameras.set(cameraId, analytics);
    }
    return analytics;
  }
}
