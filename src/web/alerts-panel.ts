import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { BillingClient } from "tally/client";
import type { AlertEvent } from "../../gen/ts/billing/v1/billing_service_pb.js";
import type { Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { formatUtc, periodName } from "./format.js";

/** The customer's alerts: the thresholds it crossed, live, and (admin keys) a form to ask for one more. */
export interface AlertsPanel {
  element: HTMLElement;
  /** Follows the customer's alert events (WatchAlerts from the start, filtered here) and offers the form if `canCreate`. */
  start(customerId: string, meters: Meter[], canCreate: boolean): void;
  /** Ends the watch. */
  dispose(): void;
}

/**
 * Alert events arrive through WatchAlerts, which follows live, so a crossing
 * shows up while the page is open. The contract has no listing of the alerts
 * themselves: the panel shows what they reported, newest first.
 */
export function createAlertsPanel(client: BillingClient): AlertsPanel {
  const rows = h("tbody", { "data-testid": "alert-events" }, emptyRow());
  const failures = createFailureRegion("alerts-failure");
  const form = h("div", { class: "alert-form" });
  const element = h(
    "section",
    { class: "panel alerts-panel", "aria-labelledby": "alerts-heading", "data-testid": "alerts" },
    h("h2", { id: "alerts-heading" }, "Alerts"),
    failures.element,
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": "Alert events", tabindex: "0" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Thresholds this customer reached, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Period"),
            h("th", { scope: "col" }, "Watching"),
            h("th", { scope: "col", class: "numeric" }, "Threshold"),
            h("th", { scope: "col", class: "numeric" }, "Value"),
            h("th", { scope: "col" }, "Reached"),
          ),
        ),
        rows,
      ),
    ),
    form,
  );
  const watching = new AbortController();
  let shown = 0;

  function show(event: AlertEvent): void {
    if (shown++ === 0) replaceChildren(rows);
    const reached = event.crossedTime === undefined ? "" : formatUtc(timestampDate(event.crossedTime));
    rows.prepend(
      h(
        "tr",
        { "data-testid": "alert-event", "data-alert-id": event.alertId },
        h("td", {}, periodName(event.period)),
        h("td", {}, event.meterKey === "" ? "bill total" : event.meterKey),
        h("td", { class: "numeric" }, event.threshold),
        h("td", { class: "numeric", "data-testid": "alert-event-value" }, event.value),
        h("td", {}, reached),
      ),
    );
  }

  function createForm(customerId: string, meters: Meter[]): HTMLElement {
    const watch = h(
      "select",
      { id: "alert-meter", name: "meter_key", "data-testid": "alert-meter" },
      h("option", { value: "" }, "Bill total"),
      meters.map((meter) => h("option", { value: meter.key }, meter.displayName || meter.key)),
    );
    const threshold = h("input", { id: "alert-threshold", name: "threshold", type: "text", inputmode: "decimal", autocomplete: "off", "data-testid": "alert-threshold" });
    const result = h("p", { role: "status", "data-testid": "alert-result" });
    const formElement = h(
      "form",
      { "data-testid": "alert-form" },
      h("div", { class: "field" }, h("label", { for: watch.id }, "Watch"), watch),
      h("div", { class: "field" }, h("label", { for: threshold.id }, "Threshold"), threshold),
      h("button", { type: "submit" }, "Create alert"),
      result,
    );
    formElement.addEventListener("submit", (submitted) => {
      submitted.preventDefault();
      result.textContent = "";
      failures.clear();
      client.createAlert({ alert: { customerId, meterKey: watch.value, threshold: threshold.value } }).then(
        ({ alert }) => {
          result.textContent = `Alert ${alert?.id ?? ""} created: ${watch.value === "" ? "the bill total" : watch.value} at ${alert?.threshold ?? threshold.value}.`;
        },
        (error: unknown) => failures.show("Creating the alert", error),
      );
    });
    return formElement;
  }

  return {
    element,
    start(customerId, meters, canCreate) {
      if (canCreate) replaceChildren(form, createForm(customerId, meters));
      void (async () => {
        try {
          for await (const event of client.watchAlerts({}, { signal: watching.signal })) {
            if (event.customerId === customerId) show(event);
          }
        } catch (error) {
          if (!watching.signal.aborted) failures.show("Following the alerts", error);
        }
      })();
    },
    dispose() {
      watching.abort();
    },
  };
}

function emptyRow(): HTMLElement {
  return h("tr", {}, h("td", { colspan: "5", class: "empty" }, "No threshold reached yet."));
}
