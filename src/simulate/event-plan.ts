import type { Random } from "./random.js";
import type { SimulatedCatalog, SimulatedMeter } from "./simulated-catalog.js";

/** Deliberately invalid events, each refused for its own reason. */
export type BadInputKind = "bad-quantity" | "unknown-meter" | "future-time";

/** What an event is meant to test: a valid event now or earlier in the period, or bad input. */
export type EventKind = "fresh" | "late" | BadInputKind;

/** The reason the server must refuse each kind of bad input with (README, Errors). */
export const EXPECTED_REASONS: Record<BadInputKind, string> = {
  "bad-quantity": "INVALID_QUANTITY",
  "unknown-meter": "METER_NOT_FOUND",
  "future-time": "EVENT_TIME_OUT_OF_RANGE",
};

/** One usage event; its duplicates share the very same object, so they send the same payload. */
export interface SimulatedEvent {
  requestId: string;
  /** The customer's external id. */
  customerId: string;
  meterKey: string;
  quantity: string;
  /** Epoch ms; undefined leaves event_time to the server's receipt time. */
  eventTimeMs: number | undefined;
  kind: EventKind;
  /** Sent as is: the meter's dimensions and unique attribute, and one attribute no meter aggregates by. */
  attributes: Record<string, string>;
  /** The event's values of its meter's dimensions (its bill line); {} for a meter without dimensions. */
  dimensions: Record<string, string>;
}

/** One send of an event: its first, or a duplicate. */
export interface PlannedSend {
  /** Position in the run, from 0. */
  sequence: number;
  event: SimulatedEvent;
  duplicate: boolean;
}

/** What the simulator knows of the server's clock, learned from a bill at setup. */
export interface ServerTime {
  /** The server's current billing period, "YYYY-MM". */
  period: string;
  periodStartMs: number;
  periodEndMs: number;
  /** The server's "now", estimated from the local clock and the offset seen at setup. */
  nowMs(): number;
}

/** Options of createEventPlan. */
export interface EventPlanOptions {
  catalog: SimulatedCatalog;
  random: Random;
  serverTime: ServerTime;
  /** Percent of sends that repeat a recent valid event. */
  duplicatesPercent: number;
  /** Percent of sends that are valid events with an earlier event_time in the current period. */
  latePercent: number;
  /** Percent of sends that are bad input. */
  badInputPercent: number;
}

/** How many recent valid events a duplicate may repeat: near enough to race the original. */
const DUPLICATE_WINDOW = 512;
/** A late event is at least this far behind the server's now. */
const LATE_MARGIN_MS = 60_000;
/** A future event is this far ahead, and up to twice as far: well past the 5 minutes allowed. */
const FUTURE_OFFSET_MS = 60 * 60_000;

/** A plan of sends, made one at a time in sequence order. */
export interface EventPlan {
  /** The send at `sequence`; called with 0, 1, 2, ... in order. */
  next(sequence: number): PlannedSend;
}

/**
 * Decides every send from the seeded random source: bad input, a duplicate of
 * a recent valid event, a late event, or a fresh one, in the proportions asked
 * for. Event times are taken from the server's clock and period, never the
 * machine's, so late events land in the server's current period.
 */
export function createEventPlan(options: EventPlanOptions): EventPlan {
  const { catalog, random, serverTime } = options;
  const recent: SimulatedEvent[] = [];
  const badKinds = Object.keys(EXPECTED_REASONS) as BadInputKind[];

  function newEvent(sequence: number, kind: EventKind): SimulatedEvent {
    const meter = random.pick(catalog.meters);
    const dimensions: Record<string, string> = {};
    for (const dimension of meter.dimensions) dimensions[dimension] = random.pick(meter.dimensionValues[dimension]!);
    const attributes: Record<string, string> = { ...dimensions, source: "simulator" };
    if (meter.uniqueAttribute !== undefined) attributes[meter.uniqueAttribute.key] = `u${random.below(meter.uniqueAttribute.values)}`;
    const event: SimulatedEvent = {
      requestId: `sim-${catalog.runId}-e${sequence}`,
      customerId: random.pick(catalog.customers),
      meterKey: meter.key,
      quantity: validQuantity(meter),
      // A LATEST meter's events each get a time of their own, so the latest is known whatever order they commit in.
      eventTimeMs: meter.aggregation === "latest" ? distinctEventTime(sequence) : undefined,
      kind,
      attributes,
      dimensions,
    };
    switch (kind) {
      case "late":
        if (meter.aggregation !== "latest") event.eventTimeMs = lateEventTime();
        break;
      case "bad-quantity":
        event.quantity = random.pick(meter.precision === 0 ? ["1.5", "-3", "two", "1234567890123456789"] : ["1.2345", "-1", "12,5", "1e3"]);
        break;
      case "unknown-meter":
        event.meterKey = catalog.unknownMeterKey;
        break;
      case "future-time":
        event.eventTimeMs = serverTime.nowMs() + FUTURE_OFFSET_MS + random.below(FUTURE_OFFSET_MS);
        break;
    }
    return event;
  }

  function validQuantity(meter: SimulatedMeter): string {
    if (meter.aggregation === "count") return String(1 + random.below(3));
    if (meter.aggregation === "unique_count") return "1";
    const whole = String(random.below(50));
    const decimals = random.below(meter.precision + 1);
    return decimals === 0 ? whole : `${whole}.${String(random.below(10 ** decimals)).padStart(decimals, "0")}`;
  }

  /** A millisecond of the current period no other sequence gets (unless the period is younger than the run's sends). */
  function distinctEventTime(sequence: number): number {
    const latest = Math.min(serverTime.nowMs() - LATE_MARGIN_MS, serverTime.periodEndMs - 1);
    return Math.max(serverTime.periodStartMs, latest - sequence);
  }

  /** Uniform between the period's start and a minute before the server's now, and never outside the period. */
  function lateEventTime(): number {
    const earliest = serverTime.periodStartMs;
    const latest = Math.min(serverTime.nowMs() - LATE_MARGIN_MS, serverTime.periodEndMs - 1);
    return latest <= earliest ? earliest : earliest + random.below(latest - earliest + 1);
  }

  return {
    next(sequence) {
      const roll = random.fraction() * 100;
      if (roll < options.badInputPercent) {
        return { sequence, event: newEvent(sequence, random.pick(badKinds)), duplicate: false };
      }
      const duplicateBound = options.badInputPercent + options.duplicatesPercent;
      if (roll < duplicateBound && recent.length > 0) return { sequence, event: random.pick(recent), duplicate: true };
      const late = roll >= duplicateBound && roll < duplicateBound + options.latePercent;
      const event = newEvent(sequence, late ? "late" : "fresh");
      if (recent.length < DUPLICATE_WINDOW) recent.push(event);
      else recent[sequence % DUPLICATE_WINDOW] = event;
      return { sequence, event, duplicate: false };
    },
  };
}
