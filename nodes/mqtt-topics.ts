import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { LineStats, ZoneStats } from '../src/analytics/zones';
import { detectionRegistry, type ModelState } from '../src/detection/usage-registry';
import { cameraIdOf, readFrameRef, readList } from '../src/messages';
import { MqttTopics, NOTHING_ANNOUNCED, parseAnnounced, topicSafe, type Announced, type CameraZoneEvent, type MqttMessage } from '../src/mqtt/topics';
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

const EVENT_TYPES = new Set(['enter', 'exit', 'cross', 'alert', 'staff']);

const PACKAGE = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { name: string; version: string; homepage: string };

/** The sensors announced before, kept so that a zone deleted while Node-RED was stopped still gets its sensor removed. */
/** The state of the model each camera is detected with by a yolo-detect node of this process. */
function modelStates(): Map<string, ModelState> {
  const states = new Map(detectionRegistry.models().map((m) => [m.id, m.state]));
  return new Map(detectionRegistry.cameras().flatMap((c) => (states.has(c.model) ? [[c.cameraId, states.get(c.model)!]] : [])));
}

function readAnnounced(file: string): Announced {
  try {
    return parseAnnounced(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return NOTHING_ANNOUNCED;
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
          origin: { name: PACKAGE.name, sw: PACKAGE.version, url: PACKAGE.homepage },
        },
        readAnnounced(announcedFile),
      );
    } catch (err) {
      refuseToRun(node, 'mqtt-topics', err as Error);
      return;
    }
    // Read once a second at most: frames come ten times as often, the model's state changes seldom.
    let models = { at: 0, states: new Map<string, ModelState>() };
    const modelStateOf = (cameraId: string) => {
      if (Date.now() - models.at >= 1000) models = { at: Date.now(), states: modelStates() };
      return models.states.get(cameraId);
    };
    let counts = 0;
    let events = 0;
    let entities = 0;
    let failure: Error | undefined;
    const status = startThrottledStatus(node, () => {
      if (failure) return errorStatus(failure);
      if (counts + events === 0) return { fill: 'grey', shape: 'ring', text: `waiting for zone-analytics · ${topics.availabilityTopic}` };
      return { fill: 'green', shape: 'dot', text: `${counts} counts · ${events} events${entities ? ` · ${entities} entities announced` : ''}` };
    });

    const send = (messages: MqttMessage[]) => {
      if (messages.length > 0) node.send([messages.map((m) => ({ ...m }) as NodeMessage)]);
    };
    let announcementsSaved = topics.announcements;
    /** Keeps what was announced when it changed, so the next start knows what to remove. */
    const saveAnnounced = () => {
      if (topics.announcements === announcementsSaved) return;
      announcementsSaved = topics.announcements;
      const announced = topics.announced();
      writeAnnounced(announcedFile, announced);
      entities = Object.values(announced.devices).reduce((sum, components) => sum + Object.keys(components).length, 0);
    };
    const isDiscovery = (m: MqttMessage) => m.topic.endsWith('/config');
    // Counts held back by the throttle go out when their wait is over, even if no frame comes.
    const flusher = setInterval(() => {
      try {
        const due = topics.due(Date.now());
        counts += due.filter((m) => !isDiscovery(m)).length;
        send(due);
        saveAnnounced();
      } catch (err) {
        failure = err as Error;
        status.now();
      }
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
        const messages = topics.frame(
          {
            cameraId: frame?.cameraId ?? cameraIdOf(msg),
            occupancy: Number(msg.occupancy) || 0,
            footfallToday: Number(msg.today?.camera?.footfall) || 0,
            zones,
            lines,
            modelState: modelStateOf(frame?.cameraId ?? cameraIdOf(msg)),
          },
          Date.now(),
        );
        saveAnnounced();
        counts += messages.filter((m) => !isDiscovery(m)).length;
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
