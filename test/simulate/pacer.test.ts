import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPacer } from "../../src/simulate/pacer.js";

describe("createPacer", () => {
  it("steady with a rate: send i is due at i / rate", () => {
    const pacer = createPacer({ rate: 200, scenario: "steady", burstMs: 1000, pauseMs: 1000 });
    assert.equal(pacer.dueMs(0, 0), 0);
    assert.equal(pacer.dueMs(100, 0), 500);
    assert.equal(pacer.dueMs(100, 800), 800, "a send already late goes at once");
  });

  it("burst without a rate: at once during a burst, at the next burst during a pause", () => {
    const pacer = createPacer({ rate: undefined, scenario: "burst", burstMs: 300, pauseMs: 700 });
    assert.equal(pacer.dueMs(5, 250), 250);
    assert.equal(pacer.dueMs(5, 300), 1000);
    assert.equal(pacer.dueMs(5, 1999), 2000);
  });

  it("burst with a rate: never due in a pause, and the average stays the rate", () => {
    const pacer = createPacer({ rate: 100, scenario: "burst", burstMs: 250, pauseMs: 750 });
    const dues = Array.from({ length: 1000 }, (_, index) => pacer.dueMs(index, 0));
    assert.ok(dues.every((due) => due % 1000 < 250), "every send falls in a burst");
    assert.ok(Math.abs(dues.at(-1)! - 9_990) < 1000, `1000 sends at 100/s end near 10 s, not at ${dues.at(-1)}`);
  });
});
