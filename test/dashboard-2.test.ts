import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI } from 'node-red';
import { ROOT, waitFor } from './support';

helper.init(require.resolve('node-red'));

/**
 * The Dashboard 2.0 widget nodes' side in Node-RED, with a stand-in ui-group that records what they register: the
 * zone editor's socket events (the browser's side is tested in Chromium, examples.test.ts) and bad settings.
 */
const widgets = require(path.join(ROOT, 'packages', 'dashboard-2', 'dist', 'widgets.js'));
const zoneAnalytics = require('../nodes/zone-analytics');
const catchNode = require(require.resolve('@node-red/nodes/core/common/25-catch.js'));

type Msg = Record<string, any>;
type Registration = { node: Node; config: Msg; events: { onSocket?: Record<string, (...args: unknown[]) => void> } };
const registered: Registration[] = [];

function fakeGroup(RED: NodeAPI) {
  RED.nodes.registerType('ui-group', function (this: Node & { register: unknown }, config: Msg) {
    RED.nodes.createNode(this, config as never);
    this.register = (node: Node, widgetConfig: Msg, events: Registration['events']) => registered.push({ node, config: widgetConfig, events });
  });
}

/** Emits a zone editor's socket event as the browser would, and waits for the acknowledgement. */
function ask(registration: Registration, event: string, id: string, ...args: unknown[]): Promise<Msg | null> {
  return new Promise((resolve) => {
    registration.events.onSocket![event]({}, id, ...args, resolve);
    // A widget that is not addressed stays silent: no answer within a tick.
    setTimeout(() => resolve(null), 50);
  });
}

describe('Dashboard 2.0 widget nodes (packages/dashboard-2)', () => {
  const layout = { zones: [{ id: 'shelf', polygon: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]] }] };
  // Nodes without a position are config nodes to Node-RED: the flow nodes have one, the ui-group none (as deployed).
  const flow = (extra: Msg[] = []) => [
    { id: 'tab', type: 'tab' },
    { id: 'group', type: 'ui-group', z: 'tab' },
    { id: 'zones', type: 'zone-analytics', z: 'tab', x: 100, y: 100, layout: JSON.stringify(layout), persist: false, wires: [[], []] },
    { id: 'editor', type: 'ui-retail-zones', z: 'tab', x: 100, y: 100, group: 'group', name: 'editor', camera: 'vtest', api: '/api/', zones: 'zones', wires: [['applied']] },
    { id: 'applied', type: 'helper', z: 'tab', x: 100, y: 100 },
    { id: 'catch', type: 'catch', z: 'tab', x: 100, y: 100, scope: null, wires: [['errors']] },
    { id: 'errors', type: 'helper', z: 'tab', x: 100, y: 100 },
    ...extra,
  ];

  beforeEach((done) => {
    registered.length = 0;
    helper.startServer(done);
  });

  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
  });

  it('registers each widget with its group, with the API path and camera the browser needs', async () => {
    await helper.load([fakeGroup, widgets, zoneAnalytics, catchNode], flow([
      { id: 'video', type: 'ui-retail-video', z: 'tab', x: 100, y: 100, group: 'group', camera: ' vtest ', api: '' },
      { id: 'heat', type: 'ui-retail-heatmap', z: 'tab', x: 100, y: 100, group: 'group', camera: 'vtest', api: '/shop/api', refreshSeconds: '30' },
    ]));
    const byType = new Map(registered.map((r) => [r.config.type, r.config]));
    assert.deepEqual([...byType.keys()].sort(), ['ui-retail-heatmap', 'ui-retail-video', 'ui-retail-zones']);
    assert.deepEqual([byType.get('ui-retail-video')!.api, byType.get('ui-retail-video')!.camera], ['/api', 'vtest']);
    assert.deepEqual([byType.get('ui-retail-heatmap')!.api, byType.get('ui-retail-heatmap')!.refreshSeconds], ['/shop/api', 30]);
    assert.equal(byType.get('ui-retail-zones')!.api, '/api', 'a trailing slash is dropped');
  });

  it('the zone editor reads and changes the layout of its zone-analytics node, answering only its own id', async () => {
    await helper.load([fakeGroup, widgets, zoneAnalytics, catchNode], flow());
    const editor = registered.find((r) => r.config.type === 'ui-retail-zones')!;
    const applied: Msg[] = [];
    helper.getNode('applied').on('input', (msg: Msg) => applied.push(msg));
    assert.equal(await ask(editor, 'ui-retail-zones:load', 'another-widget'), null);
    assert.deepEqual(await ask(editor, 'ui-retail-zones:load', 'editor'), { layout });

    const moved = { zones: [{ id: 'shelf', polygon: [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6]] }], lines: [{ id: 'door', from: [0, 0.9], to: [1, 0.9] }] };
    assert.deepEqual(await ask(editor, 'ui-retail-zones:apply', 'editor', moved), { ended: 0 });
    assert.deepEqual(await ask(editor, 'ui-retail-zones:load', 'editor'), { layout: moved });
    await waitFor(() => applied.length === 1, 2000, 'the output message');
    assert.deepEqual([applied[0].topic, applied[0].payload], ['layout', moved]);

    const refused = await ask(editor, 'ui-retail-zones:apply', 'editor', { zones: [{ id: 'bad', polygon: [[0, 0]] }] });
    assert.match(String(refused?.error), /the new layout was refused, counting goes on with the old one: zone "bad": "polygon" must be at least 3 points/);
    assert.deepEqual(await ask(editor, 'ui-retail-zones:load', 'editor'), { layout: moved }, 'nothing changed');
    assert.equal(applied.length, 1);
  });

  it('says what is missing: a group, a camera, a zone-analytics node', async () => {
    await helper.load([fakeGroup, widgets, zoneAnalytics, catchNode], flow([
      { id: 'nogroup', type: 'ui-retail-video', z: 'tab', x: 100, y: 100, group: 'missing', camera: 'vtest', api: '/api' },
      { id: 'nocamera', type: 'ui-retail-heatmap', z: 'tab', x: 100, y: 100, group: 'group', camera: '', api: '/api' },
      { id: 'badpath', type: 'ui-retail-video', z: 'tab', x: 100, y: 100, group: 'group', camera: 'vtest', api: 'http://elsewhere/api' },
      { id: 'orphan', type: 'ui-retail-zones', z: 'tab', x: 100, y: 100, group: 'group', camera: 'vtest', api: '/api', zones: 'gone', wires: [[]] },
    ]));
    const shown = registered.map((r) => r.node.id).sort();
    assert.deepEqual(shown, ['editor', 'orphan'], 'a widget that cannot work is not shown');
    const orphan = registered.find((r) => r.node.id === 'orphan')!;
    assert.deepEqual(await ask(orphan, 'ui-retail-zones:load', 'orphan'), { error: 'its zone-analytics node is missing or not deployed: choose one in the widget' });
    const log = (helper.log().args as unknown[][]).map((args) => JSON.stringify(args[0]));
    for (const expected of [
      'ui-retail-video is not shown: choose a Dashboard 2.0 group (ui-group) for it',
      'ui-retail-heatmap is not shown: choose the camera: its id as camera-source sends it (msg.frame.cameraId)',
      'ui-retail-video is not shown: the API path must start with / and hold only letters, digits, - _ . and /, got \\"http://elsewhere/api\\"',
    ]) {
      assert.ok(log.some((line) => line.includes(expected)), `${expected} in the log`);
    }
  });
});
