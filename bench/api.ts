/**
 * The API under load, with the full pipeline running on vtest.avi as fast as the CPU allows: requests per
 * second and p99 latency of /api/stats and /api/cameras/vtest/frame (autocannon, loopback), and the pipeline's
 * frames per second with and without 20 WebSocket video clients. Target: less than 5% fewer frames with them.
 * Prints figures; never fails on speed.  Usage: node dist/bench/api.js [seconds=15]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p99: number }; non2xx: number }>;

const ROOT = path.resolve(__dirname, '..', '..');
const seconds = Number(process.argv[2] ?? 15);
const port = 19500 + Math.floor(Math.random() * 400);
const base = `http://127.0.0.1:${port}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function framesProcessed(): Promise<number> {
  const camera = (await (await fetch(`${base}/api/cameras/vtest`)).json()) as { framesProcessed?: number };
  return camera.framesProcessed ?? 0;
}

async function pipelineFps(): Promise<number> {
  const before = await framesProcessed();
  const started = Date.now();
  await sleep(seconds * 1000);
  return ((await framesProcessed()) - before) / ((Date.now() - started) / 1000);
}

async function main(): Promise<void> {
  const flow = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'full-pipeline.json'), 'utf8')) as Record<string, unknown>[];
  const camera = flow.find((n) => n.type === 'camera-source')!;
  // As fast as the pipeline takes frames, so any load on the process shows as fewer frames per second.
  camera.realtime = false;
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-api-'));
  const flowFile = path.join(dir, 'flow.json');
  writeFileSync(flowFile, JSON.stringify(flow));
  const red = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
    env: { ...process.env, PORT: String(port), DEMO_USER_DIR: path.join(dir, 'user'), DEMO_FLOW_FILE: flowFile },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; i < 150; i++) {
      try {
        if ((await framesProcessed()) > 20) break;
      } catch {
        // Not listening yet.
      }
      await sleep(200);
    }
    console.log(`bench/api: full pipeline on vtest.avi as fast as possible, ${seconds} s per measurement`);
    const alone = await pipelineFps();
    console.log(`  pipeline alone:                      ${alone.toFixed(1)} frames/s`);

    for (const endpoint of ['/api/stats', '/api/cameras/vtest/frame']) {
      const result = await autocannon({ url: `${base}${endpoint}`, connections: 10, duration: Math.min(10, seconds) });
      console.log(`  ${endpoint.padEnd(28)} ${Math.round(result.requests.average).toString().padStart(6)} req/s   p99 ${result.latency.p99} ms   non-2xx ${result.non2xx}`);
    }

    const clients = Array.from({ length: 20 }, () => new WebSocket(`ws://127.0.0.1:${port}/api/ws/stream/vtest`));
    let received = 0;
    for (const client of clients) client.on('message', () => received++);
    await Promise.all(clients.map((c) => new Promise((resolve) => c.once('open', resolve))));
    const withClients = await pipelineFps();
    console.log(`  pipeline with 20 video clients:      ${withClients.toFixed(1)} frames/s (${received} frames sent to clients)`);
    console.log(`  ratio with/without clients: ${(withClients / alone).toFixed(3)} (target >= 0.95)`);
    for (const client of clients) client.terminate();
  } finally {
    red.kill('SIGINT');
  }
}

main().catch((err) => {
  console.error(`bench/api: ${(err as Error).message}`);
  process.exitCode = 1;
});
