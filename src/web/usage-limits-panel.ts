import type { BillingClient } from "tally/client";
import type { GetUsageAllowanceResponse } from "../../gen/ts/billing/v1/usage_service_pb.js";
import type { Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { h, replaceChildren } from "./dom.js";
import { toFailure } from "./failure-report.js";
import { periodName } from "./format.js";

/** The customer's usage limits, as GetUsageAllowance gives them per meter. */
export interface UsageLimitsPanel {
  element: HTMLElement;
  /** Reads every meter's allowance afresh; `stale` says when a newer refresh has begun. */
  show(customerId: string, meters: Meter[], stale: () => boolean): Promise<void>;
}

/**
 * Per meter: the customer's limit, what the current period has used of it
 * and what remains (one GetUsageAllowance per meter, read at once). Meters
 * without a limit are listed too, so "no limit" is said rather than implied.
 */
export function createUsageLimitsPanel(client: BillingClient): UsageLimitsPanel {
  const rows = h("tbody", { "data-testid": "usage-limits-body" });
  const caption = h("p", { class: "muted", "data-testid": "usage-limits-period" });
  const element = h(
    "section",
    { class: "panel usage-limits-panel", "aria-labelledby": "usage-limits-heading", "data-testid": "usage-limits" },
    h("h2", { id: "usage-limits-heading" }, "Usage limits"),
    caption,
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": "Usage limits", tabindex: "0" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Each meter's limit per billing period, what the current period used and what remains"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Meter"),
            h("th", { scope: "col", class: "numeric" }, "Limit"),
            h("th", { scope: "col", class: "numeric" }, "Used"),
            h("th", { scope: "col", class: "numeric" }, "Remaining"),
          ),
        ),
        rows,
      ),
    ),
  );
  return {
    element,
    async show(customerId, meters, stale) {
      element.setAttribute("aria-busy", "true");
      const answers = await Promise.allSettled(meters.map((meter) => client.getUsageAllowance({ customerId, meterKey: meter.key })));
      if (stale()) return;
      element.removeAttribute("aria-busy");
      const period = answers.find((answer): answer is PromiseFulfilledResult<GetUsageAllowanceResponse> => answer.status === "fulfilled")?.value.period;
      caption.textContent = period === undefined ? "" : `In ${periodName(period)} (the current period).`;
      replaceChildren(
        rows,
        meters.length === 0
          ? h("tr", {}, h("td", { colspan: "4", class: "empty" }, "No meters yet."))
          : meters.map((meter, index) => {
              const answer = answers[index]!;
              const cells =
                answer.status === "rejected"
                  ? [h("td", { colspan: "3", class: "empty" }, failureText(answer.reason))]
                  : answer.value.limit === ""
                    ? [h("td", { class: "numeric muted" }, "no limit"), h("td", { class: "numeric" }, answer.value.used), h("td", { class: "numeric muted" }, "—")]
                    : [
                        h("td", { class: "numeric" }, answer.value.limit),
                        h("td", { class: "numeric" }, answer.value.used),
                        h("td", { class: "numeric", "data-testid": "usage-limits-remaining" }, answer.value.remaining),
                      ];
              return h("tr", { "data-testid": "usage-limits-row", "data-meter": meter.key }, h("th", { scope: "row" }, meter.displayName || meter.key), cells);
            }),
      );
    },
  };
}

/** A failed allowance read in a cell's words: the code, the reason and the detail. */
function failureText(error: unknown): string {
  const failure = toFailure(error);
  return `${[failure.code, failure.reason].filter((part) => part !== "").join(" ")}: ${failure.detail}`;
}
