import { strict as assert } from 'node:assert';
import { Canvas, GlyphCache, parseColour } from '../src/imaging/raster';

const GREY = 128;
const blank = (width: number, height: number) => new Canvas(new Uint8Array(width * height * 3).fill(GREY), width, height);
const at = (canvas: Canvas, x: number, y: number) => [...canvas.pixels.subarray((y * canvas.width + x) * 3, (y * canvas.width + x) * 3 + 3)];
const changed = (canvas: Canvas) => {
  const points: [number, number][] = [];
  for (let y = 0; y < canvas.height; y++) for (let x = 0; x < canvas.width; x++) if (at(canvas, x, y).some((v) => v !== GREY)) points.push([x, y]);
  return points;
};
const RED = parseColour('#ff0000');

describe('Drawing into a frame (the annotated video)', () => {
  it('reads #rrggbb colours and refuses anything else', () => {
    assert.deepEqual(parseColour('#50dc50'), [0x50, 0xdc, 0x50]);
    assert.throws(() => parseColour('green'), /not a #rrggbb colour/);
  });

  it('draws a box outline inside the box, on whole pixels, and nothing else', () => {
    const canvas = blank(20, 20);
    canvas.rectOutline(2, 3, 12, 10, 2, RED);
    const points = changed(canvas);
    assert.ok(points.every(([x, y]) => x >= 2 && x < 12 && y >= 3 && y < 10), 'inside the box');
    assert.ok(points.every(([x, y]) => x < 4 || x >= 10 || y < 5 || y >= 8), 'only the 2-pixel border');
    assert.equal(points.length, 10 * 7 - 6 * 3);
    assert.deepEqual(at(canvas, 2, 3), [255, 0, 0]);
  });

  it('draws lines of the thickness asked, clipped to the frame, however far away their ends are', () => {
    const canvas = blank(10, 10);
    canvas.line(0, 5, 9, 5, 1, RED);
    assert.deepEqual(changed(canvas), Array.from({ length: 10 }, (_, x) => [x, 5]));
    const thick = blank(10, 10);
    thick.line(0, 5, 9, 5, 3, RED);
    assert.equal(changed(thick).length, 30);
    const hostile = blank(10, 10);
    const started = performance.now();
    hostile.line(-1e12, 5, 1e12, 5, 1, RED);
    assert.ok(performance.now() - started < 200, 'a line of a trillion pixels is cut to the frame');
    assert.equal(changed(hostile).length, 10);
  });

  it('closes polygons and fills discs', () => {
    const canvas = blank(12, 12);
    canvas.polyline([[1, 1], [10, 1], [10, 10]], 1, RED, true);
    assert.deepEqual(at(canvas, 5, 5), [255, 0, 0], 'the closing edge from (10, 10) back to (1, 1)');
    const disc = blank(12, 12);
    disc.disc(6, 6, 2, RED);
    assert.equal(changed(disc).length, 13);
  });

  it('writes outlined text from glyphs rendered once, left of and above its baseline', async () => {
    const glyphs = new GlyphCache();
    await glyphs.prepare(['in 3 out 1'], 14, '#feca57', 2);
    const glyph = glyphs.get('3', 14, '#feca57', 2)!;
    assert.ok(glyph.advance > 4 && glyph.advance < 14, `a digit's advance: ${glyph.advance}`);
    await glyphs.prepare(['31'], 14, '#feca57', 2);
    assert.equal(glyphs.get('3', 14, '#feca57', 2), glyph, 'kept, not rendered again');
    assert.equal(glyphs.get('3', 14, '#ffffff', 2), undefined, 'each colour apart');
    const canvas = blank(120, 40);
    canvas.text(glyphs, 'in 3 out 1', 10, 30, 14, '#feca57', 2);
    const points = changed(canvas);
    assert.ok(points.length > 100, `ink: ${points.length} pixels`);
    assert.ok(points.every(([x, y]) => x >= 7 && y >= 10 && y <= 35), 'right of x and around the baseline');
    const yellow = points.filter(([x, y]) => at(canvas, x, y)[0] > 200 && at(canvas, x, y)[2] < 120);
    const dark = points.filter(([x, y]) => at(canvas, x, y).every((v) => v < 60));
    assert.ok(yellow.length > 20 && dark.length > 20, 'the yellow letters on a black outline');
  });
});
