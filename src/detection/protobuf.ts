/**
 * Protobuf messages as lists of fields, enough to edit an ONNX file: decode a message, change or drop some fields,
 * encode it again. Fields not touched keep their bytes, so nothing this code does not know is lost.
 */
export interface ProtoField {
  field: number;
  wire: number;
  /** The value of a varint field (wire type 0). */
  varint: bigint;
  /** The payload of a length-delimited field (wire type 2), or the 8 or 4 bytes of a fixed-size one. */
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function decodeFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= bytes.length) throw new Error('truncated varint');
      const byte = bytes[offset++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    throw new Error('varint too long');
  };
  const take = (length: number): Uint8Array => {
    if (offset + length > bytes.length) throw new Error('truncated field');
    return bytes.subarray(offset, (offset += length));
  };
  while (offset < bytes.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) fields.push({ field, wire, varint: varint(), bytes: EMPTY });
    else if (wire === 1) fields.push({ field, wire, varint: 0n, bytes: take(8) });
    else if (wire === 2) fields.push({ field, wire, varint: 0n, bytes: take(Number(varint())) });
    else if (wire === 5) fields.push({ field, wire, varint: 0n, bytes: take(4) });
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return fields;
}

function encodeVarint(value: bigint, out: number[]): void {
  // Negative int64 values are written as their 64-bit two's complement, as protobuf does.
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

export function encodeFields(fields: readonly ProtoField[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const { field, wire, varint, bytes } of fields) {
    const head: number[] = [];
    encodeVarint(BigInt((field << 3) | wire), head);
    if (wire === 0) encodeVarint(varint, head);
    else if (wire === 2) encodeVarint(BigInt(bytes.length), head);
    chunks.push(Uint8Array.from(head));
    if (wire !== 0) chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

export const varintField = (field: number, value: bigint | number): ProtoField => ({ field, wire: 0, varint: BigInt(value), bytes: EMPTY });
export const bytesField = (field: number, bytes: Uint8Array): ProtoField => ({ field, wire: 2, varint: 0n, bytes });
export const stringField = (field: number, text: string): ProtoField => bytesField(field, new TextEncoder().encode(text));
export const messageField = (field: number, fields: readonly ProtoField[]): ProtoField => bytesField(field, encodeFields(fields));

export const textOf = (field: ProtoField): string => new TextDecoder().decode(field.bytes);

/** The values of a repeated varint field, written packed or one by one. */
export function repeatedVarints(fields: readonly ProtoField[], number: number): bigint[] {
  const values: bigint[] = [];
  for (const f of fields) {
    if (f.field !== number) continue;
    if (f.wire === 0) values.push(f.varint);
    else if (f.wire === 2) values.push(...decodePacked(f.bytes));
  }
  return values;
}

function decodePacked(bytes: Uint8Array): bigint[] {
  const values: bigint[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (offset >= bytes.length || shift > 63n) throw new Error('truncated packed varint');
      const byte = bytes[offset++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    values.push(result);
  }
  return values;
}
