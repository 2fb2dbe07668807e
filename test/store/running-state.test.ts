import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import { aggregationKeysOf } from "../../src/domain/dimensions.js";
import type { Meter } from "../../src/domain/meter.js";
import type { NewUsageRecord, UsageTotals } from "../../src/domain/usage-record.js";
import { meterPeriodQuantity, meterQuantityAfter, recordingChanges, type RunningStateView, voidingChanges } from "../../src/store/running-state.js";

/** The running state both stores keep, driven by hand: what a usage limit or a meter alert reads inside a write transaction. */
describe("running state", () => {
  const meter = (aggregation: Meter["aggregation"]): Meter => ({
    key: "m",
    displayName: "m",
    unit: "u",
    aggregation,
    precision: 3,
    uniqueAttribute: aggregation === "unique_count" ? "user" : "",
    dimensions: ["region"],
    createTime: 0,
  });
  const event = (id: string, quantity: string, region: string, user: string, eventTime: number): NewUsageRecord => ({
    id,
    requestId: id,
    customerId: "cus_1",
    meterKey: "m",
    quantity: Decimal.parse(quantity)!,
    eventTime,
    requestedEventTime: eventTime,
    createTime: 0,
    period: "2026-11",
    attributes: { region, user },
  });

  /** A map-backed view that applies changes, as a store's overlay does. */
  function state() {
    const totals = new Map<string, UsageTotals>();
    const live = new Map<string, number>();
    const view: RunningStateView = { totals: (key) => totals.get(key), liveCount: (key) => live.get(key) ?? 0 };
    return {
      view,
      apply(changes: ReturnType<typeof voidingChanges>) {
        for (const [key, value] of changes.totals) totals.set(key, value);
        for (const [key, value] of changes.liveCounts) live.set(key, value);
      },
    };
  }

  for (const [aggregation, expected] of [
    ["sum", ["3", "10", "7"]],
    ["count", ["1", "3", "2"]],
    ["max", ["3", "4", "4"]],
    ["unique_count", ["1", "2", "1"]],
    ["latest", ["3", "3", "4"]],
  ] as const) {
    it(`meterPeriodQuantity reads a ${aggregation} meter's quantity over all its combinations in O(1), before and after each change`, () => {
      const m = meter(aggregation);
      const { view, apply } = state();
      const quantity = () => meterPeriodQuantity(view, "t", "cus_1", "2026-11", m).toString();
      assert.equal(quantity(), "0");
      const events = [event("a", "3", "eu", "ann", 5), event("b", "4", "us", "ann", 10), event("c", "3", "us", "bob", 30)];
      const seen: string[] = [];
      const first = recordingChanges(view, "t", events[0]!, aggregationKeysOf(m, events[0]!.attributes) as never);
      assert.ok(!("reason" in first));
      assert.equal(meterQuantityAfter(first, m).toString(), expected[0]);
      apply(first);
      seen.push(quantity());
      for (const next of events.slice(1)) {
        const changes = recordingChanges(view, "t", next, aggregationKeysOf(m, next.attributes) as never);
        assert.ok(!("reason" in changes));
        apply(changes);
      }
      seen.push(quantity());
      // Voiding c: ann is still counted once (from a and b), the latest goes back to b (10), the one before it.
      const c = { ...events[2]!, voided: false, voidReason: "", voidTime: null };
      const remaining = events.slice(0, 2).map((record) => ({ record: { ...record, voided: false, voidReason: "", voidTime: null }, keys: aggregationKeysOf(m, record.attributes) as never }));
      const voided = voidingChanges(view, "t", c, aggregationKeysOf(m, c.attributes) as never, remaining);
      apply(voided);
      seen.push(quantity());
      assert.deepEqual(seen, [expected[0], expected[1], expected[2]]);
    });
  }
});
