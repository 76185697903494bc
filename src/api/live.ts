import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface LiveOptions {
  /** The annotated JPEG of a camera's latest frame, or null when there is none. */
  render(cameraId: string): Promise<Buffer | null>;
  /** The analytics snapshot sent about once a second. */
  tick(): unknown;
  /** A client with more than this many bytes still unsent gets no new frame until it catches up. */
  maxBufferedBytes?: number;
  tickMs?: number;
}

/**
 * Live WebSocket clients: annotated video per camera and analytics ticks. Each frame is rendered once for all
 * of a camera's viewers, and only when someone watches; a slow client skips frames instead of queueing them,
 * so it never holds memory or slows the pipeline and the other clients.
 */
export class LiveHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly viewers = new Map<string, Set<WebSocket>>();
  private readonly listeners = new Set<WebSocket>();
  /** Cameras whose frame is being drawn: a frame that arrives meanwhile is skipped, the next one is drawn. */
  private readonly drawing = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private droppedFrames = 0;

  constructor(private readonly options: LiveOptions) {
    this.timer = setInterval(() => this.broadcast({ type: 'tick', ...(this.options.tick() as object) }), options.tickMs ?? 1000);
    this.timer.unref();
  }

  get clients(): number {
    let count = this.listeners.size;
    for (const set of this.viewers.values()) count += set.size;
    return count;
  }

  /** Frames not sent to a client because it had not taken the previous ones yet. */
  get dropped(): number {
    return this.droppedFrames;
  }

  watching(cameraId: string): boolean {
    return (this.viewers.get(cameraId)?.size ?? 0) > 0;
  }

  accept(req: IncomingMessage, socket: Duplex, head: Buffer, target: { kind: 'stream'; cameraId: string } | { kind: 'analytics' }): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const group = target.kind === 'analytics' ? this.listeners : this.groupOf(target.cameraId);
      group.add(ws);
      ws.on('close', () => group.delete(ws));
      ws.on('error', () => group.delete(ws));
      if (target.kind === 'analytics') this.send(ws, JSON.stringify({ type: 'tick', ...(this.options.tick() as object) }));
      else void this.options.render(target.cameraId).then((first) => first && this.send(ws, first));
    });
  }

  /** A new frame of a camera is ready: viewers get it, rendered once. */
  frame(cameraId: string): void {
    const group = this.viewers.get(cameraId);
    if (!group || group.size === 0 || this.drawing.has(cameraId)) return;
    this.drawing.add(cameraId);
    void this.options
      .render(cameraId)
      .then((jpeg) => {
        if (jpeg) for (const ws of group) this.send(ws, jpeg);
      })
      .finally(() => this.drawing.delete(cameraId));
  }

  /** Zone, line and track events reach analytics clients at once. */
  event(event: unknown): void {
    this.broadcast({ type: 'event', event });
  }

  close(): void {
    clearInterval(this.timer);
    for (const ws of [...this.listeners, ...[...this.viewers.values()].flatMap((s) => [...s])]) ws.terminate();
    this.listeners.clear();
    this.viewers.clear();
    this.wss.close();
  }

  private groupOf(cameraId: string): Set<WebSocket> {
    let group = this.viewers.get(cameraId);
    if (!group) {
      group = new Set();
      this.viewers.set(cameraId, group);
    }
    return group;
  }

  private broadcast(message: unknown): void {
    if (this.listeners.size === 0) return;
    const text = JSON.stringify(message);
    for (const ws of this.listeners) this.send(ws, text);
  }

  private send(ws: WebSocket, data: Buffer | string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > (this.options.maxBufferedBytes ?? 1_000_000)) {
      this.droppedFrames++;
      return;
    }
    ws.send(data);
  }
}
