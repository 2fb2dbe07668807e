import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { RecordUsageResponseSchema } from "../../gen/ts/billing/v1/usage_service_pb.js";
import type { PlannedSend, SimulatedEvent } from "../../src/simulate/event-plan.js";
import { createObservations } from "../../src/simulate/observations.js";

let sequence = 0;
function send(event: Partial<SimulatedEvent>, duplicate = false): PlannedSend {
  const full: SimulatedEvent = { requestId: `e${sequence}`, customerId: "c0", meterKey: "m0", quantity: "1.5", eventTimeMs: undefined, kind: "fresh", attributes: {}, dimensions: {}, ...event };
  return { sequence: sequence++, event: full, duplicate };
}

function answer(planned: PlannedSend, replayed: boolean, changes: { id?: string; quantity?: string; period?: string; eventTimeMs?: number } = {}) {
  const { event } = planned;
  const eventTimeMs = changes.eventTimeMs ?? event.eventTimeMs;
  return create(RecordUsageResponseSchema, {
    replayed,
    record: {
      id: changes.id ?? `rec-${event.requestId}`,
      requestId: event.requestId,
      meterKey: event.meterKey,
      quantity: changes.quantity ?? event.quantity,
      period: changes.period ?? "2026-11",
      eventTime: eventTimeMs === undefined ? undefined : timestampFromMs(eventTimeMs),
    },
  });
}

describe("createObservations", () => {
  it("expects each accepted event once, whatever its duplicates, and nothing of refused or unanswered ones", () => {
    const observations = createObservations();
    const first = send({ customerId: "c0", quantity: "1.5" });
    const again = { ...send({}), event: first.event, duplicate: true };
    const other = send({ customerId: "c0", quantity: "2.25" });
    const refused = send({ kind: "bad-quantity", quantity: "-1" });
    const lost = send({ quantity: "100" });
    for (const planned of [first, again, other, refused, lost]) observations.sent(planned);
    observations.acknowledged(first, answer(first, false));
    observations.acknowledged(again, answer(first, true));
    observations.acknowledged(other, answer(other, false));
    observations.refused(refused, { code: "INVALID_ARGUMENT", reason: "INVALID_QUANTITY" });
    observations.itemError(lost, { code: Code.Unavailable, reason: "" });
    const [usage, ...rest] = observations.expectedUsage();
    assert.deepEqual(rest, []);
    assert.equal(usage!.sum.toString(), "3.75");
    assert.equal(usage!.count, 2);
    const report = observations.report();
    assert.deepEqual([report.acknowledged, report.replayed, report.sends.duplicates], [3, 1, 1]);
    assert.deepEqual(report.refusedByReason, { INVALID_QUANTITY: 1 });
    assert.deepEqual(report.failedByCode, { UNAVAILABLE: 1 });
    assert.deepEqual(report.badInput, { events: 1, refusedAsExpected: 1, misjudged: [] });
    assert.equal(report.anomalyCount, 0);
    assert.deepEqual(observations.unknownEvents(), [lost.event]);

    observations.reconciled(lost.event, { response: answer(lost, true) });
    assert.deepEqual(observations.unknownEvents(), []);
    assert.equal(observations.expectedUsage()[0]!.sum.toString(), "103.75", "a re-sent event found recorded counts once");
  });

  it("notices broken promises: recorded twice, two records for one id, a changed quantity, a late event in another period, a valid event refused", () => {
    const observations = createObservations();
    const twice = send({});
    observations.acknowledged(twice, answer(twice, false));
    observations.acknowledged(twice, answer(twice, false));
    const twoRecords = send({});
    observations.acknowledged(twoRecords, answer(twoRecords, false));
    observations.acknowledged(twoRecords, answer(twoRecords, true, { id: "rec-other" }));
    const changed = send({ quantity: "1.5" });
    observations.acknowledged(changed, answer(changed, false, { quantity: "1.4" }));
    const late = send({ kind: "late", eventTimeMs: Date.UTC(2026, 10, 2) });
    observations.acknowledged(late, answer(late, false, { period: "2026-10" }));
    const valid = send({});
    observations.refused(valid, { code: "ALREADY_EXISTS", reason: "REQUEST_ID_REUSED" });
    const { anomalyCount, anomalies } = observations.report();
    assert.equal(anomalyCount, 5, anomalies.join("\n"));
    assert.match(anomalies.join("\n"), /recorded twice[\s\S]*two records[\s\S]*recorded as m0 1.4[\s\S]*landed in period 2026-10[\s\S]*REQUEST_ID_REUSED/);
  });

  it("reports bad input that was accepted, refused for another reason, or never answered", () => {
    const observations = createObservations();
    const accepted = send({ kind: "unknown-meter" });
    const wrongReason = send({ kind: "future-time", eventTimeMs: Date.UTC(2030, 0, 1) });
    const unanswered = send({ kind: "bad-quantity" });
    for (const planned of [accepted, wrongReason, unanswered]) observations.sent(planned);
    observations.acknowledged(accepted, answer(accepted, false));
    observations.refused(wrongReason, { code: "FAILED_PRECONDITION", reason: "BILL_FINALIZED" });
    observations.failed(unanswered, "DEADLINE_EXCEEDED");
    const { badInput } = observations.report();
    assert.equal(badInput.refusedAsExpected, 0);
    assert.deepEqual(
      badInput.misjudged.map(({ kind, expected, got }) => [kind, expected, got]),
      [
        ["unknown-meter", "METER_NOT_FOUND", `accepted as rec-${accepted.event.requestId}`],
        ["future-time", "EVENT_TIME_OUT_OF_RANGE", "FAILED_PRECONDITION BILL_FINALIZED"],
        ["bad-quantity", "INVALID_QUANTITY", "no answer"],
      ],
    );
    assert.deepEqual(observations.expectedUsage(), [], "accepted bad input is not expected on a bill");
  });
});
