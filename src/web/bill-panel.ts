import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { type Bill, type BillLine, type BillLineTier, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { billCsv, billCsvFileName } from "./bill-csv.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { formatUtc, groupDigits, periodName } from "./format.js";

/** The bill section of a customer's page. */
export interface BillPanel {
  element: HTMLElement;
  /** Shows the period's bill while it loads (the heading changes at once, the numbers when they arrive). */
  loading(period: string): void;
  /** Shows a bill; `latestRevision` (default the bill's own) is how many revisions a finalized bill has, to choose from. */
  show(bill: Bill, latestRevision?: number): void;
  showFailure(action: string, error: unknown): void;
}

/**
 * A bill as the server computed it: one line per meter with its tiers, the
 * total, the status, the price versions and the moment it describes. The
 * page does no arithmetic of its own, so what it shows is exactly the bill.
 */
export function createBillPanel(options: { onRevision?: (period: string, revision: number) => void } = {}): BillPanel {
  const heading = h("h2", { id: "bill-heading" }, "Bill");
  const facts = h("dl", { class: "facts", "data-testid": "bill-facts" });
  const failures = createFailureRegion("bill-failure");
  const body = h("div", { class: "bill-body", "data-testid": "bill-body" });
  const download = h("a", { class: "button-link", "data-testid": "bill-csv", hidden: true }, "Download CSV");
  let downloadUrl: string | undefined;
  const element = h(
    "section",
    { class: "panel bill-panel", "aria-labelledby": "bill-heading", "data-testid": "bill" },
    heading,
    failures.element,
    facts,
    body,
    h("p", { class: "actions" }, download),
  );

  return {
    element,
    loading(period) {
      heading.textContent = `Bill for ${periodName(period)}`;
      element.setAttribute("aria-busy", "true");
    },
    show(bill, latestRevision = bill.revision) {
      element.removeAttribute("aria-busy");
      failures.clear();
      element.dataset.period = bill.period;
      element.dataset.revision = String(bill.revision);
      heading.textContent = `Bill for ${periodName(bill.period)}`;
      replaceChildren(facts, billFacts(bill, latestRevision, options.onRevision));
      replaceChildren(body, bill.lines.length === 0 ? h("p", { class: "empty" }, "No usage in this period.") : null, linesTable(bill));
      // The CSV is made here from the bill on screen (no second call), so it
      // holds exactly what the page shows; the object URL of the previous bill
      // is released.
      if (downloadUrl !== undefined) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(new Blob([billCsv(bill)], { type: "text/csv;charset=utf-8" }));
      download.href = downloadUrl;
      download.download = billCsvFileName(bill);
      download.setAttribute("aria-label", `Download the bill for ${periodName(bill.period)} as CSV`);
      download.hidden = false;
    },
    showFailure(action, error) {
      element.removeAttribute("aria-busy");
      failures.show(action, error);
    },
  };
}

function billFacts(bill: Bill, latestRevision: number, onRevision?: (period: string, revision: number) => void): HTMLElement[] {
  const finalized = bill.status === BillStatus.FINALIZED;
  const versions = [
    ...new Set(bill.lines.filter((line) => line.priceVersion > 0).map((line) => `${line.displayName || line.meterKey} v${line.priceVersion}`)),
  ];
  return [
    fact(
      "Status",
      h(
        "span",
        { class: `status status-${finalized ? "finalized" : "draft"}`, "data-testid": "bill-status", "data-status": finalized ? "finalized" : "draft" },
        finalized ? "Finalized" : "Draft",
      ),
      h("span", { class: "muted" }, finalized ? " — can no longer change" : " — usage may still arrive"),
    ),
    finalized ? fact("Revision", revisionChoice(bill, latestRevision, onRevision)) : null,
    fact("As of", timeElement(bill.asOfTime, "bill-as-of")),
    fact(finalized ? "Finalized" : "Finalizes", timeElement(bill.finalizeTime, "bill-finalize-time")),
    wideFact("Price versions", h("span", { "data-testid": "bill-price-versions" }, versions.length === 0 ? "none" : versions.join(", "))),
  ].filter((item): item is HTMLElement => item !== null);
}

/**
 * A finalized bill's revision: 1 as finalized, one more per correction. With
 * several, a list to look at an earlier one (each stays as it was written).
 */
function revisionChoice(bill: Bill, latestRevision: number, onRevision?: (period: string, revision: number) => void): HTMLElement {
  const label = (revision: number) => `${revision}${revision === 1 ? " (as finalized)" : " (corrected)"}${revision === latestRevision ? ", latest" : ""}`;
  if (latestRevision <= 1 || onRevision === undefined) return h("span", { "data-testid": "bill-revision", "data-value": bill.revision }, label(bill.revision));
  const revisions = Array.from({ length: latestRevision }, (_, index) => latestRevision - index);
  return h(
    "select",
    {
      "data-testid": "bill-revision",
      "data-value": bill.revision,
      "aria-label": "Bill revision",
      onchange: (event: Event) => onRevision(bill.period, Number((event.target as HTMLSelectElement).value)),
    },
    revisions.map((revision) => h("option", { value: revision, selected: revision === bill.revision }, label(revision))),
  );
}

function fact(term: string, ...description: (Node | string)[]): HTMLElement {
  return h("div", {}, h("dt", {}, term), h("dd", {}, ...description));
}

function wideFact(term: string, ...description: (Node | string)[]): HTMLElement {
  const element = fact(term, ...description);
  element.classList.add("wide");
  return element;
}

function timeElement(timestamp: Timestamp | undefined, testId: string): HTMLElement {
  if (timestamp === undefined) return h("span", { "data-testid": testId }, "unknown");
  const date = timestampDate(timestamp);
  return h("time", { datetime: date.toISOString(), "data-testid": testId }, formatUtc(date));
}

function linesTable(bill: Bill): HTMLElement[] {
  return [linesGrid(bill), h("p", { class: "hint" }, "Tier amounts are exact; a line's amount is their sum rounded once, half to even, to the currency's minor unit. The total is the sum of the lines.")];
}

function linesGrid(bill: Bill): HTMLElement {
  return h(
    "div",
    { class: "table-scroll", role: "region", "aria-label": "Bill lines", tabindex: "0" },
    h(
      "table",
      { class: "bill-lines", "data-testid": "bill-lines" },
      h("caption", { class: "visually-hidden" }, "Bill lines, each followed by its price tiers"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Meter and tiers"),
          h("th", { scope: "col", class: "numeric" }, "Quantity"),
          h("th", { scope: "col", class: "numeric" }, "Amount"),
        ),
      ),
      bill.lines.map((line) => lineBody(line, bill.currencyCode)),
      h(
        "tfoot",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "row", colspan: "2" }, "Total"),
          h("td", { class: "numeric total", "data-testid": "bill-total", "data-value": bill.total }, withUnit(bill.total, bill.currencyCode)),
        ),
        h(
          "tr",
          {},
          h("th", { scope: "row", colspan: "2" }, "Credits applied"),
          h("td", { class: "numeric", "data-testid": "bill-credits-applied", "data-value": bill.creditsApplied }, "− ", withUnit(bill.creditsApplied, bill.currencyCode)),
        ),
        h(
          "tr",
          {},
          h("th", { scope: "row", colspan: "2" }, "Amount due"),
          h("td", { class: "numeric total", "data-testid": "bill-amount-due", "data-value": bill.amountDue }, withUnit(bill.amountDue, bill.currencyCode)),
        ),
      ),
    ),
  );
}

function lineBody(line: BillLine, currencyCode: string): HTMLElement {
  const priced = line.priceVersion > 0;
  return h(
    "tbody",
    { "data-testid": "bill-line", "data-meter-key": line.meterKey, "data-price-version": line.priceVersion, "data-dimensions": JSON.stringify(line.dimensions) },
    h(
      "tr",
      { class: "line-row" },
      h(
        "th",
        { scope: "rowgroup" },
        line.displayName || line.meterKey,
        // A meter with dimensions has a line per combination of their values: the line says which.
        Object.keys(line.dimensions).length > 0 &&
          h(
            "span",
            { class: "line-dimensions", "data-testid": "bill-line-dimensions" },
            Object.entries(line.dimensions)
              .map(([dimension, value]) => `${dimension}=${value}`)
              .join(", "),
          ),
        h(
          "span",
          { class: "line-price muted", "data-testid": "bill-line-price" },
          priced ? `price v${line.priceVersion}` : `no price in ${currencyCode}`,
        ),
      ),
      h("td", { class: "numeric", "data-testid": "bill-line-quantity", "data-value": line.quantity }, withUnit(line.quantity, line.unit)),
      // An unpriced line's amount is "0.00" on the wire (so totals add up),
      // but it was never charged at 0.00: it says so instead.
      priced
        ? h("td", { class: "numeric amount", "data-testid": "bill-line-amount", "data-value": line.amount, "data-priced": "true" }, withUnit(line.amount, currencyCode))
        : h("td", { class: "numeric amount unpriced", "data-testid": "bill-line-amount", "data-value": line.amount, "data-priced": "false" }, "no price"),
    ),
    line.tiers.map((tier, index) =>
      h(
        "tr",
        { class: "tier-row", "data-testid": "bill-line-tier" },
        h(
          "td",
          {},
          tierLabel(line.tiers, index, line.unit),
          h("span", { class: "unit-price" }, tierPrice(tier, currencyCode)),
        ),
        h("td", { class: "numeric" }, groupDigits(tier.quantity)),
        h("td", { class: "numeric", "data-testid": "bill-line-tier-amount", "data-value": tier.amount }, groupDigits(tier.amount)),
      ),
    ),
  );
}

/**
 * "805 GB-hour" that may wrap between the number and the unit but never
 * inside the unit, so a narrow screen shows the whole bill without a
 * sideways scroll.
 */
function withUnit(decimal: string, unit: string): (Node | string)[] {
  return [groupDigits(decimal === "" ? "0" : decimal), " ", h("span", { class: "unit" }, unit)];
}

/** "at 0.09 USD each", "3 packages at 2 USD each", with " + 25 USD flat" when the line pays the tier's flat fee. */
function tierPrice(tier: BillLineTier, currencyCode: string): string {
  const each = `at ${groupDigits(tier.unitAmount)} ${currencyCode} each`;
  const price = tier.packages === "" ? each : `${groupDigits(tier.packages)} packages ${each}`;
  return tier.flatAmount === "" ? price : `${price} + ${groupDigits(tier.flatAmount)} ${currencyCode} flat`;
}

/** "first 1,000", "1,000 – 10,000", "over 10,000", or "every GB" for a flat price. */
function tierLabel(tiers: BillLineTier[], index: number, unit: string): string {
  const upTo = tiers[index]!.upTo;
  const from = index === 0 ? "" : tiers[index - 1]!.upTo;
  if (upTo === "" && from === "") return `every ${unit || "unit"}`;
  if (upTo === "") return `over ${groupDigits(from)}`;
  if (from === "") return `first ${groupDigits(upTo)}`;
  return `${groupDigits(from)} – ${groupDigits(upTo)}`;
}
