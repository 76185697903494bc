/**
 * Reads `metadata_props` from an ONNX file. ONNX Runtime's Node binding does not expose custom metadata,
 * and Ultralytics exports keep the class names (`names`) and input size (`imgsz`) there.
 *
 * ModelProto is protobuf; its metadata entries are top-level field 14, each a {key = 1, value = 2}
 * string pair. Every other top-level field (the graph is most of the file) is skipped by its length.
 */
const METADATA_PROPS_FIELD = 14;

class ProtoReader {
  offset = 0;
  constructor(private readonly bytes: Uint8Array, private readonly end = bytes.length) {}

  get done(): boolean {
    return this.offset >= this.end;
  }

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.offset++];
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw new Error('varint too long');
  }

  /** Returns [start, end) of a length-delimited field's payload and moves past it. */
  lengthDelimited(): [number, number] {
    const length = this.varint();
    const start = this.offset;
    this.offset += length;
    if (this.offset > this.end) throw new Error('truncated field');
    return [start, this.offset];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0: this.varint(); return;
      case 1: this.offset += 8; return;
      case 2: this.lengthDelimited(); return;
      case 5: this.offset += 4; return;
      default: throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
}

export function readOnnxMetadata(model: Uint8Array): Map<string, string> {
  const text = new TextDecoder();
  const metadata = new Map<string, string>();
  const reader = new ProtoReader(model);
  while (!reader.done) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field !== METADATA_PROPS_FIELD || wireType !== 2) {
      reader.skip(wireType);
      continue;
    }
    const [start, end] = reader.lengthDelimited();
    const entry = new ProtoReader(model, end);
    entry.offset = start;
    let key = '';
    let value = '';
    while (!entry.done) {
      const entryTag = entry.varint();
      if ((entryTag & 7) !== 2) {
        entry.skip(entryTag & 7);
        continue;
      }
      const [s, e] = entry.lengthDelimited();
      if (entryTag >> 3 === 1) key = text.decode(model.subarray(s, e));
      else if (entryTag >> 3 === 2) value = text.decode(model.subarray(s, e));
    }
    metadata.set(key, value);
  }
  return metadata;
}

/** Parses Ultralytics' `names` entry, a Python dict literal such as `{0: 'person', 1: "kid's bike"}`. */
export function parseClassNames(literal: string): string[] {
  const names: string[] = [];
  const entry = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  for (const match of literal.matchAll(entry)) {
    names[Number(match[1])] = (match[2] ?? match[3]).replace(/\\(.)/g, '$1');
  }
  return names;
}

/** Parses `imgsz`, e.g. `[640, 640]` (height, width). */
export function parseImageSize(literal: string): [height: number, width: number] | null {
  const numbers = literal.match(/\d+/g)?.map(Number) ?? [];
  if (numbers.length === 1) return [numbers[0], numbers[0]];
  if (numbers.length === 2) return [numbers[0], numbers[1]];
  return null;
}
