import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { RecordUsageResponse } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { periodOf } from "../domain/billing-period.js";
import { Decimal } from "../domain/decimal.js";
import { type BadInputKind, EXPECTED_REASONS, type PlannedSend, type SimulatedEvent } from "./event-plan.js";
import { createLatencyHistogram, type LatencySummary } from "./latency-histogram.js";

/** A definitive refusal: the server judged the event and recorded nothing. */
export interface Refusal {
  /** The status code's name, e.g. "INVALID_ARGUMENT". */
  code: string;
  /** The server's reason, e.g. "INVALID_QUANTITY"; the code's name when it gave none. */
  reason: string;
}

/** What the run sent, by kind. */
export interface SendCounts {
  /** Every send, duplicates and bad input included. */
  sent: number;
  fresh: number;
  late: number;
  duplicates: number;
  badInput: Record<BadInputKind, number>;
}

/** How the server treated the bad input. */
export interface BadInputReport {
  events: number;
  refusedAsExpected: number;
  /** Bad events accepted, refused for another reason, or never answered. */
  misjudged: { requestId: string; kind: BadInputKind; expected: string; got: string }[];
}

/** The events whose outcome was unknown after the load, sent again to learn it. */
export interface ReconcileReport {
  events: number;
  acknowledged: number;
  refused: number;
  /** Still unknown after the re-send: the bill check cannot account for them. */
  unresolved: number;
}

/** Everything observed of the server's answers. */
export interface ObservationReport {
  sends: SendCounts;
  /** Sends answered with a record, new or replayed. */
  acknowledged: number;
  /** Of those, the ones answered `replayed = true`. */
  replayed: number;
  refusedByReason: Record<string, number>;
  /** Sends that ended without an answer (transport failure, or the client gave up), by code. */
  failedByCode: Record<string, number>;
  calls: number;
  retries: number;
  latency: LatencySummary;
  badInput: BadInputReport;
  reconciled: ReconcileReport;
  /** How many broken promises were seen in the answers themselves: a valid event refused, recorded twice, or recorded differently. */
  anomalyCount: number;
  /** The first of them, described. */
  anomalies: string[];
}

/** What one (customer, meter, period) must bill: the aggregation of the distinct accepted events. */
export interface ExpectedUsage {
  customerId: string;
  meterKey: string;
  period: string;
  /** The line's values of the meter's dimensions; {} for a meter without dimensions. */
  dimensions: Record<string, string>;
  /** The sum of the quantities. */
  sum: Decimal;
  /** The number of distinct events. */
  count: number;
  /** The distinct values of the events' attributes, by attribute key (what a UNIQUE_COUNT meter counts). */
  valuesOf: Map<string, Set<string>>;
  /** The greatest event_time sent (events left to the server's clock are not counted), and the quantities sent with it. */
  latest: { eventTimeMs: number; quantities: Decimal[] } | undefined;
}

/** Collects every answer of a run and judges it. */
export type Observations = ReturnType<typeof createObservations>;

interface EventState {
  event: SimulatedEvent;
  recordId: string | undefined;
  /** Answers with replayed = false: more than one breaks exactly-once. */
  recordedTimes: number;
  period: string | undefined;
  refusal: Refusal | undefined;
  /** A send of it ended without an answer. */
  unknown: boolean;
}

/** The most anomalies described one by one; beyond it they are only counted. */
const MAX_ANOMALY_DETAILS = 50;

/** Item error codes that mean "not judged": the event may be sent again, as the client library would retry them. */
const TRANSIENT_CODES = new Set([Code.Unavailable, Code.ResourceExhausted, Code.Aborted, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.Canceled]);

/**
 * Keeps one state per request_id and the counters of the summary. Every mode
 * reports each send's answer here: acknowledged (with the record), refused
 * (with the reason), or failed (no answer; the event is reconciled later).
 */
export function createObservations() {
  const events = new Map<string, EventState>();
  const sends: SendCounts = { sent: 0, fresh: 0, late: 0, duplicates: 0, badInput: { "bad-quantity": 0, "unknown-meter": 0, "future-time": 0 } };
  const refusedByReason: Record<string, number> = {};
  const failedByCode: Record<string, number> = {};
  const reconciled: ReconcileReport = { events: 0, acknowledged: 0, refused: 0, unresolved: 0 };
  const latency = createLatencyHistogram();
  const anomalies: string[] = [];
  let anomalyCount = 0;
  let acknowledged = 0;
  let replayed = 0;
  let failed = 0;
  let retries = 0;

  const stateOf = (event: SimulatedEvent): EventState => {
    let state = events.get(event.requestId);
    if (state === undefined) {
      state = { event, recordId: undefined, recordedTimes: 0, period: undefined, refusal: undefined, unknown: false };
      events.set(event.requestId, state);
    }
    return state;
  };

  function anomaly(text: string): void {
    anomalyCount++;
    if (anomalies.length < MAX_ANOMALY_DETAILS) anomalies.push(text);
  }

  function accept(state: EventState, response: RecordUsageResponse): void {
    const { event } = state;
    const record = response.record;
    if (record === undefined) {
      anomaly(`${event.requestId}: acknowledged without a record`);
      return;
    }
    if (state.recordId !== undefined && state.recordId !== record.id) {
      anomaly(`${event.requestId}: answered with two records, ${state.recordId} and ${record.id}`);
    }
    state.recordId ??= record.id;
    state.period ??= record.period;
    state.unknown = false;
    if (!response.replayed && ++state.recordedTimes === 2) anomaly(`${event.requestId}: recorded twice (two answers with replayed = false)`);
    if (state.refusal !== undefined) anomaly(`${event.requestId}: both refused (${state.refusal.reason}) and acknowledged`);
    if (event.kind !== "fresh" && event.kind !== "late") return; // bad input accepted: judged in badInputReport
    const quantity = Decimal.parse(record.quantity);
    if (quantity === undefined || !quantity.equals(Decimal.parse(event.quantity)!) || record.meterKey !== event.meterKey) {
      anomaly(`${event.requestId}: recorded as ${record.meterKey} ${record.quantity}, sent as ${event.meterKey} ${event.quantity}`);
    }
    if (event.eventTimeMs !== undefined) {
      const recordedTime = record.eventTime === undefined ? undefined : timestampMs(record.eventTime);
      if (recordedTime !== event.eventTimeMs) anomaly(`${event.requestId}: event_time recorded as ${recordedTime}, sent as ${event.eventTimeMs}`);
      if (record.period !== periodOf(event.eventTimeMs)) {
        anomaly(`${event.requestId}: a late event of ${periodOf(event.eventTimeMs)} landed in period ${record.period}`);
      }
    }
  }

  function refuse(state: EventState, refusal: Refusal): void {
    const { event } = state;
    state.unknown = false;
    state.refusal ??= refusal;
    if (event.kind === "fresh" || event.kind === "late") {
      anomaly(`${event.requestId}: a valid ${event.kind} event was refused with ${refusal.code} ${refusal.reason}`);
    }
  }

  return {
    /** A send leaves. */
    sent(send: PlannedSend): void {
      sends.sent++;
      const { kind } = send.event;
      if (send.duplicate) sends.duplicates++;
      else if (kind === "fresh" || kind === "late") sends[kind]++;
      else sends.badInput[kind]++;
      stateOf(send.event);
    },

    /** The server answered a send with a record. */
    acknowledged(send: PlannedSend, response: RecordUsageResponse): void {
      acknowledged++;
      if (response.replayed) replayed++;
      accept(stateOf(send.event), response);
    },

    /** The server refused a send; nothing was recorded. */
    refused(send: PlannedSend, refusal: Refusal): void {
      refusedByReason[refusal.reason] = (refusedByReason[refusal.reason] ?? 0) + 1;
      refuse(stateOf(send.event), refusal);
    },

    /** A send ended without an answer: it may or may not have been recorded. */
    failed(send: PlannedSend, code: string): void {
      failed++;
      failedByCode[code] = (failedByCode[code] ?? 0) + 1;
      stateOf(send.event).unknown = true;
    },

    /** One item of a batch or stream answer that is an error: a refusal, or a transient failure. */
    itemError(send: PlannedSend, error: { code: number; reason: string }): void {
      const code = codeName(error.code);
      if (TRANSIENT_CODES.has(error.code)) this.failed(send, code);
      else this.refused(send, { code, reason: error.reason || code });
    },

    /** A broken promise of the API that a sender noticed itself, e.g. a stream answering out of order. */
    violation(description: string): void {
      anomaly(description);
    },

    /** One call (of any mode) took `latencyMs`, retries included. */
    call(latencyMs: number): void {
      latency.record(latencyMs);
    },

    retried(): void {
      retries++;
    },

    /** Valid events (fresh or late) that were sent but never acknowledged, whatever else happened to them. */
    unacknowledgedValidEvents(): number {
      let count = 0;
      for (const { event, recordId } of events.values()) if ((event.kind === "fresh" || event.kind === "late") && recordId === undefined) count++;
      return count;
    },

    /** Events sent whose outcome is still unknown: neither acknowledged nor refused. */
    unknownEvents(): SimulatedEvent[] {
      return [...events.values()].filter((state) => state.unknown && state.recordId === undefined && state.refusal === undefined).map((state) => state.event);
    },

    /** The answer to a reconciling re-send: settles the event without counting as load. */
    reconciled(event: SimulatedEvent, outcome: { response: RecordUsageResponse } | { refusal: Refusal } | { failed: string }): void {
      reconciled.events++;
      const state = stateOf(event);
      if ("response" in outcome) {
        reconciled.acknowledged++;
        accept(state, outcome.response);
      } else if ("refusal" in outcome) {
        reconciled.refused++;
        refuse(state, outcome.refusal);
      } else {
        reconciled.unresolved++;
      }
    },

    /** The request ids the run saw recorded (acknowledged, by a send or a re-send). */
    recordedRequestIds(): string[] {
      return [...events.values()].filter((state) => state.recordId !== undefined).map((state) => state.event.requestId);
    },

    /** For the progress display. */
    progress(): { sent: number; settled: number; acknowledged: number; refused: number; failed: number } {
      const refused = Object.values(refusedByReason).reduce((sum, count) => sum + count, 0);
      return { sent: sends.sent, settled: acknowledged + refused + failed, acknowledged, refused, failed };
    },

    /** The aggregation every (customer, meter, period) must bill: each accepted event counted once. */
    expectedUsage(): ExpectedUsage[] {
      const byKey = new Map<string, ExpectedUsage>();
      for (const state of events.values()) {
        const { event } = state;
        if (state.recordId === undefined || state.period === undefined || (event.kind !== "fresh" && event.kind !== "late")) continue;
        const key = `${event.customerId}\u0000${event.meterKey}\u0000${state.period}\u0000${JSON.stringify(event.dimensions)}`;
        const usage = byKey.get(key) ?? {
          customerId: event.customerId,
          meterKey: event.meterKey,
          period: state.period,
          dimensions: event.dimensions,
          sum: Decimal.ZERO,
          count: 0,
          valuesOf: new Map<string, Set<string>>(),
          latest: undefined,
        };
        const quantity = Decimal.parse(event.quantity)!;
        usage.sum = usage.sum.add(quantity);
        usage.count++;
        for (const [attribute, value] of Object.entries(event.attributes)) {
          const values = usage.valuesOf.get(attribute) ?? new Set<string>();
          usage.valuesOf.set(attribute, values.add(value));
        }
        if (event.eventTimeMs !== undefined) {
          if (usage.latest === undefined || event.eventTimeMs > usage.latest.eventTimeMs) usage.latest = { eventTimeMs: event.eventTimeMs, quantities: [quantity] };
          else if (event.eventTimeMs === usage.latest.eventTimeMs) usage.latest.quantities.push(quantity);
        }
        byKey.set(key, usage);
      }
      return [...byKey.values()];
    },

    report(): ObservationReport {
      const badInput: BadInputReport = { events: 0, refusedAsExpected: 0, misjudged: [] };
      for (const { event, recordId, refusal } of events.values()) {
        if (event.kind === "fresh" || event.kind === "late") continue;
        badInput.events++;
        const expected = EXPECTED_REASONS[event.kind];
        if (recordId === undefined && refusal?.reason === expected) {
          badInput.refusedAsExpected++;
          continue;
        }
        const got = recordId !== undefined ? `accepted as ${recordId}` : refusal !== undefined ? `${refusal.code} ${refusal.reason}` : "no answer";
        badInput.misjudged.push({ requestId: event.requestId, kind: event.kind, expected, got });
      }
      const hiddenAnomalies = anomalyCount - anomalies.length;
      return {
        sends: structuredClone(sends),
        acknowledged,
        replayed,
        refusedByReason: sortedRecord(refusedByReason),
        failedByCode: sortedRecord(failedByCode),
        calls: latency.summary().calls,
        retries,
        latency: latency.summary(),
        badInput,
        reconciled: { ...reconciled },
        anomalyCount,
        anomalies: hiddenAnomalies > 0 ? [...anomalies, `... and ${hiddenAnomalies} more`] : [...anomalies],
      };
    },
  };
}

/** "INVALID_ARGUMENT" for Code.InvalidArgument: the names gRPC uses, as BillingError.codeName does. */
export function codeName(code: number): string {
  const name = (Code as unknown as Record<number, string | undefined>)[code];
  return name === undefined ? `CODE_${code}` : name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function sortedRecord(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
