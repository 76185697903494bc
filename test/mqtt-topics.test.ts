import { strict as assert } from 'node:assert';
import type { LineStats, ZoneStats } from '../src/analytics/zones';
import { MqttTopics, type CameraZoneEvent, type MqttTopicsOptions } from '../src/mqtt/topics';

const OPTIONS: MqttTopicsOptions = { prefix: 'retail/', throttleSeconds: 1, discoveryPrefix: 'homeassistant', instance: 'shop1' };

const zone = (id: string, currentCount: number, extra: Partial<ZoneStats> = {}): ZoneStats => ({
  id, name: id, currentCount, totalEntries: currentCount, totalExits: 0, avgDwellSeconds: null, peakCount: currentCount, peakAt: null, ...extra,
});
const line = (id: string, inCount: number, out = 0): LineStats => ({ id, name: id, in: inCount, out });
const frame = (zones: ZoneStats[], lines: LineStats[], occupancy = 1, footfallToday = 3) => ({ cameraId: 'door cam', occupancy, footfallToday, zones, lines });
const byTopic = (messages: { topic: string; payload: string }[]) => Object.fromEntries(messages.map((m) => [m.topic, m.payload]));

/** The keys Home Assistant's MQTT sensor discovery needs for what we announce. */
const HA_REQUIRED = ['name', 'unique_id', 'state_topic', 'availability_topic', 'device', 'state_class', 'unit_of_measurement'];

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

  it('announces each sensor to Home Assistant once, with the keys it needs, before the counts', () => {
    const topics = new MqttTopics(OPTIONS);
    const messages = topics.frame(frame([zone('till', 1)], [line('door', 0)]), 0);
    const configs = messages.filter((m) => m.topic.startsWith('homeassistant/'));
    assert.deepEqual(configs.map((m) => m.topic).sort(), [
      'homeassistant/sensor/retail_shop1/door_cam_footfall_today/config',
      'homeassistant/sensor/retail_shop1/door_cam_line_door_in/config',
      'homeassistant/sensor/retail_shop1/door_cam_line_door_out/config',
      'homeassistant/sensor/retail_shop1/door_cam_occupancy/config',
      'homeassistant/sensor/retail_shop1/door_cam_zone_till_count/config',
    ]);
    assert.ok(messages.findIndex((m) => !m.topic.startsWith('homeassistant/')) > messages.findLastIndex((m) => m.topic.startsWith('homeassistant/')), 'configs first');
    for (const config of configs) {
      assert.ok(config.retain);
      const payload = JSON.parse(config.payload);
      for (const key of HA_REQUIRED) assert.ok(key in payload, `${config.topic} has ${key}`);
      assert.equal(payload.availability_topic, 'retail/available');
      assert.deepEqual(payload.device.identifiers, ['retail_shop1_door_cam']);
      assert.ok(messages.some((m) => m.topic === payload.state_topic), `${payload.state_topic} is published`);
    }
    const occupancy = JSON.parse(configs.find((m) => m.topic.includes('occupancy'))!.payload);
    const lineIn = JSON.parse(configs.find((m) => m.topic.includes('line_door_in'))!.payload);
    assert.deepEqual([occupancy.state_class, lineIn.state_class], ['measurement', 'total_increasing']);
    assert.equal(new Set(configs.map((m) => JSON.parse(m.payload).unique_id)).size, configs.length, 'unique ids');
    assert.deepEqual(topics.frame(frame([zone('till', 2)], [line('door', 1)]), 5000).filter((m) => m.topic.startsWith('homeassistant/')), [], 'announced once');
  });

  it('empties the config of a zone removed from the layout, also one announced before a restart', () => {
    const first = new MqttTopics(OPTIONS);
    first.frame(frame([zone('till', 1), zone('entrance', 0)], []), 0);
    const announced = first.announced();
    const restarted = new MqttTopics(OPTIONS, announced);
    const messages = restarted.frame(frame([zone('till', 1)], []), 0);
    const removed = messages.filter((m) => m.payload === '');
    assert.deepEqual(removed.map((m) => [m.topic, m.retain]), [['homeassistant/sensor/retail_shop1/door_cam_zone_entrance_count/config', true]]);
    assert.ok(!Object.values(restarted.announced()).flat().some((t) => t.includes('entrance')));
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
