import { v7 as uuidv7 } from "uuid";

/** Random bytes drawn from the system's generator a page at a time: one call per 256 ids, not one per id. */
const pool = new Uint8Array(4096);
let used = pool.length;

// uuid writes each id's bytes into `idBytes`, from the random bytes copied
// into `random` (both reused): making an id allocates only its string.
const random = new Uint8Array(16);
const options = { random };
const idBytes = Buffer.alloc(16);

/**
 * A new resource id such as "cus_0190f3c2a1b27c3e8d45f0a1b2c3d4e5": a prefix
 * naming the kind, then a UUIDv7 as 32 hex digits, so ids sort by creation
 * time (to the millisecond).
 */
export function newId(prefix: "cus" | "price" | "rec" | "alert" | "credit"): string {
  if (used + 16 > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  for (let index = 0; index < 16; index++) random[index] = pool[used + index]!;
  used += 16;
  uuidv7(options, idBytes);
  return `${prefix}_${idBytes.toString("hex")}`;
}
