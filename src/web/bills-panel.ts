import { type Bill, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { h, replaceChildren } from "./dom.js";
import { formatMoney, periodName } from "./format.js";

/** The customer's bills, as ListBills gives them. */
export interface BillsPanel {
  element: HTMLElement;
  show(bills: Bill[]): void;
}

/**
 * Every bill of the customer (the current period and each period with usage,
 * newest first) with its status and total, each linking to the bill itself,
 * so finalized bills are one click away rather than hidden in the period list.
 */
export function createBillsPanel(billHref: (period: string) => string): BillsPanel {
  const rows = h("tbody", { "data-testid": "bills-body" });
  const element = h(
    "section",
    { class: "panel bills-panel", "aria-labelledby": "bills-heading", "data-testid": "bills" },
    h("h2", { id: "bills-heading" }, "Bills"),
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": "Bills", tabindex: "0" },
      h(
        "table",
        { "data-testid": "bills-table" },
        h("caption", { class: "visually-hidden" }, "The customer's bills, newest period first"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Period"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col", class: "numeric" }, "Total"))),
        rows,
      ),
    ),
  );
  return {
    element,
    show(bills) {
      replaceChildren(
        rows,
        bills.length === 0
          ? h("tr", {}, h("td", { colspan: "3", class: "empty" }, "No bills yet."))
          : bills.map((bill) => {
              const finalized = bill.status === BillStatus.FINALIZED;
              const unpriced = bill.lines.some((line) => line.priceVersion === 0);
              return h(
                "tr",
                { "data-testid": "bills-row", "data-period": bill.period, "data-status": finalized ? "finalized" : "draft" },
                h("th", { scope: "row" }, h("a", { href: billHref(bill.period) }, periodName(bill.period))),
                h("td", {}, h("span", { class: `status status-${finalized ? "finalized" : "draft"}` }, finalized ? "Finalized" : "Draft")),
                h(
                  "td",
                  { class: "numeric", "data-testid": "bills-total", "data-value": bill.total },
                  formatMoney(bill.total, bill.currencyCode),
                  unpriced ? h("span", { class: "muted" }, " + usage with no price") : null,
                ),
              );
            }),
      );
    },
  };
}
