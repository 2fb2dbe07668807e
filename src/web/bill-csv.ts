import { type Bill, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";

/** The CSV's columns, one row per bill line and a last row with the total. */
const HEADER = ["customer_id", "period", "status", "currency_code", "meter_key", "display_name", "unit", "quantity", "price_version", "amount", "note", "dimensions"];

/**
 * A bill as CSV (RFC 4180, CRLF line ends) for a spreadsheet or an accounting
 * import: the server's exact decimal strings, unchanged. A line whose meter
 * has no price in the bill's currency (price_version 0) has an empty
 * price_version and amount and the note "no price", so it cannot be summed as
 * a charge of 0.00; the last row carries the total. A line of a meter with
 * dimensions names its combination in the last column ("region=eu;size=xl").
 */
export function billCsv(bill: Bill): string {
  const status = bill.status === BillStatus.FINALIZED ? "finalized" : "draft";
  const common = [bill.customerId, bill.period, status, bill.currencyCode];
  const rows = [
    HEADER,
    ...bill.lines.map((line) => {
      const priced = line.priceVersion > 0;
      return [
        ...common,
        line.meterKey,
        line.displayName,
        line.unit,
        line.quantity,
        priced ? String(line.priceVersion) : "",
        priced ? line.amount : "",
        priced ? "" : "no price",
        dimensionsField(line.dimensions),
      ];
    }),
    [...common, "", "", "", "", "", bill.total, "total", ""],
  ];
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** A line's combination of dimension values, "" for a meter without dimensions. */
export function dimensionsField(dimensions: Record<string, string>): string {
  return Object.entries(dimensions)
    .map(([dimension, value]) => `${dimension}=${value}`)
    .join(";");
}

/** A file name such as "bill-cus_123-2026-11.csv". */
export function billCsvFileName(bill: Bill): string {
  return `bill-${bill.customerId.replace(/[^A-Za-z0-9_-]/g, "_")}-${bill.period}.csv`;
}

/**
 * One field: quoted when it holds a comma, quote or line break. Text that a
 * spreadsheet would run as a formula (a meter's display name is anyone's
 * text) starts with an apostrophe, so it stays text.
 */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
