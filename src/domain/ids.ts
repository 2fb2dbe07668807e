import { v7 as uuidv7 } from "uuid";

/**
 * A new resource id such as "cus_0190f3c2a1b27c3e8d45f0a1b2c3d4e5": a prefix
 * naming the kind, then a UUIDv7 without dashes, so ids sort by creation time.
 */
export function newId(prefix: "cus" | "price" | "rec"): string {
  return `${prefix}_${uuidv7().replaceAll("-", "")}`;
}
