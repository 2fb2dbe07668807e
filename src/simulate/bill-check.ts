import type { BillingClient } from "../../clients/typescript/src/node.js";
import type { Bill } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { Decimal } from "../domain/decimal.js";
import { runConcurrently } from "./concurrently.js";
import { exactLineAmount } from "./exact-price.js";
import type { ExpectedUsage } from "./observations.js";
import type { SimulatedCatalog, SimulatedMeter, SimulatedTerms } from "./simulated-catalog.js";

/** One way a bill disagrees with what the run sent. */
export interface BillMismatch {
  /** The customer's external id. */
  customerId: string;
  period: string;
  /** The line's meter (with its dimension values, "meter[region=eu]"); null for the bill as a whole. */
  meterKey: string | null;
  field: "quantity" | "amount" | "line" | "total" | "currency" | "credits_applied" | "amount_due";
  expected: string;
  actual: string;
}

/** The verdict on every simulated customer's bills. */
export interface BillCheckReport {
  passed: boolean;
  customers: number;
  bills: number;
  /** Lines compared: every (customer, period, meter) with usage expected or billed. */
  lines: number;
  mismatches: BillMismatch[];
}

/** Options of checkBills. */
export interface BillCheckOptions {
  client: BillingClient;
  catalog: SimulatedCatalog;
  expected: readonly ExpectedUsage[];
  /** Customers checked at once. */
  concurrency: number;
}

/**
 * Compares every simulated customer's current bill (and the bill of any other
 * period its accepted events fell in) with what the run sent: each line (one
 * per meter, and per combination of a dimensioned meter's values) with the
 * sum, count, distinct values or latest quantity of the distinct accepted
 * events, its amount with the exact price of the line (dimension, customer or
 * catalog price), and the total with the sum of the amounts.
 */
export async function checkBills({ client, catalog, expected, concurrency }: BillCheckOptions): Promise<BillCheckReport> {
  const report: BillCheckReport = { passed: true, customers: catalog.customers.length, bills: 0, lines: 0, mismatches: [] };
  await runConcurrently(catalog.customers, concurrency, async (customerId) => {
    const { bill: current } = await client.getCurrentBill({ customerId });
    if (current === undefined) throw new Error(`GetCurrentBill answered no bill for ${customerId}`);
    // The setup's grant applies to the drafts of the periods from the one it was created in.
    const { grants } = await client.listCreditGrants({ customerId });
    const grantTime = grants[0]?.createTime;
    const creditPeriod = grantTime === undefined ? undefined : new Date(Number(grantTime.seconds) * 1000).toISOString().slice(0, 7);
    const bills = [current];
    const otherPeriods = new Set(expected.filter((usage) => usage.customerId === customerId && usage.period !== current.period).map((usage) => usage.period));
    for (const period of otherPeriods) {
      const { bill } = await client.getBill({ customerId, period });
      if (bill === undefined) throw new Error(`GetBill answered no bill for ${customerId} in ${period}`);
      bills.push(bill);
    }
    for (const bill of bills) compareBill(customerId, bill, creditPeriod !== undefined && bill.period >= creditPeriod);
  });
  report.mismatches.sort((a, b) => compareText(`${a.customerId} ${a.period} ${a.meterKey ?? ""}`, `${b.customerId} ${b.period} ${b.meterKey ?? ""}`));
  report.passed = report.mismatches.length === 0;
  return report;

  function compareBill(customerId: string, bill: Bill, credited: boolean): void {
    report.bills++;
    const mismatch = (line: string | null, field: BillMismatch["field"], expectedText: string, actual: string) =>
      report.mismatches.push({ customerId, period: bill.period, meterKey: line, field, expected: expectedText, actual });
    if (bill.currencyCode !== catalog.currencyCode) mismatch(null, "currency", catalog.currencyCode, bill.currencyCode);
    let expectedTotal = Decimal.ZERO;
    const lineName = (meterKey: string, dimensions: Record<string, string>) =>
      Object.keys(dimensions).length === 0 ? meterKey : `${meterKey}[${Object.entries(dimensions).map(([key, value]) => `${key}=${value}`).join(",")}]`;
    const billed = new Map(bill.lines.map((line) => [lineName(line.meterKey, line.dimensions), line]));
    const expectedLines = new Set<string>();
    for (const meter of catalog.meters) {
      const usages = expected.filter((usage) => usage.customerId === customerId && usage.period === bill.period && usage.meterKey === meter.key);
      for (const usage of usages.length === 0 ? [undefined] : usages) {
        const dimensions = usage?.dimensions ?? {};
        const name = lineName(meter.key, dimensions);
        expectedLines.add(name);
        const line = billed.get(name);
        // LATEST: events that tie on the greatest event_time leave the choice to the order they committed in.
        const candidates = usage === undefined ? [Decimal.ZERO] : expectedQuantities(meter, usage);
        const quantity = candidates.find((candidate) => line !== undefined && sameDecimal(line.quantity, candidate)) ?? candidates[0]!;
        const amount = exactLineAmount(quantity, termsOf(meter, customerId, dimensions), catalog.minorUnitDigits);
        expectedTotal = expectedTotal.add(Decimal.parse(amount)!);
        if (line === undefined && quantity.isZero()) continue;
        report.lines++;
        if (line === undefined) {
          mismatch(name, "line", `${quantity} (${amount})`, "no line");
          continue;
        }
        if (!sameDecimal(line.quantity, quantity)) mismatch(name, "quantity", quantity.toString(), line.quantity);
        if (!sameDecimal(line.amount, Decimal.parse(amount)!)) mismatch(name, "amount", amount, line.amount);
      }
    }
    for (const [name, line] of billed) {
      if (!expectedLines.has(name)) mismatch(name, "line", "no line", `${line.quantity} (${line.amount})`);
    }
    if (!sameDecimal(bill.total, expectedTotal)) {
      mismatch(null, "total", expectedTotal.roundHalfEven(catalog.minorUnitDigits).toFixed(catalog.minorUnitDigits), bill.total);
    }
    // Nothing is finalized during a run: a draft applies min(total, the credit) and consumes nothing.
    const billedTotal = Decimal.parse(bill.total) ?? Decimal.ZERO;
    const applied = credited ? billedTotal.min(Decimal.parse(catalog.creditAmount)!) : Decimal.ZERO;
    if (!sameDecimal(bill.creditsApplied, applied)) mismatch(null, "credits_applied", applied.toFixed(catalog.minorUnitDigits), bill.creditsApplied);
    const due = billedTotal.sub(applied);
    if (!sameDecimal(bill.amountDue, due)) mismatch(null, "amount_due", due.toFixed(catalog.minorUnitDigits), bill.amountDue);
  }
}

/** What the line's quantity may be under the meter's aggregation (several only when LATEST events tie). */
function expectedQuantities(meter: SimulatedMeter, usage: ExpectedUsage): Decimal[] {
  switch (meter.aggregation) {
    case "sum":
      return [usage.sum];
    case "count":
      return [Decimal.fromInteger(usage.count)];
    case "unique_count":
      return [Decimal.fromInteger(usage.valuesOf.get(meter.uniqueAttribute!.key)?.size ?? 0)];
    case "latest":
      return usage.latest?.quantities ?? [Decimal.ZERO];
  }
}

/**
 * The price of a line, chosen here rather than by the server's code (DESIGN.md,
 * "Prices"): the dimension price with the most dimension values the line
 * holds, then the customer's own price, then the catalog's.
 */
function termsOf(meter: SimulatedMeter, customerId: string, dimensions: Record<string, string>): SimulatedTerms {
  const matching = meter.dimensionPrices
    .filter((price) => Object.entries(price.dimensionValues).every(([key, value]) => dimensions[key] === value))
    .sort((a, b) => Object.keys(b.dimensionValues).length - Object.keys(a.dimensionValues).length);
  return matching[0] ?? meter.customerPrices.find((price) => price.customer === customerId) ?? meter;
}

function sameDecimal(text: string, expected: Decimal): boolean {
  const actual = Decimal.parse(text);
  return actual !== undefined && actual.equals(expected);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
