import type { BillingPeriod } from "./billing-period.js";
import { priceLine, totalOf } from "./bill.js";
import type { Clock } from "./clock.js";
import type { CreateResult } from "./create-result.js";
import { customerNotFound } from "./customer-directory.js";
import type { Customer } from "./customer.js";
import { Decimal } from "./decimal.js";
import { failure, requestIdReused } from "./failure.js";
import { newId } from "./ids.js";
import { type Meter, meterNotFound } from "./meter.js";
import type { Price } from "./price.js";
import type { Scope, Store } from "./store.js";
import type { UsageTotals } from "./usage-record.js";

/**
 * A threshold on a customer's usage of a meter (its aggregated quantity in a
 * billing period) or, with meterKey "", on the customer's bill total (money,
 * in the customer's currency). Times are epoch milliseconds.
 */
export interface Alert {
  id: string;
  customerId: string;
  /** "" watches the bill total. */
  meterKey: string;
  threshold: Decimal;
  createTime: number;
}

/** An alert that fired: its threshold was reached in `period` by usage committed at `crossedTime`. */
export interface AlertEvent {
  /** Where the event is in the alert stream, store-specific and opaque to callers. */
  cursor: string;
  alertId: string;
  customerId: string;
  meterKey: string;
  period: BillingPeriod;
  /** The alert's threshold. */
  threshold: Decimal;
  /** The watched value once the usage that reached the threshold committed: a quantity, or a bill total written to the currency's minor unit. */
  value: string;
  crossedTime: number;
}

/** An alert as a caller asks for it, its shape already checked. */
export interface AlertDraft {
  /** The customer's Tally id or external_id. */
  customerRef: string;
  meterKey: string;
  threshold: Decimal;
}

/**
 * THE alert decision, the one place it is made: an alert fires when a write
 * takes its watched value from below the threshold to at or above it. Both
 * stores call it in the write's transaction with the value before and after
 * the write (a group commit's writes count as one: they commit together);
 * the (alert, period) key of the event table makes it fire at most once a
 * period, so a value that falls (a void) and rises again stays quiet.
 */
export function thresholdReached(threshold: Decimal, before: Decimal, after: Decimal): boolean {
  return before.compare(threshold) < 0 && after.compare(threshold) >= 0;
}

/**
 * A period's bill lines from its running totals, as GetBill takes them: a
 * meter's own totals, or for a meter with dimensions each combination's;
 * only totals with live usage.
 */
export function billLineTotals(totals: readonly UsageTotals[], meters: ReadonlyMap<string, Meter>): UsageTotals[] {
  return totals.filter((lineTotals) => {
    const dimensioned = (meters.get(lineTotals.meterKey)?.dimensions.length ?? 0) > 0;
    return lineTotals.count > 0 && dimensioned === lineTotals.dimensionValues.length > 0;
  });
}

/** What a bill-total alert's value is computed from: what a bill is. */
export interface BillTotalInputs {
  customer: Customer;
  /** The bill's lines (billLineTotals). */
  lines: UsageTotals[];
  meters: Map<string, Meter>;
  /** The price chosen for each line (choosePrices), by lineKey. */
  prices: ReadonlyMap<string, Price>;
}

/**
 * The value a bill-total alert watches: the period's bill total, priced line
 * by line as GetBill prices it ("12.30"). Synchronous, for the SQLite
 * writer's transaction; a customer's bill has at most
 * --max-meters-per-tenant x --max-dimension-combinations lines.
 */
export function billTotalValue(inputs: BillTotalInputs): string {
  const lines = inputs.lines.map((lineTotals) => priceLine(lineTotals, inputs.meters, inputs.prices, inputs.customer.currencyCode));
  return totalOf(lines, inputs.customer.currencyCode);
}

/** The differences between a stored alert and a retry's draft, for REQUEST_ID_REUSED. */
export function alertDifferences(stored: Alert, draft: { customerId: string; meterKey: string; threshold: Decimal }): string[] {
  const differences: string[] = [];
  if (stored.customerId !== draft.customerId) differences.push("alert.customer_id");
  if (stored.meterKey !== draft.meterKey) differences.push("alert.meter_key");
  if (!stored.threshold.equals(draft.threshold)) differences.push("alert.threshold");
  return differences;
}

/** What the alert use cases need. */
export interface AlertsOptions {
  store: Store;
  clock: Clock;
  /** The most alerts one customer may have (each is checked on every write of the customer's usage). */
  maxAlertsPerCustomer: number;
}

/** The use cases of alerts. */
export type Alerts = ReturnType<typeof createAlerts>;

/** Creates alerts; the stores decide and record their events in the usage writes. */
export function createAlerts({ store, clock, maxAlertsPerCustomer }: AlertsOptions) {
  return {
    /**
     * Creates an alert (idempotent on request_id). It watches the usage
     * committed after it: a value already at the threshold fires nothing
     * until a later period reaches it.
     */
    async createAlert(scope: Scope, requestId: string, draft: AlertDraft): Promise<CreateResult<Alert>> {
      const customer = await store.findCustomer(scope, draft.customerRef);
      if (customer === undefined) return customerNotFound(draft.customerRef, "alert.customer_id");
      if (draft.meterKey !== "" && (await store.findMeter(scope, draft.meterKey)) === undefined) {
        return meterNotFound(draft.meterKey, "alert.meter_key");
      }
      const alert: Alert = { id: newId("alert"), customerId: customer.id, meterKey: draft.meterKey, threshold: draft.threshold, createTime: clock.now() };
      const outcome = await store.createAlert(scope, requestId, alert, maxAlertsPerCustomer);
      switch (outcome.kind) {
        case "created":
          return { value: outcome.value, replayed: false };
        case "exists": {
          const changed = alertDifferences(outcome.value, alert);
          return changed.length === 0 ? { value: outcome.value, replayed: true } : requestIdReused(requestId, changed);
        }
        case "taken":
        case "over-quota":
          return failure(
            "QUOTA_EXCEEDED",
            `the customer already has ${maxAlertsPerCustomer} alerts, the most --max-alerts-per-customer allows; nothing was created`,
          );
      }
    },
  };
}
