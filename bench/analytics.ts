/**
 * Per-frame cost of the analytics after tracking: 10 zones and 4 counting lines, the heatmap of a 1280x720
 * frame, and the metrics collector, with 20 people walking. Target: under 1 ms per frame for all three.
 * Prints figures; never fails on speed.  Usage: node dist/bench/analytics.js [frames=5000]
 */
import { Heatmap } from '../src/analytics/heatmap';
import { ZoneAnalytics, type ZoneLayout } from '../src/analytics/zones';
import { MetricsCollector } from '../src/metrics/collector';
import type { Box } from '../src/types';

const frames = Number(process.argv[2] ?? 5000);
const WIDTH = 1280;
const HEIGHT = 720;

const layout: ZoneLayout = {
  zones: Array.from({ length: 10 }, (_, i) => {
    const x = (i % 5) * 250 + 20;
    const y = Math.floor(i / 5) * 350 + 20;
    // Irregular hexagons, like aisles and counters drawn by hand.
    return { id: `zone-${i}`, polygon: [[x, y], [x + 120, y - 10], [x + 210, y + 60], [x + 200, y + 300], [x + 90, y + 320], [x - 5, y + 200]] as [number, number][], minFrames: 2 };
  }),
  lines: Array.from({ length: 4 }, (_, i) => ({ id: `line-${i}`, from: [i * 320 + 100, 50] as [number, number], to: [i * 320 + 150, 680] as [number, number], minFrames: 3 })),
};

/** 20 people on smooth paths; every 200 frames one leaves and a new one (new id) arrives. */
function people(frame: number): { id: number; bbox: Box; label: string }[] {
  return Array.from({ length: 20 }, (_, k) => {
    const generation = Math.floor((frame + k * 10) / 200);
    const t = (frame + k * 37) / 60;
    const x = 640 + 560 * Math.sin(t * 0.7 + k);
    const y = 380 + 300 * Math.sin(t * 0.45 + 2 * k);
    return { id: generation * 20 + k + 1, bbox: [x - 25, y - 120, x + 25, y] as Box, label: 'person' };
  });
}

function measure(name: string, step: (frame: number) => void): number {
  for (let f = 0; f < 200; f++) step(f);
  const times = new Float64Array(frames);
  for (let f = 0; f < frames; f++) {
    const started = performance.now();
    step(200 + f);
    times[f] = performance.now() - started;
  }
  const mean = times.reduce((s, v) => s + v, 0) / frames;
  const p99 = Float64Array.from(times).sort()[Math.floor(frames * 0.99)];
  console.log(`  ${name.padEnd(38)} mean ${(mean * 1000).toFixed(1).padStart(7)} us   p99 ${(p99 * 1000).toFixed(1).padStart(7)} us`);
  return mean;
}

const zones = new ZoneAnalytics(layout);
const heatmap = new Heatmap({ width: WIDTH, height: HEIGHT, cellSize: 8, sigma: 24, decay: 0.98 });
const metrics = new MetricsCollector({ timeZone: 'Europe/Paris' });
const start = Date.parse('2026-11-28T08:00:00Z');
const input = Array.from({ length: frames + 200 }, (_, f) => people(f));
const at = (f: number) => start + f * 100;

console.log(`bench/analytics: ${frames} frames, 20 people, 10 zones + 4 lines, heatmap ${WIDTH}x${HEIGHT}`);
const z = measure('zones and lines', (f) => zones.update(input[f], at(f)));
const h = measure('heatmap update (cell 8 px, sigma 24 px)', (f) => heatmap.update(input[f].map((p) => p.bbox)));
const m = measure('metrics (occupancy every frame)', (f) => {
  metrics.recordOccupancy('cam', at(f), 20);
  if (f % 25 === 0) metrics.recordFootfall('cam', at(f));
});
const all = new ZoneAnalytics(layout);
const allHeatmap = new Heatmap({ width: WIDTH, height: HEIGHT, cellSize: 8, sigma: 24, decay: 0.98 });
const allMetrics = new MetricsCollector({ timeZone: 'Europe/Paris' });
const together = measure('all three in one frame', (f) => {
  const events = all.update(input[f], at(f));
  allHeatmap.update(input[f].map((p) => p.bbox));
  for (const e of all.footfallEvents(events)) allMetrics.recordFootfall('cam', e.at);
  allMetrics.recordOccupancy('cam', at(f), input[f].length);
});
console.log(`  sum of parts ${((z + h + m) * 1000).toFixed(1)} us; together ${(together * 1000).toFixed(1)} us per frame (target < 1000 us, ${((together / 33) * 100).toFixed(1)}% of a 33 ms detection)`);
