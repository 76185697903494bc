import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { createApi, type UpgradeTarget } from '../src/api/http';
import { LiveHub } from '../src/api/live';
import { ApiState, type ApiInput } from '../src/api/state';
import { createStaticHandler } from '../src/api/static';
import { AuditError, AuditStore } from '../src/audit/clips';
import { frameStore } from '../src/camera/frame-store';
import { PIPELINE_EVENT_TYPES, plainJson } from '../src/messages';
import { fleetRegistry } from '../src/fleet/registry';
import { peekMetrics } from '../src/metrics/shared';
import { peekSales } from '../src/sales/ledger';
import { failMessage, refuseTooDeep, refuseToRun, startThrottledStatus } from './status';

interface ApiOutDef extends NodeDef {
  basePath: string;
  quality: string | number;
  privacy: boolean;
  database: string;
}

type Layer = { handle: unknown; match?: (path: string) => boolean };
type RouterHost = { _router?: { stack: Layer[] }; router?: { stack: Layer[] } };
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Where the dashboard and docs go when another package or flow serves their usual paths. */
const FALLBACK_PAGES_ROOT = '/retail-analytics';

function routerStack(RED: NodeAPI): Layer[] {
  const host = RED.httpNode as unknown as RouterHost;
  if (host._router) return host._router.stack;
  try {
    return host.router?.stack ?? [];
  } catch {
    // Express 4 creates its router with the first route and throws on app.router before: nothing is mounted yet.
    return [];
  }
}

/**
 * Who else serves `page` (a path below Node-RED's httpNodeRoot), or null: a Dashboard 2.0 ui-base node of the
 * deployed flows (which may mount after this node), or any route or mount already on Node-RED's HTTP router
 * (Dashboard 2.0 started before, an http in node, another package).
 */
function otherServer(RED: NodeAPI, page: string): string | null {
  let owner: string | null = null;
  RED.nodes.eachNode((n) => {
    const base = n as unknown as { type: string; path?: unknown; name?: unknown };
    if (owner || base.type !== 'ui-base' || typeof base.path !== 'string') return;
    const mounted = `/${base.path.trim().replace(/^\/+|\/+$/g, '')}`;
    if (page === mounted || page.startsWith(`${mounted}/`)) owner = `Dashboard 2.0 (ui-base${base.name ? ` "${String(base.name)}"` : ''})`;
  });
  if (owner) return owner;
  // Middleware mounted at the root matches every path: only what matches this page and not any path serves it.
  const anyPath = `/${Math.random().toString(36).slice(2)}/nothing-here`;
  const layer = routerStack(RED).find((l) => typeof l.match === 'function' && (l.match(page) || l.match(`${page}/`)) && !l.match(anyPath));
  return layer ? 'another route on this Node-RED' : null;
}

/** Paths served in this runtime, so two api-out nodes do not answer the same URLs. */
const servedPaths = new Set<string>();
/** Handshakes travelling through Node-RED's HTTP stack (and its httpNodeAuth) to a /ws/ route. */
const pendingUpgrades = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

const DASHBOARD = path.resolve(__dirname, '..', 'src', 'api', 'dashboard');

export = function register(RED: NodeAPI): void {
  function ApiOutNode(this: Node, config: ApiOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const basePath = `/${(config.basePath || '/api').trim().replace(/^\/+|\/+$/g, '')}`;
    const fail = (err: Error) => refuseToRun(node, 'api-out', err);
    if (!/^\/[A-Za-z0-9._~\-/]+$/.test(basePath) || basePath.includes('..')) {
      return fail(new Error(`"${config.basePath}" is not a usable base path: use letters, digits and /, e.g. /api`));
    }
    // The first API at /api also serves /dashboard and /docs; others serve them below their base path. Pages
    // that another package already serves (Dashboard 2.0 owns /dashboard) move below FALLBACK_PAGES_ROOT.
    const usualRoot = basePath === '/api' ? '' : basePath;
    const usualPages = [`${usualRoot}/dashboard`, `${usualRoot}/docs`];
    const collision = usualPages.map((page) => ({ page, owner: otherServer(RED, page) })).find((c) => c.owner !== null);
    const pagesRoot = collision ? `${FALLBACK_PAGES_ROOT}${usualRoot}` : usualRoot;
    const paths = [basePath, `${pagesRoot}/dashboard`, `${pagesRoot}/docs`];
    const taken = paths.find((p) => servedPaths.has(p));
    if (taken) return fail(new Error(`another api-out node already serves ${taken}; give this one another base path`));
    for (const p of paths) servedPaths.add(p);
    // Both work side by side, so this is news, not a warning: the log and the status say where the pages went.
    if (collision) node.log(`${collision.page} is served by ${collision.owner}: this node's dashboard is at ${pagesRoot}/dashboard/ and its API docs at ${pagesRoot}/docs/`);

    const settings = RED.settings as { userDir?: string; httpNodeRoot?: string | false };
    const nodeRoot = typeof settings.httpNodeRoot === 'string' ? settings.httpNodeRoot.replace(/\/$/, '') : '';
    const database = config.database?.trim() || path.join(settings.userDir ?? process.cwd(), 'retail-analytics', 'metrics.db');
    const quality = Math.min(100, Math.max(1, Number(config.quality) || 80));
    const auditFile = database === ':memory:' ? ':memory:' : path.join(path.dirname(database), 'audits.db');
    /** Opened with the first clip or audit asked for: most APIs never record one. */
    let auditStore: AuditStore | undefined;
    const audits = () => {
      try {
        auditStore ??= new AuditStore(auditFile, quality);
      } catch (err) {
        throw new AuditError(503, `clips and audits cannot be kept: ${(err as Error).message}`);
      }
      return auditStore;
    };
    const state = new ApiState();
    /** The fleet-aggregate node feeding this API, whose time series then replace this instance's own. */
    let aggregator: string | null = null;
    let hub: LiveHub | undefined;
    const api = createApi({
      state,
      basePath: `${nodeRoot}${basePath}`,
      metrics: () => (aggregator !== null ? fleetRegistry.collector(aggregator) : null) ?? peekMetrics(database),
      sales: () => peekSales(database),
      quality,
      privacy: config.privacy === true,
      startedAt: Date.now(),
      audits,
      upgrade: (req: IncomingMessage, res: ServerResponse, target: UpgradeTarget) => {
        const pending = pendingUpgrades.get(req);
        if (!pending || !hub) return false;
        pendingUpgrades.delete(req);
        res.detachSocket(pending.socket as never);
        hub.accept(req, pending.socket, pending.head, target);
        return true;
      },
    });
    hub = new LiveHub({ render: (id) => api.renderFrame(id), tick: () => api.snapshot() });

    const dashboard = createStaticHandler({
      root: DASHBOARD,
      files: { '/vendor/chart.umd.js': path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js') },
      generated: { '/config.json': () => ({ type: 'application/json; charset=utf-8', body: JSON.stringify({ apiBase: `${nodeRoot}${basePath}` }) }) },
    });
    const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
    const docs = createStaticHandler({
      root: path.join(DASHBOARD, 'docs'),
      files: {
        '/swagger-ui.css': path.join(swaggerDir, 'swagger-ui.css'),
        '/swagger-ui-bundle.js': path.join(swaggerDir, 'swagger-ui-bundle.js'),
      },
      generated: { '/config.json': () => ({ type: 'application/json; charset=utf-8', body: JSON.stringify({ openapi: `${nodeRoot}${basePath}/openapi.json` }) }) },
    });
    const mounted: [string, Handler][] = [[basePath, api.handle], [`${pagesRoot}/dashboard`, dashboard], [`${pagesRoot}/docs`, docs]];
    for (const [at, handler] of mounted) RED.httpNode.use(at, handler);

    // WebSocket handshakes go through Node-RED's own request handling, so httpNodeAuth and any middleware
    // apply to them as to any request; the /ws/ route then takes the socket over.
    const server = (RED as unknown as { server?: Server }).server;
    const wsPrefix = `${nodeRoot}${basePath}/ws/`;
    const ownRoots = mounted.map(([at]) => `${nodeRoot}${at}`);
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = req.url ?? '';
      if (!url.startsWith(wsPrefix)) {
        // Our other paths are plain HTTP: an upgrade there gets an answer rather than a socket left hanging.
        const pathname = url.split('?')[0];
        if (ownRoots.some((root) => pathname === root || pathname.startsWith(`${root}/`))) {
          socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 34\r\nConnection: close\r\n\r\nno WebSocket endpoint at this path');
        }
        return;
      }
      const app = server?.listeners('request')[0] as Handler | undefined;
      if (!app) {
        socket.destroy();
        return;
      }
      const res = new ServerResponse(req);
      res.assignSocket(socket as never);
      pendingUpgrades.set(req, { socket, head });
      app(req, res);
    };
    server?.on('upgrade', onUpgrade);

    const where = collision ? `${basePath}, page ${pagesRoot}/dashboard` : basePath;
    const status = startThrottledStatus(node, () => ({ fill: 'green', shape: 'dot', text: `${where} · ${state.list().length} cameras · ${hub!.clients} live` }));
    status.now();

    node.on('input', (msg: NodeMessageInFlow, _send, done) => {
      if (refuseTooDeep(msg, done)) return;
      try {
        const payload = msg.payload as { type?: string } | undefined;
        if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload) && PIPELINE_EVENT_TYPES.has(String(payload.type ?? (payload as { event?: string }).event))) {
          hub!.event(plainJson(payload, 'msg.payload'));
          return done();
        }
        const input = msg as ApiInput;
        const cameraId = state.ingest(input);
        const view = state.camera(cameraId)!;
        if (view.remote) aggregator = view.remote.aggregator;
        if ((input.frame && !input.heatmap) || (view.remote && Buffer.isBuffer(input.payload) && !input.heatmap)) hub!.frame(cameraId);
        if (input.frame && view.frame && !view.remote && auditStore?.isRecording(cameraId)) {
          auditStore.offer(cameraId, { frame: view.frame, image: frameStore.get(view.frame), zones: view.zones, lines: view.lines, geometry: view.geometry });
        }
        done();
      } catch (err) {
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      server?.off('upgrade', onUpgrade);
      hub!.close();
      const stack = routerStack(RED);
      for (const [, handler] of mounted) {
        const index = stack.findIndex((layer) => layer.handle === handler);
        if (index >= 0) stack.splice(index, 1);
      }
      for (const p of paths) servedPaths.delete(p);
      state.clear();
      if (!auditStore) return done();
      auditStore.close().then(done, (err: Error) => {
        node.warn(`the audit database did not close cleanly: ${err.message}`);
        done();
      });
    });
  }

  RED.nodes.registerType('api-out', ApiOutNode);
};
