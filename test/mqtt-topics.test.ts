import { strict as assert } from 'node:assert';
import type { LineStats, ZoneStats } from '../src/analytics/zones';
import { EXPIRE_AFTER_SECONDS, HAND_OVER_SECONDS, MqttTopics, parseAnnounced, REFRESH_SECONDS, type CameraZoneEvent, type MqttTopicsOptions } from '../src/mqtt/topics';

const OPTIONS: MqttTopicsOptions = {
  prefix: 'retail/',
  throttleSeconds: 1,
  discoveryPrefix: 'homeassistant',
  instance: 'shop1',
  origin: { name: '@retail-vision/node-red-retail-analytics', sw: '1.2.3', url: 'https://example.org/retail' },
};
const DEVICE_TOPIC = 'homeassistant/device/retail_shop1_door_cam/config';

const zone = (id: string, currentCount: number, extra: Partial<ZoneStats> = {}): ZoneStats => ({
  id, name: id, currentCount, totalEntries: currentCount, totalExits: 0, avgDwellSeconds: null, peakCount: currentCount, peakAt: null, ...extra,
});
const line = (id: string, inCount: number, out = 0): LineStats => ({ id, name: id, in: inCount, out });
const frame = (zones: ZoneStats[], lines: LineStats[], occupancy = 1, footfallToday = 3) => ({ cameraId: 'door cam', occupancy, footfallToday, zones, lines });
const byTopic = (messages: { topic: string; payload: string }[]) => Object.fromEntries(messages.map((m) => [m.topic, m.payload]));

/** The device config in messages, parsed, or undefined. */
const deviceConfig = (messages: { topic: string; payload: string }[]) => {
  const config = messages.findLast((m) => m.topic === DEVICE_TOPIC);
  return config && JSON.parse(config.payload);
};

describe('MQTT topics for zone-analytics', () => {
  it('publishes every count under the prefix, retained with QoS 1, with topic-safe ids', () => {
    const topics = new MqttTopics({ ...OPTIONS, discoveryPrefix: null });
    const messages = topics.frame(frame([zone('till/1', 2, { avgDwellSeconds: 12.34 })], [line('door', 5, 4)]), 0);
    assert.ok(messages.every((m) => m.retain && m.qos === 1));
    assert.deepEqual(byTopic(messages), {
      'retail/door_cam/occupancy': '1',
      'retail/door_cam/footfall/today': '3',
      'retail/door_cam/zones/till_1/count': '2',
      'retail/door_cam/zones/till_1/entries': '2',
      'retail/door_cam/zones/till_1/exits': '0',
      'retail/door_cam/zones/till_1/avg_dwell': '12.3',
      'retail/door_cam/lines/door/in': '5',
      'retail/door_cam/lines/door/out': '4',
    });
  });

  it('publishes a count only when it changes, at most once per throttle, ending on the latest value', () => {
    const topics = new MqttTopics({ ...OPTIONS, discoveryPrefix: null });
    topics.frame(frame([], [], 1), 0);
    assert.deepEqual(topics.frame(frame([], [], 1), 100), [], 'nothing changed');
    assert.deepEqual(topics.frame(frame([], [], 2), 200), [], 'changed within the second: held');
    assert.deepEqual(topics.frame(frame([], [], 3), 300), []);
    assert.deepEqual(topics.due(900), []);
    assert.deepEqual(byTopic(topics.due(1000)), { 'retail/door_cam/occupancy': '3' });
    assert.deepEqual(byTopic(topics.frame(frame([], [], 4), 1500)), {}, 'within a second of the last publication');
    assert.deepEqual(topics.frame(frame([], [], 3), 1600), [], 'back to the published value: nothing to send');
    assert.deepEqual(topics.due(2100), []);
  });

  it('counts per class where more than one class is tracked', () => {
    const topics = new MqttTopics({ ...OPTIONS, discoveryPrefix: null });
    const byClass = { person: { currentCount: 2, totalEntries: 5 }, 'shopping cart': { currentCount: 1, totalEntries: 2 } };
    const messages = byTopic(topics.frame(frame([zone('aisle', 3, { byClass })], []), 0));
    assert.equal(messages['retail/door_cam/zones/aisle/classes/person/count'], '2');
    assert.equal(messages['retail/door_cam/zones/aisle/classes/shopping_cart/entries'], '2');
  });

  it('announces each camera to Home Assistant as one device whose components are its sensors, once, before the counts', () => {
    const topics = new MqttTopics(OPTIONS);
    const messages = topics.frame(frame([zone('till', 1)], [line('door', 0)]), 0);
    const configs = messages.filter((m) => m.topic.startsWith('homeassistant/'));
    assert.deepEqual(configs.map((m) => [m.topic, m.retain]), [[DEVICE_TOPIC, true]]);
    assert.equal(messages.findIndex((m) => m.topic === DEVICE_TOPIC), 0, 'the config first');
    const config = deviceConfig(messages);
    assert.deepEqual(config.dev.ids, ['retail_shop1_door_cam']);
    assert.equal(config.dev.name, 'door cam (shop1)');
    assert.deepEqual(config.o, OPTIONS.origin, 'the origin names this package and its version');
    assert.deepEqual([config.availability_topic, config.payload_available, config.payload_not_available], ['retail/available', 'online', 'offline']);
    assert.deepEqual(Object.keys(config.cmps).sort(), ['footfall_today', 'fps', 'line_door_in', 'line_door_out', 'occupancy', 'zone_till_count', 'zone_till_occupied']);
    for (const [key, component] of Object.entries(config.cmps) as [string, Record<string, unknown>][]) {
      for (const field of ['p', 'name', 'unique_id', 'state_topic', 'expire_after']) assert.ok(field in component, `${key} has ${field}`);
      assert.ok(!('object_id' in component), `${key}: no object_id, which Home Assistant no longer reads`);
      assert.ok(!String(component.name).includes('door cam'), `${key}: the name is the data point only, Home Assistant adds the device's`);
      assert.equal(component.expire_after, EXPIRE_AFTER_SECONDS);
      assert.equal(component.default_entity_id, `${component.p}.retail_door_cam_${key}`);
    }
    const { occupancy, line_door_in: lineIn, zone_till_occupied: occupied, fps } = config.cmps;
    assert.deepEqual([occupancy.p, occupancy.state_class, occupancy.unit_of_measurement], ['sensor', 'measurement', 'people']);
    assert.deepEqual([lineIn.state_class, lineIn.state_topic], ['total_increasing', 'retail/door_cam/lines/door/in']);
    assert.deepEqual([occupied.p, occupied.device_class, occupied.state_topic], ['binary_sensor', 'occupancy', 'retail/door_cam/zones/till/count']);
    assert.deepEqual([fps.entity_category, fps.state_topic], ['diagnostic', 'retail/door_cam/fps']);
    assert.equal(new Set(Object.values(config.cmps).map((c) => (c as { unique_id: string }).unique_id)).size, 7, 'unique ids');
    for (const key of ['occupancy', 'zone_till_count', 'line_door_in']) assert.ok(messages.some((m) => m.topic === config.cmps[key].state_topic), `${key}'s state is published`);
    assert.deepEqual(topics.frame(frame([zone('till', 2)], [line('door', 1)]), 5000).filter((m) => m.topic.startsWith('homeassistant/')), [], 'announced once');
  });

  it("renders a zone's occupancy as on from one person, with the template Home Assistant applies", () => {
    const template = deviceConfig(new MqttTopics(OPTIONS).frame(frame([zone('till', 1)], []), 0)).cmps.zone_till_occupied.value_template;
    const render = (value: string) => {
      const match = /^\{\{ 'ON' if value \| int\(0\) > 0 else 'OFF' \}\}$/.exec(template);
      assert.ok(match, `a template this test can evaluate: ${template}`);
      const n = Number.parseInt(value, 10);
      return (Number.isNaN(n) ? 0 : n) > 0 ? 'ON' : 'OFF';
    };
    assert.deepEqual(['0', '1', '7', ''].map(render), ['OFF', 'ON', 'ON', 'OFF']);
  });

  it("removes a zone's components from its device, also a zone announced before a restart", () => {
    const first = new MqttTopics(OPTIONS);
    first.frame(frame([zone('till', 1), zone('entrance', 0)], []), 0);
    const restarted = new MqttTopics(OPTIONS, JSON.parse(JSON.stringify(first.announced())));
    const cmps = deviceConfig(restarted.frame(frame([zone('till', 1)], []), 0)).cmps;
    assert.deepEqual([cmps.zone_entrance_count, cmps.zone_entrance_occupied], [{ p: 'sensor' }, { p: 'binary_sensor' }], 'reduced to the platform: removed');
    assert.ok(cmps.zone_till_count.unique_id);
    assert.deepEqual(Object.keys(restarted.announced().devices.door_cam).filter((k) => k.includes('entrance')), []);
    const later = restarted.frame(frame([zone('till', 1), zone('aisle', 0)], []), 1000);
    assert.ok(!('zone_entrance_count' in deviceConfig(later).cmps), 'a removal is sent once');
  });

  it('hands the per-entity configs of earlier versions over to the device, then clears them, so no entity is doubled', () => {
    // What versions before device-based discovery saved: camera → the per-entity config topics they announced.
    const legacy = ['homeassistant/sensor/retail_shop1/door_cam_occupancy/config', 'homeassistant/sensor/retail_shop1/door_cam_zone_till_count/config'];
    const announced = parseAnnounced({ door_cam: legacy });
    assert.deepEqual(announced, { devices: {}, legacyTopics: legacy });
    const topics = new MqttTopics(OPTIONS, announced);
    const messages = topics.frame(frame([zone('till', 1)], []), 1000);
    assert.deepEqual(
      messages.slice(0, 3).map((m) => [m.topic, m.payload, m.retain]),
      [[legacy[0], '{"migrate_discovery":true}', true], [legacy[1], '{"migrate_discovery":true}', true], [DEVICE_TOPIC, messages[2].payload, true]],
      'the hand-over before the device config',
    );
    const cmps = deviceConfig(messages).cmps;
    assert.deepEqual([cmps.occupancy.unique_id, cmps.zone_till_count.unique_id], ['retail_shop1_door_cam_occupancy', 'retail_shop1_door_cam_zone_till_count'], 'the unique ids of before, so the entities keep their history');
    assert.deepEqual(topics.announced().legacyTopics, legacy, 'still to clear');
    assert.deepEqual(topics.due(1000 + HAND_OVER_SECONDS * 1000 - 1), []);
    const before = topics.announcements;
    assert.deepEqual(topics.due(1000 + HAND_OVER_SECONDS * 1000).map((m) => [m.topic, m.payload, m.retain]), legacy.map((t) => [t, '', true]), 'cleared once handed over');
    assert.ok(topics.announcements > before, 'the caller learns that what was announced changed');
    assert.deepEqual(topics.announced().legacyTopics, []);
    assert.deepEqual(topics.due(60_000), []);
    assert.deepEqual(new MqttTopics(OPTIONS, topics.announced()).frame(frame([zone('till', 1)], []), 0).filter((m) => m.payload.includes('migrate')), [], 'nothing to hand over after');
  });

  it('publishes counts again every REFRESH_SECONDS while frames come, so Home Assistant expires them only when they stop', () => {
    const topics = new MqttTopics({ ...OPTIONS, discoveryPrefix: null });
    const counts = (at: number) => topics.frame(frame([], [], 1), at).filter((m) => !m.topic.endsWith('/fps'));
    counts(0);
    assert.deepEqual(counts(REFRESH_SECONDS * 1000 - 1), []);
    assert.deepEqual(byTopic(counts(REFRESH_SECONDS * 1000)), { 'retail/door_cam/occupancy': '1', 'retail/door_cam/footfall/today': '3' });
    assert.ok(EXPIRE_AFTER_SECONDS >= 3 * REFRESH_SECONDS, 'two refreshes may be lost before a value expires');
    assert.deepEqual(topics.due(10 * REFRESH_SECONDS * 1000), [], 'no frames, no refresh');
  });

  it('publishes the frames analysed per second, over 10-second windows', () => {
    const topics = new MqttTopics({ ...OPTIONS, discoveryPrefix: null });
    const fps: string[] = [];
    for (let t = 0; t <= 25_000; t += 200) fps.push(...topics.frame(frame([], []), t).filter((m) => m.topic === 'retail/door_cam/fps').map((m) => m.payload));
    assert.deepEqual(fps, ['5'], 'once a window is complete, and only when it changed');
  });

  it('sends events unretained, with a stable unique id and one visit id for an enter and its exit', () => {
    const topics = new MqttTopics(OPTIONS);
    const events: CameraZoneEvent[] = [
      { type: 'enter', zoneId: 'till', trackId: 4, at: 1000, visitId: 'till:4:1000', label: 'person', cameraId: 'door cam' },
      { type: 'cross', lineId: 'door', trackId: 4, at: 1500, direction: 'in', label: 'person', cameraId: 'door cam' },
      { type: 'exit', zoneId: 'till', trackId: 9, at: 4000, enteredAt: 1000, dwellSeconds: 3, reason: 'left', trackEnded: false, visitId: 'till:4:1000', label: 'person', cameraId: 'door cam' },
    ];
    const messages = events.map((e) => topics.event(e));
    assert.ok(messages.every((m) => m.topic === 'retail/door_cam/events' && !m.retain && m.qos === 1));
    const payloads = messages.map((m) => JSON.parse(m.payload));
    assert.equal(new Set(payloads.map((p) => p.eventId)).size, 3);
    assert.equal(JSON.parse(topics.event(events[0]).payload).eventId, payloads[0].eventId, 'the same event, the same id');
    assert.deepEqual([payloads[0].type, payloads[2].type], ['enter', 'exit']);
    assert.equal(payloads[0].visitId, payloads[2].visitId, 'a visit that continued under another track id keeps its visit id');
    assert.equal(payloads[1].visitId, undefined);
    assert.equal(payloads[2].reason, 'left', 'an exit says why the visit ended');
  });

  it('refuses settings it cannot use', () => {
    assert.throws(() => new MqttTopics({ ...OPTIONS, prefix: 'retail' }), /must end with "\/"/);
    assert.throws(() => new MqttTopics({ ...OPTIONS, prefix: 'retail/#/' }), /"#"/);
    assert.throws(() => new MqttTopics({ ...OPTIONS, throttleSeconds: -1 }), /throttle/);
    assert.throws(() => new MqttTopics({ ...OPTIONS, instance: 'my shop' }), /instance name/);
  });
});
