import type { Node, NodeAPI, NodeDef } from 'node-red';

/**
 * Dashboard 2.0 widgets for retail-analytics. Each node only registers itself with its ui-group: the pictures come
 * to the browser straight from api-out (its WebSocket video and REST endpoints), so that no frame passes through
 * Dashboard 2.0's socket. The zone editor reads and changes the layout of the zone-analytics node it names.
 */

interface WidgetDef extends NodeDef {
  group: string;
  api?: string;
  camera?: string;
  width?: number | string;
  height?: number | string;
  order?: number;
}

interface HeatmapDef extends WidgetDef {
  refreshSeconds?: number | string;
}

interface ZonesDef extends WidgetDef {
  zones: string;
}

/** What a ui-group offers its widgets (Dashboard 2.0's registration API). */
interface UiGroup extends Node {
  register(node: Node, config: object, events: object): void;
}

/** zone-analytics of @retail-vision/node-red-retail-analytics, as this package needs it (its ZoneAnalyticsNode). */
interface ZoneAnalytics extends Node {
  currentLayout(): unknown;
  relayout(layout: unknown, origin: string): number;
}

/** The answer to the zone editor's requests (a socket.io acknowledgement). */
type Reply = (answer: { layout?: unknown; ended?: number; error?: string }) => void;

/** The widget's props as the browser gets them, or why the node cannot run. */
function widgetSettings(config: WidgetDef): { api: string; camera: string } {
  const api = (config.api ?? '').trim() || '/api';
  if (!/^\/[\w\-./]*$/.test(api) || api.includes('..')) throw new Error(`the API path must start with / and hold only letters, digits, - _ . and /, got "${api}"`);
  const camera = (config.camera ?? '').trim();
  if (!camera) throw new Error('choose the camera: its id as camera-source sends it (msg.frame.cameraId)');
  return { api: api.replace(/\/+$/, ''), camera };
}

function isZoneAnalytics(node: Node | null): node is ZoneAnalytics {
  return node !== null && typeof (node as Partial<ZoneAnalytics>).currentLayout === 'function' && typeof (node as Partial<ZoneAnalytics>).relayout === 'function';
}

export = function (RED: NodeAPI) {
  /** Registers `node` with its group; a node that cannot run says why in its status and the log, and stays out. */
  function register(node: Node, config: WidgetDef, type: string, props: () => object, events: object = {}): void {
    try {
      const group = RED.nodes.getNode(config.group) as UiGroup | null;
      if (!group || typeof group.register !== 'function') throw new Error('choose a Dashboard 2.0 group (ui-group) for it');
      // Dashboard 2.0 sends the node's config to the browser as the widget's props.
      group.register(node, { ...config, type, ...widgetSettings(config), ...props() }, events);
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      node.error(`${type} is not shown: ${(err as Error).message}`);
    }
  }

  function VideoNode(this: Node, config: WidgetDef) {
    RED.nodes.createNode(this, config);
    register(this, config, 'ui-retail-video', () => ({}));
  }

  function HeatmapNode(this: Node, config: HeatmapDef) {
    RED.nodes.createNode(this, config);
    register(this, config, 'ui-retail-heatmap', () => {
      const refreshSeconds = Number(config.refreshSeconds ?? 10);
      if (!(refreshSeconds >= 1 && refreshSeconds <= 3600)) throw new Error(`refresh every 1 to 3600 seconds, got ${config.refreshSeconds}`);
      return { refreshSeconds };
    });
  }

  function ZonesNode(this: Node, config: ZonesDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const target = (): ZoneAnalytics => {
      const zones = RED.nodes.getNode(config.zones);
      if (!isZoneAnalytics(zones)) throw new Error('its zone-analytics node is missing or not deployed: choose one in the widget');
      return zones;
    };
    // Dashboard 2.0 gives every widget of a type each socket event: a widget answers only what is addressed to it.
    const events = {
      onSocket: {
        'ui-retail-zones:load': (_socket: unknown, id: unknown, reply: unknown) => {
          if (id !== node.id || typeof reply !== 'function') return;
          try {
            (reply as Reply)({ layout: target().currentLayout() });
          } catch (err) {
            (reply as Reply)({ error: (err as Error).message });
          }
        },
        'ui-retail-zones:apply': (_socket: unknown, id: unknown, layout: unknown, reply: unknown) => {
          if (id !== node.id || typeof reply !== 'function') return;
          try {
            const ended = target().relayout(layout, `from the Dashboard 2.0 zone editor "${config.name || node.id}"`);
            (reply as Reply)({ ended });
            node.status({ fill: 'green', shape: 'dot', text: `layout applied ${new Date().toLocaleTimeString()}` });
            node.send({ topic: 'layout', payload: layout });
          } catch (err) {
            (reply as Reply)({ error: (err as Error).message });
            node.warn((err as Error).message);
          }
        },
      },
    };
    // zone-analytics may start after this node: it is looked up when the editor asks, not now.
    register(node, config, 'ui-retail-zones', () => ({}), events);
  }

  RED.nodes.registerType('ui-retail-video', VideoNode);
  RED.nodes.registerType('ui-retail-heatmap', HeatmapNode);
  RED.nodes.registerType('ui-retail-zones', ZonesNode);
};
