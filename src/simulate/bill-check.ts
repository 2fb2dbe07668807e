import type { BillingClient } from "../../clients/typescript/src/node.js";
import type { Bill } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { Decimal } from "../domain/decimal.js";
import { runConcurrently } from "./concurrently.js";
import { exactLineAmount } from "./exact-price.js";
import type { ExpectedUsage } from "./observations.js";
import type { SimulatedCatalog } from "./simulated-catalog.js";

/** One way a bill disagrees with what the run sent. */
export interface BillMismatch {
  /** The customer's external id. */
  customerId: string;
  period: string;
  /** The line's meter; null for the bill as a whole. */
  meterKey: string | null;
  field: "quantity" | "amount" | "line" | "total" | "currency";
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
 * period its accepted events fell in) with what the run sent: each line's
 * quantity with the sum or count of the distinct accepted events, its amount
 * with the exact tiered price, and the total with the sum of the amounts.
 */
export async function checkBills({ client, catalog, expected, concurrency }: BillCheckOptions): Promise<BillCheckReport> {
  const report: BillCheckReport = { passed: true, customers: catalog.customers.length, bills: 0, lines: 0, mismatches: [] };
  const expectedOf = new Map(expected.map((usage) => [`${usage.customerId}\u0000${usage.period}\u0000${usage.meterKey}`, usage]));
  await runConcurrently(catalog.customers, concurrency, async (customerId) => {
    const { bill: current } = await client.getCurrentBill({ customerId });
    if (current === undefined) throw new Error(`GetCurrentBill answered no bill for ${customerId}`);
    const bills = [current];
    const otherPeriods = new Set(expected.filter((usage) => usage.customerId === customerId && usage.period !== current.period).map((usage) => usage.period));
    for (const period of otherPeriods) {
      const { bill } = await client.getBill({ customerId, period });
      if (bill === undefined) throw new Error(`GetBill answered no bill for ${customerId} in ${period}`);
      bills.push(bill);
    }
    for (const bill of bills) compareBill(customerId, bill);
  });
  report.mismatches.sort((a, b) => compareText(`${a.customerId} ${a.period} ${a.meterKey ?? ""}`, `${b.customerId} ${b.period} ${b.meterKey ?? ""}`));
  report.passed = report.mismatches.length === 0;
  return report;

  function compareBill(customerId: string, bill: Bill): void {
    report.bills++;
    const mismatch = (meterKey: string | null, field: BillMismatch["field"], expectedText: string, actual: string) =>
      report.mismatches.push({ customerId, period: bill.period, meterKey, field, expected: expectedText, actual });
    if (bill.currencyCode !== catalog.currencyCode) mismatch(null, "currency", catalog.currencyCode, bill.currencyCode);
    let expectedTotal = Decimal.ZERO;
    for (const meter of catalog.meters) {
      const usage = expectedOf.get(`${customerId}\u0000${bill.period}\u0000${meter.key}`);
      const quantity = usage === undefined ? Decimal.ZERO : meter.aggregation === "sum" ? usage.sum : Decimal.fromInteger(usage.count);
      const amount = exactLineAmount(quantity, meter, catalog.minorUnitDigits);
      expectedTotal = expectedTotal.add(Decimal.parse(amount)!);
      const line = bill.lines.find((candidate) => candidate.meterKey === meter.key);
      if (line === undefined && quantity.isZero()) continue;
      report.lines++;
      if (line === undefined) {
        mismatch(meter.key, "line", `${quantity} (${amount})`, "no line");
        continue;
      }
      if (!sameDecimal(line.quantity, quantity)) mismatch(meter.key, "quantity", quantity.toString(), line.quantity);
      if (!sameDecimal(line.amount, Decimal.parse(amount)!)) mismatch(meter.key, "amount", amount, line.amount);
    }
    for (const line of bill.lines) {
      if (!catalog.meters.some((meter) => meter.key === line.meterKey)) mismatch(line.meterKey, "line", "no line", `${line.quantity} (${line.amount})`);
    }
    if (!sameDecimal(bill.total, expectedTotal)) {
      mismatch(null, "total", expectedTotal.roundHalfEven(catalog.minorUnitDigits).toFixed(catalog.minorUnitDigits), bill.total);
    }
  }
}

function sameDecimal(text: string, expected: Decimal): boolean {
  const actual = Decimal.parse(text);
  return actual !== undefined && actual.equals(expected);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
