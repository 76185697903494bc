/**
 * Drawing straight into an RGB frame: lines, outlines, dots and outlined text. The annotated video is drawn for
 * every frame a viewer sees; rendering an SVG over the whole frame (librsvg, then a composite) cost 20–25 ms a
 * frame, where these few hundred strokes cost well under a millisecond. Text is the one thing drawn by libvips:
 * each character once per size and colour, then copied from the cache.
 */
import sharp from 'sharp';

export type Rgb = readonly [number, number, number];

export function parseColour(hex: string): Rgb {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!match) throw new RangeError(`not a #rrggbb colour: ${hex}`);
  return [parseInt(match[1], 16), parseInt(match[2], 16), parseInt(match[3], 16)];
}

/** One character drawn with its outline: coverage of the fill and of the outline, per pixel of its box. */
interface Glyph {
  width: number;
  height: number;
  /** How far the pen moves after it. */
  advance: number;
  /** Rows from the box's top to the baseline. */
  ascent: number;
  /** Per pixel: red, green, blue and coverage (0–255) of the character over its black outline. */
  rgba: Uint8Array;
}

const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
/** Glyphs kept before the cache is emptied: names and counts use few characters, user-given names may use many. */
const MAX_GLYPHS = 4096;

/** Characters rendered by libvips once per size, colour and outline, and kept. */
export class GlyphCache {
  private readonly glyphs = new Map<string, Glyph>();

  private static key(char: string, size: number, colour: string, outline: number): string {
    return `${size}|${colour}|${outline}|${char}`;
  }

  /** Renders whichever characters of the texts are not cached yet. */
  async prepare(texts: readonly string[], size: number, colour: string, outline: number): Promise<void> {
    const missing = new Set<string>();
    for (const text of texts) for (const char of text) if (!this.glyphs.has(GlyphCache.key(char, size, colour, outline))) missing.add(char);
    if (missing.size === 0) return;
    if (this.glyphs.size + missing.size > MAX_GLYPHS) this.glyphs.clear();
    await Promise.all([...missing].map(async (char) => this.glyphs.set(GlyphCache.key(char, size, colour, outline), await renderGlyph(char, size, colour, outline))));
  }

  get(char: string, size: number, colour: string, outline: number): Glyph | undefined {
    return this.glyphs.get(GlyphCache.key(char, size, colour, outline));
  }
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function renderGlyph(char: string, size: number, colour: string, outline: number): Promise<Glyph> {
  // A box wide enough for any character; the ink's extent decides the advance.
  const width = Math.ceil(size * 2);
  const height = Math.ceil(size * 1.6);
  const ascent = Math.ceil(size * 1.2);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<text x="${outline}" y="${ascent}" font-family="${FONT_FAMILY}" font-size="${size}" fill="${colour}" stroke="#000" stroke-width="${outline}" paint-order="stroke" xml:space="preserve">${escapeXml(char)}</text></svg>`;
  const rgba = new Uint8Array(await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer());
  let right = 0;
  for (let y = 0; y < height; y++) {
    for (let x = width - 1; x > right; x--) if (rgba[(y * width + x) * 4 + 3] > 0) right = x;
  }
  const advance = char.trim() === '' ? Math.round(size * 0.35) : right + 1;
  return { width, height, advance, ascent, rgba };
}

/** An RGB frame to draw on. */
export class Canvas {
  constructor(
    readonly pixels: Uint8Array,
    readonly width: number,
    readonly height: number,
  ) {}

  /** A square of side `size` centred on (x, y), clipped to the frame. */
  private dot(x: number, y: number, size: number, [r, g, b]: Rgb): void {
    const half = size / 2;
    const x0 = Math.max(0, Math.round(x - half));
    const y0 = Math.max(0, Math.round(y - half));
    const x1 = Math.min(this.width, Math.round(x - half) + size);
    const y1 = Math.min(this.height, Math.round(y - half) + size);
    for (let row = y0; row < y1; row++) {
      for (let i = (row * this.width + x0) * 3, end = (row * this.width + x1) * 3; i < end; i += 3) {
        this.pixels[i] = r;
        this.pixels[i + 1] = g;
        this.pixels[i + 2] = b;
      }
    }
  }

  /** A filled rectangle, clipped to the frame. */
  fillRect(x: number, y: number, width: number, height: number, colour: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const x1 = Math.min(this.width, Math.round(x + width));
    const y0 = Math.max(0, Math.round(y));
    const y1 = Math.min(this.height, Math.round(y + height));
    if (x1 <= x0 || y1 <= y0) return;
    for (let row = y0; row < y1; row++) {
      for (let i = (row * this.width + x0) * 3, end = (row * this.width + x1) * 3; i < end; i += 3) {
        this.pixels[i] = colour[0];
        this.pixels[i + 1] = colour[1];
        this.pixels[i + 2] = colour[2];
      }
    }
  }

  /** A straight line `thickness` pixels wide. */
  line(x0: number, y0: number, x1: number, y1: number, thickness: number, colour: Rgb): void {
    // Endpoints far outside the frame (a hostile layout) are pulled in, so the walk stays short.
    const limit = 4 * Math.max(this.width, this.height);
    [x0, y0, x1, y1] = [x0, y0, x1, y1].map((v) => Math.max(-limit, Math.min(limit, v)));
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let s = 0; s <= steps; s++) this.dot(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, thickness, colour);
  }

  polyline(points: readonly (readonly [number, number])[], thickness: number, colour: Rgb, closed = false): void {
    for (let i = 1; i < points.length; i++) this.line(points[i - 1][0], points[i - 1][1], points[i][0], points[i][1], thickness, colour);
    if (closed && points.length > 2) this.line(points.at(-1)![0], points.at(-1)![1], points[0][0], points[0][1], thickness, colour);
  }

  /** The outline of a box, drawn inside it so it covers whole pixels at its edges. */
  rectOutline(x1: number, y1: number, x2: number, y2: number, thickness: number, colour: Rgb): void {
    this.fillRect(x1, y1, x2 - x1, thickness, colour);
    this.fillRect(x1, y2 - thickness, x2 - x1, thickness, colour);
    this.fillRect(x1, y1, thickness, y2 - y1, colour);
    this.fillRect(x2 - thickness, y1, thickness, y2 - y1, colour);
  }

  disc(cx: number, cy: number, radius: number, [r, g, b]: Rgb): void {
    for (let y = Math.max(0, Math.floor(cy - radius)); y <= Math.min(this.height - 1, Math.ceil(cy + radius)); y++) {
      for (let x = Math.max(0, Math.floor(cx - radius)); x <= Math.min(this.width - 1, Math.ceil(cx + radius)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > radius * radius) continue;
        const i = (y * this.width + x) * 3;
        this.pixels[i] = r;
        this.pixels[i + 1] = g;
        this.pixels[i + 2] = b;
      }
    }
  }

  /** Text from the cache (prepare it first) with its baseline at y; characters not cached are skipped. */
  text(glyphs: GlyphCache, text: string, x: number, y: number, size: number, colour: string, outline: number): void {
    let pen = Math.round(x);
    const baseline = Math.round(y);
    for (const char of text) {
      const glyph = glyphs.get(char, size, colour, outline);
      if (!glyph) continue;
      this.blend(glyph, pen - outline, baseline - glyph.ascent);
      pen += glyph.advance - outline;
    }
  }

  private blend(glyph: Glyph, left: number, top: number): void {
    const { rgba, width, height } = glyph;
    for (let gy = Math.max(0, -top); gy < height && top + gy < this.height; gy++) {
      for (let gx = Math.max(0, -left); gx < width && left + gx < this.width; gx++) {
        const g = (gy * width + gx) * 4;
        const alpha = rgba[g + 3];
        if (alpha === 0) continue;
        const i = ((top + gy) * this.width + left + gx) * 3;
        for (let c = 0; c < 3; c++) this.pixels[i + c] = (rgba[g + c] * alpha + this.pixels[i + c] * (255 - alpha) + 127) / 255;
      }
    }
  }
}
