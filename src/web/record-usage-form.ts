import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { BillingClient } from "tally/client";
import type { Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { UsageRecord } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { type Child, h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { createFieldError, type FieldError } from "./field-error.js";
import { formatQuantity, formatUtc } from "./format.js";
import { newRequestId } from "./request-id.js";
import { customerHref } from "./routes.js";

/** What the Record usage form needs from its page. */
export interface RecordUsageFormOptions {
  customerId: string;
  /** The catalog's meters, in the order the select lists them. */
  meters: Meter[];
  /** The period the page shows, to point at another period a recorded event landed in. */
  shownPeriod: () => string;
  /** Called after each success (new or replayed), to refresh what the event changed. */
  onRecorded: (record: UsageRecord, replayed: boolean) => void;
}

/**
 * A form for demos that records one usage event through RecordUsage. The
 * request id is visible and kept after a success, so sending the form twice
 * shows idempotency at work (the second answer is "replayed"); "New id"
 * starts a new event. The server judges every value (the form does no
 * validation of its own) and its field violations appear next to the fields.
 */
export function createRecordUsageForm(client: BillingClient, options: RecordUsageFormOptions): HTMLElement {
  const meterSelect = h(
    "select",
    { id: "record-meter", name: "meter_key", "data-testid": "record-meter" },
    options.meters.map((meter) => h("option", { value: meter.key }, `${meter.displayName || meter.key} (${meter.unit})`)),
  );
  const quantity = h("input", { id: "record-quantity", name: "quantity", type: "text", inputmode: "decimal", autocomplete: "off", "data-testid": "record-quantity" });
  const quantityHint = h("p", { id: "record-quantity-hint", class: "hint" });
  const eventTime = h("input", { id: "record-event-time", name: "event_time", type: "datetime-local", step: "1", "data-testid": "record-event-time" });
  const requestId = h("input", {
    id: "record-request-id",
    name: "request_id",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    value: newRequestId(),
    "data-testid": "record-request-id",
  });
  const newIdButton = h("button", { type: "button", "data-testid": "record-new-id" }, "New id");
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "record-submit" }, "Record usage");
  const failures = createFailureRegion("record-failure");
  const result = h("div", { role: "status", class: "record-result", "data-testid": "record-result" });

  const fieldErrors: Record<string, FieldError> = {
    meter_key: createFieldError(meterSelect),
    quantity: createFieldError(quantity, quantityHint.id),
    event_time: createFieldError(eventTime, "record-event-time-hint"),
    request_id: createFieldError(requestId, "record-request-id-hint"),
  };

  const field = (control: HTMLInputElement | HTMLSelectElement, label: string, hint?: HTMLElement) =>
    h("div", { class: "field" }, h("label", { for: control.id }, label), hint, control, fieldErrors[control.name]!.element);

  const form = h(
    "form",
    { class: "record-form", novalidate: true, "aria-labelledby": "record-heading", "data-testid": "record-form" },
    field(meterSelect, "Meter"),
    field(quantity, "Quantity", quantityHint),
    field(eventTime, "Event time (UTC, optional)", h("p", { id: "record-event-time-hint", class: "hint" }, "Empty means now. At most 5 minutes ahead.")),
    h(
      "div",
      { class: "field" },
      h("label", { for: requestId.id }, "Request id"),
      h("p", { id: "record-request-id-hint", class: "hint" }, "Sending the same id again is replayed, never recorded twice."),
      h("div", { class: "inline-control" }, requestId, newIdButton),
      fieldErrors.request_id!.element,
    ),
    h("div", { class: "actions" }, submit),
    failures.element,
  );
  const element = h(
    "section",
    { class: "panel record-panel", "aria-labelledby": "record-heading", "data-testid": "record-usage" },
    h("h2", { id: "record-heading" }, "Record usage"),
    form,
    result,
  );

  const updateQuantityHint = () => {
    const meter = options.meters.find((candidate) => candidate.key === meterSelect.value);
    quantityHint.textContent =
      meter === undefined || meter.wholeUnits
        ? `A whole number of ${meter?.unit ?? "units"}, e.g. 12.`
        : `A decimal in ${meter.unit} with at most ${meter.precision} digits after the point, e.g. 12.5.`;
  };
  meterSelect.addEventListener("change", updateQuantityHint);
  updateQuantityHint();

  newIdButton.addEventListener("click", () => {
    requestId.value = newRequestId();
    fieldErrors.request_id!.clear();
  });

  let sending = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sending) return;
    failures.clear();
    for (const error of Object.values(fieldErrors)) error.clear();
    // datetime-local has no zone; the label says UTC, so read it as UTC.
    const eventTimeMs = eventTime.value === "" ? undefined : Date.parse(`${eventTime.value}Z`);
    if (eventTimeMs !== undefined && Number.isNaN(eventTimeMs)) {
      fieldErrors.event_time!.show("Not a date and time.");
      return;
    }
    sending = true;
    submit.setAttribute("aria-disabled", "true");
    form.setAttribute("aria-busy", "true");
    client
      .recordUsage({
        requestId: requestId.value,
        customerId: options.customerId,
        meterKey: meterSelect.value,
        quantity: quantity.value,
        eventTime: eventTimeMs === undefined ? undefined : timestampFromMs(eventTimeMs),
      })
      .then(
        ({ record, replayed }) => {
          if (record === undefined) throw new Error("RecordUsage answered without a record");
          replaceChildren(result, describeRecord(record, replayed, options));
          options.onRecorded(record, replayed);
        },
        (error: unknown) => {
          replaceChildren(result);
          const failure = failures.show("Recording usage", error);
          for (const violation of failure.fieldViolations) fieldErrors[violation.field]?.show(violation.description);
        },
      )
      .catch((error: unknown) => failures.show("Showing the recorded usage", error))
      .finally(() => {
        sending = false;
        submit.removeAttribute("aria-disabled");
        form.removeAttribute("aria-busy");
      });
  });

  return element;
}

function describeRecord(record: UsageRecord, replayed: boolean, options: RecordUsageFormOptions): HTMLElement {
  const meter = options.meters.find((candidate) => candidate.key === record.meterKey);
  const eventTime = record.eventTime === undefined ? undefined : timestampDate(record.eventTime);
  const item = (term: string, ...description: (Child | Child[])[]) => h("div", {}, h("dt", {}, term), h("dd", {}, ...description));
  return h(
    "dl",
    { class: "facts" },
    item(
      "Outcome",
      h(
        "strong",
        { class: `status ${replayed ? "status-replayed" : "status-recorded"}`, "data-testid": "replayed-indicator", "data-replayed": String(replayed) },
        replayed ? "replayed" : "recorded",
      ),
      h("span", { class: "muted" }, replayed ? " — this request id was already recorded; nothing changed" : " — a new record"),
    ),
    item("Record", h("code", { "data-testid": "recorded-record-id" }, record.id)),
    item("Meter", meter?.displayName || record.meterKey),
    item("Quantity", formatQuantity(record.quantity, meter?.unit ?? "")),
    item("Event time", eventTime === undefined ? "" : h("time", { datetime: eventTime.toISOString() }, formatUtc(eventTime))),
    item(
      "Period",
      record.period,
      record.period === options.shownPeriod() ? null : [" ", h("a", { href: customerHref(options.customerId, record.period) }, `Show ${record.period}`)],
    ),
    item("Request id", h("code", {}, record.requestId)),
  );
}
