/**
 * The columns of a YOLOv8 output [batch, 4 + classes, anchors] with any class score above `threshold`, image by
 * image, in their order: a [channels × kept] block per image, one after the other.
 */
export function keepAnchors(output: Float32Array, batch: number, channels: number, anchors: number, threshold: number): { data: Float32Array; kept: number[] } {
  const columns: Uint32Array[] = [];
  const above = new Uint8Array(anchors);
  for (let b = 0; b < batch; b++) {
    above.fill(0);
    const image = b * channels * anchors;
    for (let c = 4; c < channels; c++) {
      const row = image + c * anchors;
      for (let a = 0; a < anchors; a++) if (output[row + a] > threshold) above[a] = 1;
    }
    const kept: number[] = [];
    for (let a = 0; a < anchors; a++) if (above[a]) kept.push(a);
    columns.push(Uint32Array.from(kept));
  }
  const data = new Float32Array(channels * columns.reduce((sum, kept) => sum + kept.length, 0));
  let at = 0;
  columns.forEach((kept, b) => {
    const image = b * channels * anchors;
    for (let c = 0; c < channels; c++) {
      const row = image + c * anchors;
      for (let i = 0; i < kept.length; i++) data[at++] = output[row + kept[i]];
    }
  });
  return { data, kept: columns.map((kept) => kept.length) };
}
