/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix time in milliseconds, the version and
 * variant bits, and 74 random bits, so request ids are unique and sort by the
 * time they were made. Written here rather than taken from the uuid package
 * so that the client depends on connect and protobuf-es only. It draws from
 * crypto.getRandomValues, which Node 20 and every browser have, also on pages
 * served over plain http (unlike crypto.randomUUID).
 */
export function uuidV7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  for (let i = 0; i < 6; i++) {
    bytes[5 - i] = Math.floor(now / 2 ** (8 * i)) % 256;
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
