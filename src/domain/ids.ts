import { v7 as uuidv7 } from "uuid";

/** Random bytes drawn from the system's generator a page at a time: one call per 256 ids, not one per id. */
const pool = new Uint8Array(4096);
let used = pool.length;

function randomBytes16(): Uint8Array {
  if (used + 16 > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  used += 16;
  return pool.slice(used - 16, used);
}

/**
 * A new resource id such as "cus_0190f3c2a1b27c3e8d45f0a1b2c3d4e5": a prefix
 * naming the kind, then a UUIDv7 without dashes, so ids sort by creation time.
 */
export function newId(prefix: "cus" | "price" | "rec"): string {
  return `${prefix}_${uuidv7({ rng: randomBytes16 }).replaceAll("-", "")}`;
}
