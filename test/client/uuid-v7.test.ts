import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uuidV7 } from "../../clients/typescript/src/uuid-v7.js";

describe("uuidV7", () => {
  it("is an RFC 9562 version 7 UUID whose first 48 bits are the time in milliseconds", () => {
    const now = Date.UTC(2026, 10, 3, 12, 0, 0, 123);
    const id = uuidV7(now);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
  });

  it("differs between calls in the same millisecond and sorts by time across milliseconds", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => uuidV7(1_700_000_000_000)));
    assert.equal(ids.size, 1000);
    assert.ok(uuidV7(1_700_000_000_000) < uuidV7(1_700_000_000_001));
  });
});
