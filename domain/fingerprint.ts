// 64-bit fingerprint of an order id as two 32-bit halves: the de-duplication key in memory and in storage.

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Two independent murmur3-style 32-bit hashes of the id's characters. Ids are ASCII by contract, so characters
 * are bytes and the string and byte forms agree. Returns [hi, lo]; the pair (0, 0) is mapped to (0, 1) because
 * 0 marks empty slots.
 */
export function fingerprint(id: string): [number, number] {
  fingerprintInto(id, scratch);
  return [scratch[0]!, scratch[1]!];
}

const scratch = new Uint32Array(2);
let codes = new Uint8Array(64);

/** The same fingerprint written into `out` ([hi, lo]); the allocation-free form for the ingest hot path. */
export function fingerprintInto(id: string, out: Uint32Array): void {
  if (id.length > codes.length) codes = new Uint8Array(id.length * 2);
  for (let i = 0; i < id.length; i++) codes[i] = id.charCodeAt(i);
  fingerprintBytesInto(codes, 0, id.length, out);
}

/** The fingerprint of an ASCII id given as bytes [start, end): equal to fingerprintInto of the same text. */
export function fingerprintBytesInto(bytes: Uint8Array, start: number, end: number, out: Uint32Array): void {
  const len = end - start;
  let a = 0x9747b28c ^ len;
  let b = 0x5bd1e995 ^ Math.imul(len, 0x27d4eb2f);
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    a = Math.imul(a ^ c, 0xcc9e2d51);
    a = (a << 15) | (a >>> 17);
    a = Math.imul(a, 0x1b873593);
    b = Math.imul(b ^ c, 0x85ebca77);
    b = (b << 13) | (b >>> 19);
    b = Math.imul(b, 0xc2b2ae3d) + 0x27d4eb2f;
  }
  const hi = mix(a ^ Math.imul(b, 0x165667b1));
  let lo = mix(b ^ (a >>> 7));
  if (hi === 0 && lo === 0) lo = 1;
  out[0] = hi;
  out[1] = lo;
}
