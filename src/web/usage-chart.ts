import { Aggregation, type Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { DailyUsage } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { h, replaceChildren, s } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { daysOfPeriod, formatQuantity, groupDigits, periodName } from "./format.js";

/** The daily-usage section of a customer's page. */
export interface UsageChartPanel {
  element: HTMLElement;
  loading(period: string): void;
  /** Draws the period's days; `meters` supplies each meter's name, unit and aggregation. */
  show(period: string, days: DailyUsage[], meters: ReadonlyMap<string, Meter>): void;
  showFailure(action: string, error: unknown): void;
}

// The drawing's own coordinate system; the SVG scales to its container's width.
const WIDTH = 320;
const HEIGHT = 190;
const MARGIN = { top: 12, right: 12, bottom: 46, left: 56 };
const PLOT_WIDTH = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_HEIGHT = HEIGHT - MARGIN.top - MARGIN.bottom;

/**
 * Usage per day as small multiples: one bar chart per meter, because the
 * meters' units (GB-hours, requests, seats) cannot share an axis. Each chart
 * carries its numbers in text (a title and description for screen readers, a
 * tooltip per bar), and a table under the charts holds every number, so
 * nothing depends on seeing the bars or telling colours apart.
 */
export function createUsageChartPanel(): UsageChartPanel {
  const heading = h("h2", { id: "usage-heading" }, "Daily usage");
  const failures = createFailureRegion("usage-failure");
  const body = h("div", { "data-testid": "usage-body" });
  const element = h("section", { class: "panel usage-panel", "aria-labelledby": "usage-heading", "data-testid": "usage" }, heading, failures.element, body);
  return {
    element,
    loading(period) {
      heading.textContent = `Daily usage in ${periodName(period)}`;
      element.setAttribute("aria-busy", "true");
    },
    show(period, days, meters) {
      element.removeAttribute("aria-busy");
      failures.clear();
      heading.textContent = `Daily usage in ${periodName(period)}`;
      const meterKeys = [...new Set(days.map((day) => day.meterKey))].sort();
      if (meterKeys.length === 0) {
        replaceChildren(body, h("p", { class: "empty" }, "No usage in this period."));
        return;
      }
      const describe = (key: string) => meterLabel(key, meters.get(key));
      replaceChildren(
        body,
        h(
          "div",
          { class: "charts", "data-testid": "usage-charts" },
          meterKeys.map((key) => meterChart(period, key, describe(key), days.filter((day) => day.meterKey === key))),
        ),
        usageTable(period, meterKeys, describe, days),
      );
    },
    showFailure(action, error) {
      element.removeAttribute("aria-busy");
      failures.show(action, error);
    },
  };
}

interface MeterLabel {
  name: string;
  unit: string;
  /** How a day's events become the day's number, in words. */
  perDay: string;
}

function meterLabel(key: string, meter: Meter | undefined): MeterLabel {
  const perDay =
    meter?.aggregation === Aggregation.COUNT ? "events per day" : meter?.aggregation === Aggregation.MAX ? "peak per day" : "total per day";
  return { name: meter?.displayName || key, unit: meter?.unit ?? "", perDay };
}

function meterChart(period: string, meterKey: string, label: MeterLabel, days: DailyUsage[]): HTMLElement {
  const dates = daysOfPeriod(period);
  const byDate = new Map(days.map((day) => [day.date, day]));
  // Floats only place bars on the screen; every number shown is the server's exact string.
  const highest = days.reduce<DailyUsage | undefined>((top, day) => (top === undefined || Number(day.quantity) > Number(top.quantity) ? day : top), undefined);
  const scaleTop = niceCeiling(Number(highest?.quantity ?? "0"));
  const step = PLOT_WIDTH / dates.length;
  const y = (value: number) => MARGIN.top + PLOT_HEIGHT - (value / scaleTop) * PLOT_HEIGHT;
  const id = `chart-${meterKey}`;
  const unitSuffix = label.unit === "" ? "" : ` ${label.unit}`;
  const summary =
    highest === undefined
      ? "No usage."
      : `${label.unit || "Quantity"}, ${label.perDay}. ${days.length} of ${dates.length} days have usage; the highest is ${groupDigits(highest.quantity)}${unitSuffix} on ${highest.date}.`;

  const ticks = [0, scaleTop / 2, scaleTop];
  const dayTicks = [1, 8, 15, 22, dates.length];
  const svg = s(
    "svg",
    {
      class: "chart-svg",
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      width: WIDTH,
      height: HEIGHT,
      role: "img",
      "aria-labelledby": `${id}-title ${id}-desc`,
    },
    s("title", { id: `${id}-title` }, `${label.name} per day, ${periodName(period)}`),
    s("desc", { id: `${id}-desc` }, summary),
    ticks.map((tick) =>
      s(
        "g",
        { class: "y-tick" },
        s("line", { class: "grid", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }),
        s("text", { x: MARGIN.left - 6, y: y(tick), "text-anchor": "end", "dominant-baseline": "middle" }, tickLabel(tick)),
      ),
    ),
    dates.map((date, index) => {
      const day = byDate.get(date);
      if (day === undefined) return null;
      const value = Number(day.quantity);
      const top = Math.min(y(value), MARGIN.top + PLOT_HEIGHT - (value > 0 ? 1 : 0));
      const events = `${day.eventCount} event${day.eventCount === 1n ? "" : "s"}`;
      return s(
        "rect",
        {
          class: "bar",
          x: (MARGIN.left + index * step + step * 0.15).toFixed(2),
          y: top.toFixed(2),
          width: (step * 0.7).toFixed(2),
          height: (MARGIN.top + PLOT_HEIGHT - top).toFixed(2),
          "data-testid": "usage-bar",
          "data-date": date,
          "data-quantity": day.quantity,
        },
        s("title", {}, `${date}: ${formatQuantity(day.quantity, label.unit)} (${events})`),
      );
    }),
    s("line", { class: "axis", x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: MARGIN.top + PLOT_HEIGHT, y2: MARGIN.top + PLOT_HEIGHT }),
    dayTicks.map((dayNumber) =>
      s(
        "text",
        { x: (MARGIN.left + (dayNumber - 0.5) * step).toFixed(2), y: MARGIN.top + PLOT_HEIGHT + 16, "text-anchor": "middle" },
        String(dayNumber),
      ),
    ),
    s("text", { class: "axis-title", x: MARGIN.left + PLOT_WIDTH / 2, y: HEIGHT - 6, "text-anchor": "middle" }, `Day of ${periodName(period)} (UTC)`),
    s(
      "text",
      { class: "axis-title", transform: "rotate(-90)", x: -(MARGIN.top + PLOT_HEIGHT / 2), y: 12, "text-anchor": "middle" },
      label.unit || "quantity",
    ),
  );
  return h(
    "figure",
    { class: "chart", "data-testid": "usage-chart", "data-meter-key": meterKey },
    h("figcaption", {}, h("h3", {}, label.name), h("p", { class: "hint" }, `${label.unit || "quantity"}, ${label.perDay}`)),
    svg,
  );
}

/** The same numbers as the charts, for anyone who cannot or would rather not read bars. */
function usageTable(period: string, meterKeys: string[], describe: (key: string) => MeterLabel, days: DailyUsage[]): HTMLElement {
  const byDateAndMeter = new Map(days.map((day) => [`${day.date} ${day.meterKey}`, day]));
  const datesWithUsage = daysOfPeriod(period).filter((date) => meterKeys.some((key) => byDateAndMeter.has(`${date} ${key}`)));
  return h(
    "details",
    { class: "usage-table", "data-testid": "usage-table-details" },
    h("summary", {}, "Daily usage as a table"),
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-label": "Daily usage table", tabindex: "0" },
      h(
        "table",
        { "data-testid": "usage-table" },
        h("caption", { class: "visually-hidden" }, `Usage per day and meter, ${periodName(period)}`),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Day (UTC)"),
            meterKeys.map((key) => {
              const label = describe(key);
              return h("th", { scope: "col", class: "numeric" }, label.name, h("span", { class: "muted column-unit" }, `${label.unit || "quantity"}, ${label.perDay}`));
            }),
          ),
        ),
        h(
          "tbody",
          {},
          datesWithUsage.map((date) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, date),
              meterKeys.map((key) => {
                const day = byDateAndMeter.get(`${date} ${key}`);
                return h(
                  "td",
                  { class: "numeric", "data-testid": "usage-cell", "data-date": date, "data-meter-key": key, "data-quantity": day?.quantity ?? "" },
                  day === undefined ? h("span", { class: "muted", "aria-label": "no usage" }, "–") : groupDigits(day.quantity),
                );
              }),
            ),
          ),
        ),
      ),
    ),
  );
}

/** The smallest round number (1, 1.5, 2, ... 8 times a power of ten) at least `value`, so axis labels stay round. */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (factor * power >= value) return factor * power;
  return 10 * power;
}

function tickLabel(value: number): string {
  return Number.isInteger(value) ? groupDigits(String(value)) : String(Number(value.toPrecision(3)));
}
