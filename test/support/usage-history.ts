import { fromNanoUnits, type StoredUsage, toNanoUnits } from "./crash-audit.js";

/**
 * A Jepsen-style history of usage events and the set checker that judges it.
 * Every event a test sends is recorded with what the caller was told, as
 * Jepsen's set workload does: `ok` (acknowledged, with the record id), `fail`
 * (definitely refused: the server said it recorded nothing) or `info` (in
 * doubt: the call timed out, the connection died, the client gave up). The
 * checker then compares what storage holds with what callers were told:
 * every ok event exactly once, no fail event at all, an info event at most
 * once, nothing that was never sent.
 */

/** The fixture's meters (test/support/catalog-fixture.ts). */
export type FixtureMeter = "hosting" | "egress" | "calls" | "seats";

/** One usage event as a client sent it (quantity in canonical spelling). */
export interface SentUsage {
  requestId: string;
  /** The customer's Tally id. */
  customerId: string;
  meterKey: FixtureMeter;
  quantity: string;
}

export type Outcome = "ok" | "fail" | "info";

interface Entry {
  event: SentUsage;
  outcome: Outcome;
  /** The record id of the first acknowledgement. */
  recordId?: string;
  /** Acknowledgements that said replayed=false. */
  firstRecordings: number;
}

/** What the checker found; `problems` must be empty. */
export interface SetCheck {
  ok: number;
  fail: number;
  info: number;
  /** In-doubt events that turned out stored. */
  infoStored: number;
  problems: string[];
}

export class UsageHistory {
  private readonly entries = new Map<string, Entry>();
  /** Promises broken while the history was written (two record ids, a wrong echo, ...). */
  readonly anomalies: string[] = [];

  /** Notes that `event` is about to be sent (in doubt until told otherwise). */
  sent(event: SentUsage): void {
    if (!this.entries.has(event.requestId)) this.entries.set(event.requestId, { event, outcome: "info", firstRecordings: 0 });
  }

  /** The server acknowledged `event` with this record. */
  acknowledged(event: SentUsage, record: { id: string; requestId: string; quantity?: string } | undefined, replayed: boolean): void {
    const entry = this.entry(event);
    if (record === undefined || record.requestId !== event.requestId) {
      this.anomalies.push(`${event.requestId}: acknowledged with ${JSON.stringify(record)}`);
      return;
    }
    if (record.quantity !== undefined && record.quantity !== "" && toNanoUnits(record.quantity) !== toNanoUnits(event.quantity)) {
      this.anomalies.push(`${event.requestId}: acknowledged quantity ${record.quantity}, sent ${event.quantity}`);
    }
    if (entry.outcome === "fail") this.anomalies.push(`${event.requestId}: acknowledged after a definite refusal`);
    if (entry.recordId !== undefined && entry.recordId !== record.id) {
      this.anomalies.push(`${event.requestId}: two record ids, ${entry.recordId} and ${record.id}`);
    }
    entry.recordId ??= record.id;
    entry.outcome = "ok";
    if (!replayed && ++entry.firstRecordings > 1) this.anomalies.push(`${event.requestId}: replayed=false ${entry.firstRecordings} times`);
  }

  /** The server refused `event` for good (it recorded nothing). */
  refused(event: SentUsage, why: string): void {
    const entry = this.entry(event);
    if (entry.outcome === "ok") this.anomalies.push(`${event.requestId}: refused (${why}) after it was acknowledged`);
    else entry.outcome = "fail";
  }

  /** What the caller last knew of each event. */
  outcomes(): { event: SentUsage; outcome: Outcome; recordId?: string }[] {
    return [...this.entries.values()].map(({ event, outcome, recordId }) => ({ event, outcome, recordId }));
  }

  inDoubt(): SentUsage[] {
    return [...this.entries.values()].filter((entry) => entry.outcome === "info").map((entry) => entry.event);
  }

  /** Acknowledged events, for duplicates to pick from. */
  acknowledgedEvents(): SentUsage[] {
    return [...this.entries.values()].filter((entry) => entry.outcome === "ok").map((entry) => entry.event);
  }

  /**
   * The set check against what storage holds: `stored` lists every record
   * read back (from the API or the file), one element per copy.
   */
  check(stored: Iterable<Pick<StoredUsage, "id" | "requestId" | "quantity" | "customerId">>): SetCheck {
    const problems = [...this.anomalies];
    const copies = new Map<string, Pick<StoredUsage, "id" | "requestId" | "quantity" | "customerId">[]>();
    for (const record of stored) copies.set(record.requestId, [...(copies.get(record.requestId) ?? []), record]);
    const result: SetCheck = { ok: 0, fail: 0, info: 0, infoStored: 0, problems };
    for (const { event, outcome, recordId } of this.entries.values()) {
      const found = copies.get(event.requestId) ?? [];
      result[outcome]++;
      if (found.length > 1) problems.push(`${event.requestId} (${outcome}) is stored ${found.length} times`);
      const [record] = found;
      switch (outcome) {
        case "ok":
          if (record === undefined) problems.push(`${event.requestId}: acknowledged but lost`);
          else if (record.id !== recordId) problems.push(`${event.requestId}: acknowledged as ${recordId}, stored as ${record.id}`);
          break;
        case "fail":
          if (record !== undefined) problems.push(`${event.requestId}: refused but stored`);
          break;
        case "info":
          if (record !== undefined) result.infoStored++;
          break;
      }
      if (record !== undefined && (toNanoUnits(record.quantity) !== toNanoUnits(event.quantity) || record.customerId !== event.customerId)) {
        problems.push(`${event.requestId}: stored ${record.customerId} ${record.quantity}, sent ${event.customerId} ${event.quantity}`);
      }
    }
    for (const requestId of copies.keys()) {
      if (!this.entries.has(requestId)) problems.push(`${requestId}: stored but never sent`);
    }
    return result;
  }

  private entry(event: SentUsage): Entry {
    this.sent(event);
    return this.entries.get(event.requestId)!;
  }
}

/**
 * A customer's bill recomputed from raw records with the fixture's prices,
 * written apart from src/domain so that a shared bug cannot agree with
 * itself: hosting 0.0125 per unit; egress the first 100 free, then 0.09 up to
 * 1000, then 0.07; calls 0.002 per event; seats 12 per seat at the period's
 * maximum. Each line rounds half to even to cents; the total adds the lines.
 */
export function fixtureBill(records: Iterable<Pick<StoredUsage, "meterKey" | "quantity">>): {
  lines: Map<FixtureMeter, { quantity: string; amount: string }>;
  total: string;
} {
  const quantities = new Map<FixtureMeter, bigint>();
  for (const record of records) {
    const meterKey = record.meterKey as FixtureMeter;
    const quantity = toNanoUnits(record.quantity);
    const current = quantities.get(meterKey);
    if (meterKey === "calls") quantities.set(meterKey, (current ?? 0n) + toNanoUnits("1"));
    else if (meterKey === "seats") quantities.set(meterKey, current === undefined || quantity > current ? quantity : current);
    else quantities.set(meterKey, (current ?? 0n) + quantity);
  }
  // Prices in 10^-4 per unit, quantities in 10^-9: amounts in 10^-13.
  const tiers: Record<FixtureMeter, [upTo: bigint | null, unitPrice: bigint][]> = {
    hosting: [[null, 125n]],
    egress: [[toNanoUnits("100"), 0n], [toNanoUnits("1000"), 900n], [null, 700n]],
    calls: [[null, 20n]],
    seats: [[null, 120000n]],
  };
  const lines = new Map<FixtureMeter, { quantity: string; amount: string }>();
  let totalCents = 0n;
  for (const [meterKey, quantity] of quantities) {
    let exact = 0n;
    let from = 0n;
    for (const [upTo, unitPrice] of tiers[meterKey]) {
      const to = upTo === null || upTo > quantity ? quantity : upTo;
      if (to > from) exact += (to - from) * unitPrice;
      from = to;
    }
    const cents = halfEven(exact, 10n ** 11n);
    totalCents += cents;
    lines.set(meterKey, { quantity: fromNanoUnits(quantity), amount: fromNanoUnits(cents * 10n ** 7n) });
  }
  return { lines, total: fromNanoUnits(totalCents * 10n ** 7n) };
}

/** value / divisor rounded half to even (value ≥ 0). */
function halfEven(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  const twice = (value % divisor) * 2n;
  if (twice > divisor || (twice === divisor && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}
