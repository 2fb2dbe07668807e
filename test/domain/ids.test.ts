import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validate, version } from "uuid";
import { newId } from "../../src/domain/ids.js";

describe("newId", () => {
  it("is the prefix and a UUIDv7 as 32 hex digits, different every time", () => {
    const ids = Array.from({ length: 2000 }, () => newId("rec"));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) {
      assert.match(id, /^rec_[0-9a-f]{32}$/);
      const hex = id.slice(4);
      const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      assert.ok(validate(uuid), uuid);
      assert.equal(version(uuid), 7);
    }
  });

  it("starts with the creation time in milliseconds, so ids sort by it", () => {
    const before = Date.now();
    const id = newId("cus");
    const after = Date.now();
    const millis = Number.parseInt(id.slice(4, 16), 16);
    assert.ok(millis >= before && millis <= after, `${millis} not in [${before}, ${after}]`);
    assert.ok(newId("cus").slice(4, 16) >= id.slice(4, 16));
  });
});
