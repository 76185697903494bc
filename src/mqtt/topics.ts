import type { LineStats, ZoneEvent, ZoneStats } from '../analytics/zones';
import { MODEL_STATES, type ModelState } from '../detection/usage-registry';

/** One MQTT publication, as Node-RED's mqtt out node takes it. */
export interface MqttMessage {
  topic: string;
  payload: string;
  retain: boolean;
  qos: 0 | 1;
}

export interface MqttTopicsOptions {
  /** Every topic starts with it; ends with "/". */
  prefix: string;
  /** A retained count is published at most this often (its latest value at the end of the wait). */
  throttleSeconds: number;
  /** Home Assistant discovery prefix, or null for no discovery. */
  discoveryPrefix: string | null;
  /** Names this Node-RED instance in discovery ids and device names. */
  instance: string;
  /** Who publishes the discovery configs, as Home Assistant shows it on each device. */
  origin: { name: string; sw: string; url: string };
}

/** What zone-analytics sends on its first output, as far as topics need it. */
export interface ZoneFrameStats {
  cameraId: string;
  occupancy: number;
  footfallToday: number;
  zones: readonly ZoneStats[];
  lines: readonly LineStats[];
  /** The state of the model detecting this camera, when a yolo-detect node of this process detects it. */
  modelState?: ModelState;
}

/** A zone-analytics event (its second output's payload). */
export type CameraZoneEvent = ZoneEvent & { cameraId: string };

type Platform = 'sensor' | 'binary_sensor';

/**
 * What was announced to Home Assistant, kept across restarts so that a zone removed while Node-RED was stopped
 * still has its entity removed.
 */
export interface Announced {
  /** Per camera (topic-safe id): its device's components, component id → platform. */
  devices: Record<string, Record<string, Platform>>;
  /** Per-entity config topics announced by versions before device-based discovery, handed over and not yet cleared. */
  legacyTopics: string[];
}

export const NOTHING_ANNOUNCED: Announced = { devices: {}, legacyTopics: [] };

/** Reads a saved `Announced`, also the earlier form (camera → per-entity config topics), whose topics are to be handed over. */
export function parseAnnounced(value: unknown): Announced {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return NOTHING_ANNOUNCED;
  const record = value as Record<string, unknown>;
  if (typeof record.devices === 'object' && record.devices !== null && Array.isArray(record.legacyTopics)) {
    return { devices: record.devices as Announced['devices'], legacyTopics: record.legacyTopics.filter((t): t is string => typeof t === 'string') };
  }
  const topics = Object.values(record).flatMap((list) => (Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string' && t.endsWith('/config')) : []));
  return { devices: {}, legacyTopics: topics };
}

/**
 * Counts are published again this often while frames come, unchanged or not, so that Home Assistant can tell a
 * count that stands still from one nobody updates: its entities expire (show unavailable) after EXPIRE_AFTER_SECONDS.
 */
export const REFRESH_SECONDS = 60;
export const EXPIRE_AFTER_SECONDS = 5 * REFRESH_SECONDS;
/** Frames analysed per second are measured over windows this long. */
const FPS_WINDOW_MS = 10_000;
/**
 * Earlier per-entity configs are replaced by a migrate request at once and cleared this much later, when Home
 * Assistant has handed their entities over to the device config: clearing at once could remove them instead.
 */
export const HAND_OVER_SECONDS = 10;
const MIGRATE_PAYLOAD = JSON.stringify({ migrate_discovery: true });

interface Component {
  /** Unique within the camera: the component id in the device config, part of the unique id. */
  key: string;
  platform: Platform;
  name: string;
  stateTopic: string;
  icon: string;
  stateClass?: 'measurement' | 'total_increasing';
  unit?: string;
  deviceClass?: 'occupancy' | 'problem' | 'enum';
  /** The values of an `enum` sensor. */
  options?: readonly string[];
  valueTemplate?: string;
  diagnostic?: boolean;
}

/** Keeps what MQTT topics and Home Assistant ids allow: letters, digits, "_" and "-". */
export function topicSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function validateMqttTopicsOptions(options: MqttTopicsOptions): MqttTopicsOptions {
  if (!/^[^#+\s]*\/$/.test(options.prefix) || options.prefix === '/') throw new Error(`the topic prefix must end with "/" and have no "#", "+" or spaces, got ${JSON.stringify(options.prefix)}`);
  if (!(options.throttleSeconds >= 0 && options.throttleSeconds <= 3600)) throw new Error(`the throttle must be from 0 to 3600 seconds, got ${options.throttleSeconds}`);
  if (options.discoveryPrefix !== null && !/^[A-Za-z0-9_-]+$/.test(options.discoveryPrefix)) {
    throw new Error(`the discovery prefix must be letters, digits, "_" or "-", got ${JSON.stringify(options.discoveryPrefix)}`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(options.instance)) throw new Error(`the instance name must be letters, digits, "_" or "-", got ${JSON.stringify(options.instance)}`);
  return options;
}

/**
 * Turns zone-analytics output into a documented MQTT topic tree: retained counts published when they change (at
 * most once per throttle per topic, and again every REFRESH_SECONDS while frames come), events with a stable id
 * and visit pairing, and Home Assistant device-based discovery: one retained config per camera whose components
 * are its sensors, with the components of zones and lines gone from the layout removed. Per-entity configs of
 * earlier versions are handed over to the devices with the same unique ids, so no entity is duplicated. Clock and
 * storage are the caller's: `at` is in ms, `announcedBefore` is what was announced before.
 */
export class MqttTopics {
  readonly options: MqttTopicsOptions;
  readonly availabilityTopic: string;
  /** Last value published per topic, when, and the next time a change of it may be published. */
  private readonly published = new Map<string, { value: string; at: number; nextAt: number }>();
  /** Changes held back by the throttle: the latest value per topic. */
  private readonly held = new Map<string, string>();
  /** Each camera's device components announced since the start. */
  private readonly devicesNow = new Map<string, Record<string, Platform>>();
  /** Frames seen per camera in the current window, for the frame rate. */
  private readonly frameWindows = new Map<string, { start: number; frames: number }>();
  private announcementsMade = 0;
  private handOverStarted = false;
  /** When the handed-over per-entity configs are to be cleared, while they are pending. */
  private clearLegacyAt: number | null = null;
  private legacyCleared = false;

  constructor(options: MqttTopicsOptions, private readonly announcedBefore: Announced = NOTHING_ANNOUNCED) {
    this.options = validateMqttTopicsOptions(options);
    this.availabilityTopic = `${options.prefix}available`;
  }

  /** Topics of one zone-analytics frame message: discovery when the camera's sensors change, then counts that changed. */
  frame(stats: ZoneFrameStats, at: number): MqttMessage[] {
    const base = `${this.options.prefix}${topicSafe(stats.cameraId)}`;
    const values: [string, number | string][] = [
      [`${base}/occupancy`, stats.occupancy],
      [`${base}/footfall/today`, stats.footfallToday],
    ];
    for (const zone of stats.zones) {
      const topic = `${base}/zones/${topicSafe(zone.id)}`;
      values.push([`${topic}/count`, zone.currentCount], [`${topic}/entries`, zone.totalEntries], [`${topic}/exits`, zone.totalExits]);
      if (zone.avgDwellSeconds !== null) values.push([`${topic}/avg_dwell`, Math.round(zone.avgDwellSeconds * 10) / 10]);
      if (zone.alert) values.push([`${topic}/alert`, zone.alert.active ? 'ON' : 'OFF']);
      for (const [label, counts] of Object.entries(zone.byClass ?? {})) {
        values.push([`${topic}/classes/${topicSafe(label)}/count`, counts.currentCount], [`${topic}/classes/${topicSafe(label)}/entries`, counts.totalEntries]);
      }
    }
    for (const line of stats.lines) {
      const topic = `${base}/lines/${topicSafe(line.id)}`;
      values.push([`${topic}/in`, line.in], [`${topic}/out`, line.out]);
    }
    const fps = this.frameRate(stats.cameraId, at);
    if (fps !== null) values.push([`${base}/fps`, fps]);
    if (stats.modelState) values.push([`${base}/model`, stats.modelState]);
    const out = this.discovery(stats, at);
    for (const [topic, value] of values) {
      const message = this.change(topic, String(value), at);
      if (message) out.push(message);
    }
    return out;
  }

  /** Counts held back by the throttle whose wait is over, and the clearing of handed-over configs when it is time. */
  due(at: number): MqttMessage[] {
    const out: MqttMessage[] = [];
    if (this.clearLegacyAt !== null && at >= this.clearLegacyAt) {
      this.clearLegacyAt = null;
      this.legacyCleared = true;
      this.announcementsMade++;
      out.push(...this.announcedBefore.legacyTopics.map((topic) => ({ topic, payload: '', retain: true, qos: 1 as const })));
    }
    for (const [topic, value] of this.held) {
      if (at < this.published.get(topic)!.nextAt) continue;
      this.held.delete(topic);
      out.push(this.publish(topic, value, at));
    }
    return out;
  }

  /** An event on `<prefix><camera>/events`, not retained: an event is not a state. */
  event(event: CameraZoneEvent): MqttMessage {
    const camera = topicSafe(event.cameraId);
    const where = event.type === 'cross' ? `line:${event.lineId}` : event.type === 'staff' ? 'staff' : `zone:${event.zoneId}`;
    const who = event.type === 'alert' ? event.state : event.trackId;
    const payload = {
      // The same event always gets the same id (a consumer can drop a repeat), different events different ids.
      eventId: `${event.cameraId}:${where}:${who}:${event.type}:${event.at}`,
      ...event,
      ...(event.type === 'enter' || event.type === 'exit' ? { visitId: `${event.cameraId}:${event.visitId}` } : {}),
    };
    return { topic: `${this.options.prefix}${camera}/events`, payload: JSON.stringify(payload), retain: false, qos: 1 };
  }

  /** What has been announced so far, to keep for the next start. */
  announced(): Announced {
    return {
      devices: { ...this.announcedBefore.devices, ...Object.fromEntries(this.devicesNow) },
      legacyTopics: this.legacyCleared ? [] : this.announcedBefore.legacyTopics,
    };
  }

  /** How many times a camera's sensors were announced anew: when it grows, `announced()` has changed. */
  get announcements(): number {
    return this.announcementsMade;
  }

  private change(topic: string, value: string, at: number): MqttMessage | null {
    const last = this.published.get(topic);
    if (last?.value === value) {
      this.held.delete(topic);
      return at - last.at >= REFRESH_SECONDS * 1000 ? this.publish(topic, value, at) : null;
    }
    if (last && at < last.nextAt) {
      this.held.set(topic, value);
      return null;
    }
    return this.publish(topic, value, at);
  }

  private publish(topic: string, value: string, at: number): MqttMessage {
    this.published.set(topic, { value, at, nextAt: at + this.options.throttleSeconds * 1000 });
    return { topic, payload: value, retain: true, qos: 1 };
  }

  /** Frames analysed per second for the camera, when a window of them is complete. */
  private frameRate(cameraId: string, at: number): number | null {
    const window = this.frameWindows.get(cameraId);
    if (!window || at < window.start) {
      this.frameWindows.set(cameraId, { start: at, frames: 0 });
      return null;
    }
    window.frames++;
    if (at - window.start < FPS_WINDOW_MS) return null;
    this.frameWindows.set(cameraId, { start: at, frames: 0 });
    return Math.round((window.frames * 10_000) / (at - window.start)) / 10;
  }

  /**
   * The camera's device config at its first frame and whenever its components change, with removed components
   * reduced to their platform (Home Assistant's way to remove them); before the first, the hand-over of the
   * per-entity configs of earlier versions.
   */
  private discovery(stats: ZoneFrameStats, at: number): MqttMessage[] {
    const { discoveryPrefix, instance, origin } = this.options;
    if (discoveryPrefix === null) return [];
    const camera = topicSafe(stats.cameraId);
    const components = this.componentsOf(stats);
    const platforms = Object.fromEntries(components.map((c) => [c.key, c.platform]));
    const before = this.devicesNow.get(camera);
    if (before && sameComponents(before, platforms)) return [];
    this.devicesNow.set(camera, platforms);
    this.announcementsMade++;
    const removed = Object.entries(before ?? this.announcedBefore.devices[camera] ?? {}).filter(([key]) => !(key in platforms));
    const config = {
      dev: {
        ids: [`retail_${instance}_${camera}`],
        name: `${stats.cameraId} (${instance})`,
        mf: 'node-red-retail-analytics',
        mdl: 'camera people counting',
        sw: origin.sw,
        via_device: `retail_${instance}`,
      },
      o: origin,
      availability_topic: this.availabilityTopic,
      payload_available: 'online',
      payload_not_available: 'offline',
      qos: 1,
      cmps: {
        ...Object.fromEntries(removed.map(([key, platform]) => [key, { p: platform }])),
        ...Object.fromEntries(components.map((c) => [c.key, this.componentConfig(camera, c)])),
      },
    };
    return [
      ...this.handOver(at),
      { topic: `${discoveryPrefix}/device/retail_${instance}_${camera}/config`, payload: JSON.stringify(config), retain: true, qos: 1 },
    ];
  }

  /** Migrate requests for the per-entity configs of earlier versions, once, before the first device config. */
  private handOver(at: number): MqttMessage[] {
    if (this.handOverStarted || this.announcedBefore.legacyTopics.length === 0) return [];
    this.handOverStarted = true;
    this.clearLegacyAt = at + HAND_OVER_SECONDS * 1000;
    // Retained, so a Home Assistant that starts before the clearing reads a hand-over, not the old config.
    return this.announcedBefore.legacyTopics.map((topic) => ({ topic, payload: MIGRATE_PAYLOAD, retain: true, qos: 1 as const }));
  }

  private componentConfig(camera: string, c: Component): Record<string, unknown> {
    const uniqueId = `retail_${this.options.instance}_${camera}_${c.key}`;
    return {
      p: c.platform,
      name: c.name,
      unique_id: uniqueId,
      // The entity id earlier versions gave through object_id, so new installs get the same ones.
      default_entity_id: `${c.platform}.retail_${camera}_${c.key}`,
      state_topic: c.stateTopic,
      expire_after: EXPIRE_AFTER_SECONDS,
      icon: c.icon,
      ...(c.stateClass ? { state_class: c.stateClass } : {}),
      ...(c.unit ? { unit_of_measurement: c.unit } : {}),
      ...(c.deviceClass ? { device_class: c.deviceClass } : {}),
      ...(c.options ? { options: c.options } : {}),
      ...(c.valueTemplate ? { value_template: c.valueTemplate } : {}),
      ...(c.diagnostic ? { entity_category: 'diagnostic' } : {}),
    };
  }

  private componentsOf(stats: ZoneFrameStats): Component[] {
    const base = `${this.options.prefix}${topicSafe(stats.cameraId)}`;
    return [
      { key: 'occupancy', platform: 'sensor', name: 'People in view', stateTopic: `${base}/occupancy`, stateClass: 'measurement', unit: 'people', icon: 'mdi:account-group' },
      { key: 'footfall_today', platform: 'sensor', name: 'Footfall today', stateTopic: `${base}/footfall/today`, stateClass: 'total_increasing', unit: 'visitors', icon: 'mdi:walk' },
      { key: 'fps', platform: 'sensor', name: 'Frames analysed per second', stateTopic: `${base}/fps`, stateClass: 'measurement', unit: 'fps', icon: 'mdi:speedometer', diagnostic: true },
      ...(stats.modelState
        ? [{ key: 'model', platform: 'sensor' as const, name: 'Detection model', stateTopic: `${base}/model`, deviceClass: 'enum' as const, options: MODEL_STATES, icon: 'mdi:brain', diagnostic: true }]
        : []),
      ...stats.zones.flatMap((zone): Component[] => {
        const name = zone.name || zone.id;
        const countTopic = `${base}/zones/${topicSafe(zone.id)}/count`;
        return [
          { key: `zone_${topicSafe(zone.id)}_count`, platform: 'sensor', name: `${name} people`, stateTopic: countTopic, stateClass: 'measurement', unit: 'people', icon: 'mdi:account-multiple' },
          {
            key: `zone_${topicSafe(zone.id)}_occupied`,
            platform: 'binary_sensor',
            name: `${name} occupied`,
            stateTopic: countTopic,
            deviceClass: 'occupancy',
            valueTemplate: "{{ 'ON' if value | int(0) > 0 else 'OFF' }}",
            icon: 'mdi:account-check',
          },
          ...(zone.alert
            ? [
                {
                  key: `zone_${topicSafe(zone.id)}_alert`,
                  platform: 'binary_sensor' as const,
                  name: `${name} ${zone.alert.measure === 'wait' ? 'wait' : 'crowding'} alert`,
                  stateTopic: `${base}/zones/${topicSafe(zone.id)}/alert`,
                  deviceClass: 'problem' as const,
                  icon: 'mdi:alert',
                },
              ]
            : []),
        ];
      }),
      ...stats.lines.flatMap((line): Component[] =>
        (['in', 'out'] as const).map((direction) => ({
          key: `line_${topicSafe(line.id)}_${direction}`,
          platform: 'sensor',
          name: `${line.name || line.id} ${direction}`,
          stateTopic: `${base}/lines/${topicSafe(line.id)}/${direction}`,
          stateClass: 'total_increasing',
          unit: 'people',
          icon: direction === 'in' ? 'mdi:login' : 'mdi:logout',
        })),
      ),
    ];
  }
}

function sameComponents(a: Record<string, Platform>, b: Record<string, Platform>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
