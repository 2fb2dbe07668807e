import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createEventPlan, EXPECTED_REASONS, type PlannedSend, type ServerTime } from "../../src/simulate/event-plan.js";
import { createRandom } from "../../src/simulate/random.js";
import { planCatalog } from "../../src/simulate/simulated-catalog.js";

const NOW = Date.UTC(2026, 10, 15, 12);
const serverTime: ServerTime = { period: "2026-11", periodStartMs: Date.UTC(2026, 10, 1), periodEndMs: Date.UTC(2026, 11, 1), nowMs: () => NOW };
const catalog = planCatalog("plan", 3, 4);

function plan(seed: string, count: number, time = serverTime): PlannedSend[] {
  const events = createEventPlan({ catalog, random: createRandom(seed), serverTime: time, duplicatesPercent: 20, latePercent: 20, badInputPercent: 20 });
  return Array.from({ length: count }, (_, sequence) => events.next(sequence));
}

describe("createEventPlan", () => {
  it("makes the same sends from the same seed, and others from another", () => {
    assert.deepEqual(plan("a", 500), plan("a", 500));
    assert.notDeepEqual(plan("a", 500), plan("b", 500));
  });

  it("mixes the kinds in about the proportions asked for", () => {
    const sends = plan("mix", 5000);
    const share = (test: (send: PlannedSend) => boolean) => sends.filter(test).length / sends.length;
    const bad = (send: PlannedSend) => send.event.kind in EXPECTED_REASONS;
    for (const [name, fraction] of [
      ["duplicates", share((send) => send.duplicate)],
      ["late", share((send) => !send.duplicate && send.event.kind === "late")],
      ["bad input", share(bad)],
    ] as const) {
      assert.ok(Math.abs(fraction - 0.2) < 0.03, `${name}: ${fraction}`);
    }
    assert.ok(sends.filter((send) => send.duplicate).every((send) => !bad(send)), "only valid events are duplicated");
  });

  it("duplicates repeat an earlier event exactly, request_id included", () => {
    const sends = plan("dup", 2000);
    const first = new Map(sends.filter((send) => !send.duplicate).map((send) => [send.event.requestId, send]));
    for (const send of sends.filter((candidate) => candidate.duplicate)) {
      const original = first.get(send.event.requestId);
      assert.ok(original !== undefined && original.sequence < send.sequence);
      assert.equal(original.event, send.event);
    }
  });

  it("puts late events in the server's period, at least a minute before its now, and future ones past the 5 minutes allowed", () => {
    const gaugeTimes = new Set<number>();
    for (const send of plan("time", 3000)) {
      const { kind, eventTimeMs, meterKey } = send.event;
      const latest = catalog.meters.find((meter) => meter.key === meterKey)?.aggregation === "latest";
      if (kind === "late" || (latest && kind !== "future-time")) assert.ok(eventTimeMs! >= serverTime.periodStartMs && eventTimeMs! <= NOW - 60_000);
      else if (kind === "future-time") assert.ok(eventTimeMs! > NOW + 5 * 60_000);
      // (An unknown meter's event may have been planned for the LATEST meter, with its time.)
      else if (kind !== "unknown-meter") assert.equal(eventTimeMs, undefined);
      if (latest && !send.duplicate && kind !== "future-time") {
        // Each event of a LATEST meter has a time of its own, so which one is the latest never depends on commit order.
        assert.ok(!gaugeTimes.has(eventTimeMs!), `event time ${eventTimeMs} given twice`);
        gaugeTimes.add(eventTimeMs!);
      }
    }
    assert.ok(gaugeTimes.size > 50);
  });

  it("sends each meter's dimensions and unique attribute, so no valid event is refused DIMENSION_REQUIRED", () => {
    for (const { event } of plan("attributes", 2000)) {
      const meter = catalog.meters.find((candidate) => candidate.key === event.meterKey);
      if (meter === undefined) continue;
      for (const dimension of meter.dimensions) assert.equal(event.attributes[dimension], event.dimensions[dimension]);
      assert.deepEqual(Object.keys(event.dimensions), meter.dimensions);
      if (meter.uniqueAttribute !== undefined) assert.match(event.attributes[meter.uniqueAttribute.key]!, /^u\d+$/);
    }
  });

  it("never puts a late event before the period, even in its first minute", () => {
    const early: ServerTime = { ...serverTime, nowMs: () => serverTime.periodStartMs + 10_000 };
    const late = plan("early", 1000, early).filter((send) => send.event.kind === "late");
    assert.ok(late.length > 0 && late.every((send) => send.event.eventTimeMs === serverTime.periodStartMs));
  });

  it("makes quantities the meters accept, and bad ones they refuse", () => {
    const acceptable = (quantity: string, precision: number) => {
      const match = /^\d{1,18}(?:\.(\d+))?$/.exec(quantity);
      return match !== null && (match[1]?.length ?? 0) <= precision;
    };
    for (const { event } of plan("quantities", 2000)) {
      const meter = catalog.meters.find((candidate) => candidate.key === event.meterKey);
      if (event.kind === "unknown-meter") assert.equal(meter, undefined);
      else if (event.kind === "bad-quantity") assert.ok(!acceptable(event.quantity, meter!.precision), event.quantity);
      else assert.ok(acceptable(event.quantity, meter!.precision), event.quantity);
    }
  });
});
