import type { LineStats, ZoneEvent, ZoneStats } from '../analytics/zones';

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
}

/** What zone-analytics sends on its first output, as far as topics need it. */
export interface ZoneFrameStats {
  cameraId: string;
  occupancy: number;
  footfallToday: number;
  zones: readonly ZoneStats[];
  lines: readonly LineStats[];
}

/** A zone-analytics event (its second output's payload). */
export type CameraZoneEvent = ZoneEvent & { cameraId: string };

/** The sensors announced to Home Assistant for one camera, by discovery topic. */
export type Announced = Record<string, string[]>;

interface Sensor {
  /** Unique within the camera: becomes part of the object id and unique id. */
  key: string;
  name: string;
  stateTopic: string;
  stateClass: 'measurement' | 'total_increasing';
  unit: string;
  icon: string;
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
 * most once per throttle per topic), events with a stable id and visit pairing, and Home Assistant discovery
 * configs (retained), with the configs of zones and lines gone from the layout emptied so Home Assistant removes
 * their sensors. Clock and storage are the caller's: `at` is in ms, `announced` is what was announced before.
 */
export class MqttTopics {
  readonly options: MqttTopicsOptions;
  readonly availabilityTopic: string;
  /** Last value published per topic, and the next time a change of it may be published. */
  private readonly published = new Map<string, { value: string; nextAt: number }>();
  /** Changes held back by the throttle: the latest value per topic. */
  private readonly held = new Map<string, string>();
  /** Discovery topics announced since the start, sorted, by camera. */
  private readonly announcedNow = new Map<string, string[]>();
  private announcementsMade = 0;

  constructor(options: MqttTopicsOptions, private readonly announcedBefore: Announced = {}) {
    this.options = validateMqttTopicsOptions(options);
    this.availabilityTopic = `${options.prefix}available`;
  }

  /** Topics of one zone-analytics frame message: discovery when the camera's sensors change, then counts that changed. */
  frame(stats: ZoneFrameStats, at: number): MqttMessage[] {
    const base = `${this.options.prefix}${topicSafe(stats.cameraId)}`;
    const values: [string, number][] = [
      [`${base}/occupancy`, stats.occupancy],
      [`${base}/footfall/today`, stats.footfallToday],
    ];
    for (const zone of stats.zones) {
      const topic = `${base}/zones/${topicSafe(zone.id)}`;
      values.push([`${topic}/count`, zone.currentCount], [`${topic}/entries`, zone.totalEntries], [`${topic}/exits`, zone.totalExits]);
      if (zone.avgDwellSeconds !== null) values.push([`${topic}/avg_dwell`, Math.round(zone.avgDwellSeconds * 10) / 10]);
      for (const [label, counts] of Object.entries(zone.byClass ?? {})) {
        values.push([`${topic}/classes/${topicSafe(label)}/count`, counts.currentCount], [`${topic}/classes/${topicSafe(label)}/entries`, counts.totalEntries]);
      }
    }
    for (const line of stats.lines) {
      const topic = `${base}/lines/${topicSafe(line.id)}`;
      values.push([`${topic}/in`, line.in], [`${topic}/out`, line.out]);
    }
    const out = this.discovery(stats);
    for (const [topic, value] of values) {
      const message = this.change(topic, String(value), at);
      if (message) out.push(message);
    }
    return out;
  }

  /** Counts held back by the throttle whose wait is over. */
  due(at: number): MqttMessage[] {
    const out: MqttMessage[] = [];
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
    const where = event.type === 'cross' ? `line:${event.lineId}` : `zone:${event.zoneId}`;
    const payload = {
      // The same event always gets the same id (a consumer can drop a repeat), different events different ids.
      eventId: `${event.cameraId}:${where}:${event.trackId}:${event.type}:${event.at}`,
      ...event,
      ...(event.type === 'cross' ? {} : { visitId: `${event.cameraId}:${event.visitId}` }),
    };
    return { topic: `${this.options.prefix}${camera}/events`, payload: JSON.stringify(payload), retain: false, qos: 1 };
  }

  /** The discovery topics announced so far, by camera, to keep for the next start. */
  announced(): Announced {
    return { ...this.announcedBefore, ...Object.fromEntries(this.announcedNow) };
  }

  /** How many times a camera's sensors were announced anew: when it grows, `announced()` has changed. */
  get announcements(): number {
    return this.announcementsMade;
  }

  private change(topic: string, value: string, at: number): MqttMessage | null {
    const last = this.published.get(topic);
    if (last?.value === value) {
      this.held.delete(topic);
      return null;
    }
    if (last && at < last.nextAt) {
      this.held.set(topic, value);
      return null;
    }
    return this.publish(topic, value, at);
  }

  private publish(topic: string, value: string, at: number): MqttMessage {
    this.published.set(topic, { value, nextAt: at + this.options.throttleSeconds * 1000 });
    return { topic, payload: value, retain: true, qos: 1 };
  }

  /** Configs for the camera's sensors when they differ from what was announced, and empty ones for sensors gone. */
  private discovery(stats: ZoneFrameStats): MqttMessage[] {
    const { discoveryPrefix, instance } = this.options;
    if (discoveryPrefix === null) return [];
    const camera = topicSafe(stats.cameraId);
    const configs = new Map(this.sensorsOf(stats).map((sensor) => [`${discoveryPrefix}/sensor/retail_${instance}/${camera}_${sensor.key}/config`, sensor]));
    const topics = [...configs.keys()].sort();
    const before = this.announcedNow.get(camera);
    if (before && before.length === topics.length && before.every((topic, i) => topic === topics[i])) return [];
    this.announcedNow.set(camera, topics);
    this.announcementsMade++;
    const device = {
      identifiers: [`retail_${instance}_${camera}`],
      name: `${stats.cameraId} (${instance})`,
      manufacturer: 'node-red-retail-analytics',
      model: 'camera people counting',
      via_device: `retail_${instance}`,
    };
    const removed = (before ?? this.announcedBefore[camera] ?? []).filter((topic) => !configs.has(topic)).map((topic) => ({ topic, payload: '', retain: true, qos: 1 as const }));
    const added = [...configs].map(([topic, sensor]) => ({
      topic,
      payload: JSON.stringify({
        name: sensor.name,
        unique_id: `retail_${instance}_${camera}_${sensor.key}`,
        object_id: `retail_${camera}_${sensor.key}`,
        state_topic: sensor.stateTopic,
        availability_topic: this.availabilityTopic,
        payload_available: 'online',
        payload_not_available: 'offline',
        state_class: sensor.stateClass,
        unit_of_measurement: sensor.unit,
        icon: sensor.icon,
        device,
      }),
      retain: true,
      qos: 1 as const,
    }));
    return [...removed, ...added];
  }

  private sensorsOf(stats: ZoneFrameStats): Sensor[] {
    const base = `${this.options.prefix}${topicSafe(stats.cameraId)}`;
    return [
      { key: 'occupancy', name: 'People in view', stateTopic: `${base}/occupancy`, stateClass: 'measurement', unit: 'people', icon: 'mdi:account-group' },
      { key: 'footfall_today', name: 'Footfall today', stateTopic: `${base}/footfall/today`, stateClass: 'total_increasing', unit: 'visitors', icon: 'mdi:walk' },
      ...stats.zones.map((zone): Sensor => ({
        key: `zone_${topicSafe(zone.id)}_count`,
        name: `${zone.name || zone.id} people`,
        stateTopic: `${base}/zones/${topicSafe(zone.id)}/count`,
        stateClass: 'measurement',
        unit: 'people',
        icon: 'mdi:account-multiple',
      })),
      ...stats.lines.flatMap((line): Sensor[] =>
        (['in', 'out'] as const).map((direction) => ({
          key: `line_${topicSafe(line.id)}_${direction}`,
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
