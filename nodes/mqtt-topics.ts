import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { LineStats, ZoneStats } from '../src/analytics/zones';
import { cameraIdOf, readFrameRef, readList } from '../src/messages';
import { MqttTopics, topicSafe, type Announced, type CameraZoneEvent, type MqttMessage } from '../src/mqtt/topics';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber, startThrottledStatus } from './status';

interface MqttTopicsDef extends NodeDef {
  prefix: string;
  throttle: string | number;
  discovery: boolean | string;
  discoveryPrefix: string;
  instance: string;
}

type ZoneMsg = NodeMessageInFlow & {
  frame?: unknown;
  zones?: unknown;
  lines?: unknown;
  occupancy?: unknown;
  today?: { camera?: { footfall?: unknown } };
};

const EVENT_TYPES = new Set(['enter', 'exit', 'cross']);

/** The sensors announced before, kept so that a zone deleted while Node-RED was stopped still gets its sensor removed. */
function readAnnounced(file: string): Announced {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Announced) : {};
  } catch {
    return {};
  }
}

function writeAnnounced(file: string, announced: Announced): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // Written beside and renamed, so a crash mid-write never leaves half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(announced));
  renameSync(`${file}.tmp`, file);
}

export = function register(RED: NodeAPI): void {
  function MqttTopicsNode(this: Node, config: MqttTopicsDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    const announcedFile = path.join(userDir, 'retail-analytics', `mqtt-discovery-${topicSafe(node.id)}.json`);
    let topics: MqttTopics;
    try {
      const discovery = config.discovery === true || config.discovery === 'true';
      topics = new MqttTopics(
        {
          prefix: config.prefix?.trim() || 'retail/',
          throttleSeconds: settingNumber(config.throttle, 1),
          discoveryPrefix: discovery ? config.discoveryPrefix?.trim() || 'homeassistant' : null,
          instance: config.instance?.trim() || topicSafe(hostname()),
        },
        readAnnounced(announcedFile),
      );
    } catch (err) {
      refuseToRun(node, 'mqtt-topics', err as Error);
      return;
    }
    let counts = 0;
    let events = 0;
    let sensors = 0;
    let failure: Error | undefined;
    const status = startThrottledStatus(node, () => {
      if (failure) return errorStatus(failure);
      if (counts + events === 0) return { fill: 'grey', shape: 'ring', text: `waiting for zone-analytics · ${topics.availabilityTopic}` };
      return { fill: 'green', shape: 'dot', text: `${counts} counts · ${events} events${sensors ? ` · ${sensors} sensors announced` : ''}` };
    });

    const send = (messages: MqttMessage[]) => {
      if (messages.length > 0) node.send([messages.map((m) => ({ ...m }) as NodeMessage)]);
    };
    // Counts held back by the throttle go out when their wait is over, even if no frame comes.
    const flusher = setInterval(() => {
      const due = topics.due(Date.now());
      counts += due.length;
      send(due);
    }, 250);

    node.on('input', (incoming, _send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as ZoneMsg;
      try {
        const payload = msg.payload as Partial<CameraZoneEvent> | undefined;
        if (msg.zones === undefined && typeof payload === 'object' && payload !== null && EVENT_TYPES.has(payload.type as string) && typeof payload.cameraId === 'string') {
          events++;
          send([topics.event(payload as CameraZoneEvent)]);
          status.now();
          return done();
        }
        if (!Array.isArray(msg.zones) || !Array.isArray(msg.lines)) {
          throw new Error('mqtt-topics needs the messages of zone-analytics: msg.zones and msg.lines from its first output, or an event from its second');
        }
        // Only entries shaped as zone-analytics makes them become topics.
        const named = (list: unknown[]) => list.filter((x) => typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string');
        const zones = named(readList(msg.zones, 'msg.zones', 'zone-analytics')) as ZoneStats[];
        const lines = named(readList(msg.lines, 'msg.lines', 'zone-analytics')) as LineStats[];
        const frame = msg.frame === undefined ? null : readFrameRef(msg.frame);
        const announcementsBefore = topics.announcements;
        const messages = topics.frame(
          {
            cameraId: frame?.cameraId ?? cameraIdOf(msg),
            occupancy: Number(msg.occupancy) || 0,
            footfallToday: Number(msg.today?.camera?.footfall) || 0,
            zones,
            lines,
          },
          Date.now(),
        );
        if (topics.announcements !== announcementsBefore) {
          const announced = topics.announced();
          writeAnnounced(announcedFile, announced);
          sensors = Object.values(announced).reduce((sum, list) => sum + list.length, 0);
        }
        counts += messages.filter((m) => !m.topic.endsWith('/config')).length;
        send(messages);
        failure = undefined;
        status.now();
        done();
      } catch (err) {
        failure = err as Error;
        status.now();
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(flusher);
      status.stop();
      done();
    });
  }

  RED.nodes.registerType('mqtt-topics', MqttTopicsNode);
};
