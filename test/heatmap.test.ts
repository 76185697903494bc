import { strict as assert } from 'node:assert';
import { Heatmap } from '../src/analytics/heatmap';
import { normalise, renderHeatmap } from '../src/analytics/heatmap-render';
import { decodeImage } from '../src/imaging/image';
import type { Box } from '../src/types';

const feetAt = (x: number, y: number): Box => [x - 10, y - 60, x + 10, y];
const cell = (map: ReturnType<Heatmap['liveGrid']>, x: number, y: number, size = 10) => map.values[Math.floor(y / size) * map.columns + Math.floor(x / size)];

describe('Heatmap', () => {
  it('adds a Gaussian blob at the feet, hottest in their cell', () => {
    const heatmap = new Heatmap({ width: 200, height: 100, cellSize: 10, sigma: 20, decay: 1 });
    heatmap.update([feetAt(55, 55)]);
    const grid = heatmap.liveGrid();
    assert.deepEqual([grid.columns, grid.rows], [20, 10]);
    assert.equal(cell(grid, 55, 55), 1);
    assert.ok(Math.abs(cell(grid, 75, 55) - Math.exp(-4 / 8)) < 1e-6, 'two cells away: exp(-d²/2σ²) with σ = 2 cells');
    assert.ok(cell(grid, 55, 55) > cell(grid, 65, 55) && cell(grid, 65, 55) > cell(grid, 75, 55));
    assert.equal(cell(grid, 195, 5), 0);
  });

  it('decays the live map every frame but not the long-term map, which resets on request', () => {
    const heatmap = new Heatmap({ width: 100, height: 100, cellSize: 10, sigma: 10, decay: 0.5 });
    heatmap.update([feetAt(50, 50)]);
    for (let f = 0; f < 3; f++) heatmap.update([]);
    assert.ok(Math.abs(cell(heatmap.liveGrid(), 50, 50) - 0.125) < 1e-6);
    for (let f = 0; f < 40; f++) heatmap.update([]);
    assert.ok(cell(heatmap.liveGrid(), 50, 50) < 1e-9, 'forgotten after long decay');
    assert.equal(cell(heatmap.longTermGrid(), 50, 50), 1);
    heatmap.update([feetAt(50, 50)]);
    assert.equal(cell(heatmap.longTermGrid(), 50, 50), 2);
    heatmap.resetLongTerm();
    assert.equal(cell(heatmap.longTermGrid(), 50, 50), 0);
  });

  it('stays exact over many frames of lazily applied decay', () => {
    const heatmap = new Heatmap({ width: 100, height: 100, cellSize: 10, sigma: 10, decay: 0.9 });
    for (let f = 0; f < 500; f++) heatmap.update([feetAt(50, 50)]);
    // A geometric series: 1 + 0.9 + 0.9² + ... → 10.
    assert.ok(Math.abs(cell(heatmap.liveGrid(), 50, 50) - 10) < 1e-3);
  });

  it('ignores boxes off the frame or with bad numbers, and rejects bad settings', () => {
    const heatmap = new Heatmap({ width: 100, height: 100, cellSize: 10 });
    heatmap.update([[NaN, 0, 10, 10], feetAt(5000, 5000), feetAt(-500, 50)]);
    assert.ok(heatmap.liveGrid().values.every((v) => v === 0));
    assert.throws(() => new Heatmap({ width: 100, height: 100, decay: 0 }), /decay/);
    assert.throws(() => new Heatmap({ width: 0, height: 100 }), /frame size/);
  });

  it('renders a PNG the size of the frame, cold areas showing the frame beneath', async () => {
    const heatmap = new Heatmap({ width: 160, height: 120, cellSize: 8, sigma: 8, decay: 1 });
    heatmap.update([feetAt(40, 60)]);
    const background = { pixels: new Uint8Array(160 * 120 * 3).fill(200), width: 160, height: 120 };
    const png = await renderHeatmap(heatmap.liveGrid(), { width: 160, height: 120, background, opacity: 0.6, format: 'png', quality: 80 });
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    const image = await decodeImage(png);
    assert.deepEqual([image.width, image.height], [160, 120]);
    const pixel = (x: number, y: number) => Array.from(image.pixels.subarray((y * 160 + x) * 3, (y * 160 + x) * 3 + 3));
    assert.deepEqual(pixel(150, 10), [200, 200, 200], 'no heat: the frame');
    assert.notDeepEqual(pixel(40, 60), [200, 200, 200], 'heat: colour');
    const jpeg = await renderHeatmap(heatmap.liveGrid(), { width: 160, height: 120, opacity: 1, format: 'jpeg', quality: 70 });
    assert.equal(jpeg[0], 0xff);
    assert.equal(jpeg[1], 0xd8);
  });

  it('blurs the people of the frame beneath when asked', async () => {
    const heatmap = new Heatmap({ width: 160, height: 120, cellSize: 8, sigma: 8, decay: 1 });
    const background = { pixels: new Uint8Array(160 * 120 * 3).fill(90), width: 160, height: 120 };
    for (let y = 20; y < 100; y++) for (let x = 100; x < 140; x++) background.pixels.fill(x % 2 ? 255 : 0, (y * 160 + x) * 3, (y * 160 + x) * 3 + 3);
    const render = async (blur?: Box[]) => decodeImage(await renderHeatmap(heatmap.liveGrid(), { width: 160, height: 120, background, blur, opacity: 0.6, format: 'png', quality: 80 }));
    const contrast = (image: { pixels: Uint8Array }) => Math.abs(image.pixels[(60 * 160 + 120) * 3] - image.pixels[(60 * 160 + 121) * 3]);
    assert.ok(contrast(await render()) > 150);
    assert.ok(contrast(await render([[100, 20, 140, 100]])) < 30);
    assert.equal(background.pixels[(60 * 160 + 121) * 3], 255, 'the frame itself is left as it was');
  });

  it('scales levels by the hottest cell', () => {
    assert.deepEqual([...normalise({ columns: 3, rows: 1, values: Float32Array.from([0, 1, 2]) })], [0, 128, 255]);
    assert.deepEqual([...normalise({ columns: 2, rows: 1, values: new Float32Array(2) })], [0, 0]);
  });
});
