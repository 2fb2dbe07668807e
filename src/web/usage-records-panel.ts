import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { BillingClient } from "tally/client";
import type { Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { UsageRecord } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { createFieldError } from "./field-error.js";
import { formatQuantity, formatUtc, periodName } from "./format.js";
import { createPager } from "./pager.js";

/** Records per page of the table. */
const PAGE_SIZE = 10;

/** Which records the table lists. */
export interface RecordsScope {
  customerId: string;
  /** The billing period, "YYYY-MM": the table lists the events that happened in it. */
  period: string;
  /** False for a finalized period, whose records the server will no longer void, and for keys that may not void (only admin may). */
  canVoid: boolean;
}

/** The usage-records section of a customer's page. */
export interface UsageRecordsPanel {
  element: HTMLElement;
  /** Lists the scope's records, from the first page or staying on the current one (after a void). */
  show(scope: RecordsScope, options: { firstPage: boolean }): Promise<void>;
  dispose(): void;
}

/**
 * The ledger behind the bill, page by page, with a void action per record.
 * Voiding asks for a reason in a small form inside the table (the ledger
 * keeps the reason), and the page then refreshes everything the void changed.
 */
export function createUsageRecordsPanel(
  client: BillingClient,
  options: { meters: ReadonlyMap<string, Meter>; onVoided: (record: UsageRecord) => void },
): UsageRecordsPanel {
  let scope: RecordsScope | undefined;
  let generation = 0;
  const heading = h("h2", { id: "records-heading" }, "Usage records");
  const status = h("p", { role: "status", class: "list-status", tabindex: "-1", "data-testid": "records-status" });
  const failures = createFailureRegion("records-failure");
  const rows = h("tbody", { "data-testid": "usage-records-body" });
  const table = h(
    "table",
    { class: "records", "data-testid": "usage-records-table" },
    h("caption", { class: "visually-hidden" }, "Usage records, most recently recorded first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Event time"),
        h("th", { scope: "col" }, "Meter"),
        h("th", { scope: "col", class: "numeric" }, "Quantity"),
        h("th", { scope: "col" }, "Request id"),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
      ),
    ),
    rows,
  );
  const pager = createPager({ label: "Usage record pages", testId: "records-pager", onChange: () => void load() });
  const element = h(
    "section",
    { class: "panel records-panel", "aria-labelledby": "records-heading", "data-testid": "records" },
    heading,
    failures.element,
    status,
    h("div", { class: "table-scroll", role: "region", "aria-label": "Usage records", tabindex: "0" }, table),
    pager.element,
  );

  async function load(): Promise<void> {
    if (scope === undefined) return;
    const current = scope;
    const loadNumber = ++generation;
    table.setAttribute("aria-busy", "true");
    try {
      const [year, month] = current.period.split("-").map(Number);
      const page = await client.listUsageRecords({
        customerId: current.customerId,
        startTime: timestampFromMs(Date.UTC(year!, month! - 1, 1)),
        endTime: timestampFromMs(Date.UTC(year!, month!, 1)),
        pageSize: PAGE_SIZE,
        pageToken: pager.pageToken,
      });
      if (loadNumber !== generation) return;
      failures.clear();
      replaceChildren(rows, page.records.map((record) => recordRow(record, current)));
      pager.loaded(page.nextPageToken);
      if (page.records.length === 0) status.textContent = "No usage recorded in this period.";
    } catch (error) {
      if (loadNumber !== generation) return;
      failures.show("Loading usage records", error);
    } finally {
      if (loadNumber === generation) table.removeAttribute("aria-busy");
    }
  }

  function recordRow(record: UsageRecord, current: RecordsScope): HTMLTableRowElement {
    const meter = options.meters.get(record.meterKey);
    const eventTime = record.eventTime === undefined ? undefined : timestampDate(record.eventTime);
    const voidButton =
      !record.voided && current.canVoid
        ? h("button", { type: "button", class: "small", "aria-expanded": "false", "aria-label": `Void record ${record.requestId}`, "data-testid": "void-button" }, "Void")
        : null;
    const row = h(
      "tr",
      { "data-testid": "usage-record-row", "data-request-id": record.requestId, "data-record-id": record.id, "data-voided": String(record.voided) },
      h("td", {}, eventTime === undefined ? "" : h("time", { datetime: eventTime.toISOString() }, formatUtc(eventTime))),
      h("td", {}, meter?.displayName || record.meterKey),
      h("td", { class: "numeric", "data-testid": "usage-record-quantity" }, formatQuantity(record.quantity, meter?.unit ?? "")),
      h("td", {}, h("code", { class: "request-id" }, record.requestId)),
      h(
        "td",
        { "data-testid": "usage-record-status" },
        record.voided
          ? [
              h("span", { class: "status status-voided" }, "voided"),
              h("span", { class: "void-reason" }, `: ${record.voidReason}`),
              record.voidTime === undefined ? null : h("span", { class: "muted" }, ` (${formatUtc(timestampDate(record.voidTime), false)})`),
            ]
          : h("span", { class: "status status-recorded" }, "recorded"),
      ),
      h("td", {}, voidButton),
    );
    voidButton?.addEventListener("click", () => openVoidForm(row, voidButton, record));
    return row;
  }

  function openVoidForm(row: HTMLTableRowElement, button: HTMLButtonElement, record: UsageRecord): void {
    rows.querySelector(".void-row")?.dispatchEvent(new Event("close"));
    const reasonId = `void-reason-${record.id}`;
    const reason = h("input", { id: reasonId, name: "reason", type: "text", maxlength: "512", autocomplete: "off", "data-testid": "void-reason" });
    const reasonError = createFieldError(reason);
    const failure = createFailureRegion("void-failure");
    const submit = h("button", { type: "submit", class: "danger", "data-testid": "void-submit" }, "Void record");
    const cancel = h("button", { type: "button", "data-testid": "void-cancel" }, "Cancel");
    const form = h(
      "form",
      { class: "void-form", novalidate: true, "data-testid": "void-form", "aria-label": `Void record ${record.requestId}` },
      h("label", { for: reasonId }, "Reason for voiding"),
      reason,
      reasonError.element,
      h("div", { class: "actions" }, submit, cancel),
      failure.element,
    );
    const formRow = h("tr", { class: "void-row", id: `void-row-${record.id}` }, h("td", { colspan: "6" }, form));
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-controls", formRow.id);
    row.after(formRow);
    reason.focus();

    const close = (returnFocus: boolean) => {
      formRow.remove();
      button.setAttribute("aria-expanded", "false");
      button.removeAttribute("aria-controls");
      if (returnFocus) button.focus();
    };
    formRow.addEventListener("close", () => close(false));
    cancel.addEventListener("click", () => close(true));
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close(true);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit.disabled = true;
      failure.clear();
      reasonError.clear();
      client.voidUsage({ requestId: record.requestId, reason: reason.value }).then(
        ({ record: voided }) => {
          close(false);
          status.textContent = `Voided record ${record.requestId}.`;
          status.focus();
          options.onVoided(voided ?? record);
        },
        (error: unknown) => {
          submit.disabled = false;
          const shown = failure.show("Voiding the record", error);
          for (const violation of shown.fieldViolations) if (violation.field === "reason") reasonError.show(violation.description);
        },
      );
    });
  }

  return {
    element,
    async show(next, { firstPage }) {
      scope = next;
      heading.textContent = `Usage records in ${periodName(next.period)}`;
      if (firstPage) {
        pager.reset();
        status.textContent = "";
      }
      await load();
    },
    dispose() {
      generation++;
    },
  };
}
