import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { frameStore } from '../src/camera/frame-store';
import { Heatmap } from '../src/analytics/heatmap';
import { renderHeatmap } from '../src/analytics/heatmap-render';
import type { Box, FrameRef } from '../src/types';
import { cameraIdOf, MessageError, readFrameRef, readTracks } from '../src/messages';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber } from './status';

interface HeatmapDef extends NodeDef {
  cellSize: string | number;
  decay: string | number;
  sigma: string | number;
  every: string | number;
  format: 'png' | 'jpeg';
  quality: string | number;
  overlay: boolean;
  privacy: boolean;
  opacity: string | number;
  longTerm: boolean;
  anchor: 'bottom-center' | 'center';
}

type HeatmapMsg = NodeMessageInFlow & { frame?: unknown; cameraId?: unknown; tracks?: unknown };

const MAX_CAMERAS = 256;
/** Tracks read per message, as zone-analytics reads them. */
const MAX_TRACKS = 1000;

export = function register(RED: NodeAPI): void {
  function HeatmapNode(this: Node, config: HeatmapDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    type Entry = { heatmap: Heatmap; frames: number; people: Box[]; rendering: boolean; due: FrameRef | null };
    const maps = new Map<string, Entry>();
    const every = Math.max(0, Math.floor(settingNumber(config.every, 50)));

    const settings = {
      cellSize: settingNumber(config.cellSize, 8),
      decay: settingNumber(config.decay, 0.98),
      sigma: settingNumber(config.sigma, 24),
      anchor: config.anchor || 'bottom-center',
    } as const;
    try {
      // Settings are checked at deploy, on a map of one pixel, not at the first frame.
      new Heatmap({ width: 1, height: 1, ...settings });
      if (!(every >= 0)) throw new RangeError(`"every" must be a whole number of frames from 0, got ${config.every}`);
    } catch (err) {
      refuseToRun(node, 'heatmap', err as Error);
      return;
    }

    const heatmapOf = (cameraId: string, width: number, height: number) => {
      let entry = maps.get(cameraId);
      if (entry && (entry.heatmap.options.width !== width || entry.heatmap.options.height !== height)) entry = undefined;
      if (!entry) {
        if (!maps.has(cameraId) && maps.size >= MAX_CAMERAS) throw new Error(`already mapping ${MAX_CAMERAS} cameras; camera "${cameraId}" is one too many`);
        entry = {
          heatmap: new Heatmap({ width, height, ...settings }),
          frames: 0,
          people: [],
          rendering: false,
          due: null,
        };
        maps.set(cameraId, entry);
      }
      return entry;
    };

    const render = async (cameraId: string, msg: NodeMessage & Record<string, unknown>) => {
      const entry = maps.get(cameraId);
      if (!entry) throw new Error(`no heatmap yet for camera "${cameraId}": it starts with the first frame of tracks`);
      const { width, height } = entry.heatmap.options;
      const latest = config.overlay !== false ? frameStore.latest(cameraId) : undefined;
      const background = latest && latest.width === width && latest.height === height ? latest : undefined;
      const format = config.format === 'jpeg' ? 'jpeg' : 'png';
      const grid = config.longTerm ? entry.heatmap.longTermGrid() : entry.heatmap.liveGrid();
      const privacy = config.privacy === true;
      const rendering = () =>
        renderHeatmap(grid, {
          width,
          height,
          background,
          blur: privacy ? entry.people : undefined,
          opacity: settingNumber(config.opacity, 0.6),
          format,
          quality: settingNumber(config.quality, 80),
        });
      msg.payload = await (background ? frameStore.using(background, rendering) : rendering());
      // Tells the API whether people can be seen in the image.
      const showsPeople = Boolean(background) && !privacy;
      msg.heatmap = { cameraId, kind: config.longTerm ? 'long-term' : 'live', width, height, format, frames: entry.frames, showsPeople };
      return msg;
    };

    /** Renders in the background; an image due while one is drawn follows it, showing the heat by then. */
    const renderLatest = (cameraId: string, entry: Entry, frame: FrameRef) => {
      if (entry.rendering) {
        entry.due = frame;
        return;
      }
      entry.rendering = true;
      render(cameraId, { topic: cameraId, frame, cameraId })
        .then((out) => {
          node.status({ fill: 'green', shape: 'dot', text: `${cameraId}: ${entry.frames} frames` });
          node.send(out);
        })
        .catch((err: Error) => {
          node.status(errorStatus(err));
          node.error(err, { topic: cameraId, cameraId, payload: err.message });
        })
        .finally(() => {
          entry.rendering = false;
          const due = entry.due;
          entry.due = null;
          if (due && maps.get(cameraId) === entry) renderLatest(cameraId, entry, due);
        });
    };

    node.on('input', async (incoming, send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as HeatmapMsg;
      try {
        const frame = msg.frame === undefined ? null : readFrameRef(msg.frame);
        const cameraId = frame?.cameraId ?? cameraIdOf(msg);
        if (msg.payload === 'render') {
          send(await render(cameraId, msg as NodeMessage & Record<string, unknown>));
          return done();
        }
        if (msg.payload === 'reset') {
          maps.get(cameraId)?.heatmap.resetLongTerm();
          return done();
        }
        if (msg.tracks === undefined || !frame) {
          throw new MessageError('heatmap needs msg.tracks (from sort-track) and msg.frame with the frame size, or msg.payload "render" / "reset"');
        }
        const entry = heatmapOf(cameraId, frame.width, frame.height);
        entry.people = readTracks(msg.tracks, MAX_TRACKS).tracks.map((t) => t.bbox);
        entry.heatmap.update(entry.people);
        entry.frames++;
        if (every > 0 && entry.frames % every === 0) renderLatest(cameraId, entry, frame);
        done();
      } catch (err) {
        node.status(errorStatus(err as Error));
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      maps.clear();
      done();
    });
  }

  RED.nodes.registerType('heatmap', HeatmapNode);
};
