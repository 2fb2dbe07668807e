import type { BillingClient } from "tally/client";
import { Aggregation, type Meter, type Price } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { CallerAccess } from "./caller-access.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { createFieldError, type FieldError } from "./field-error.js";
import { groupDigits } from "./format.js";
import { newRequestId } from "./request-id.js";
import type { View } from "./view.js";

/** ListMeters' and ListPrices' largest page: a catalog is small, and every page of prices is read. */
const PAGE_SIZE = 1000;
/** At most this many pages of prices (1,000 each) are read; a larger catalog shows a note instead of hanging the page. */
const MAX_PRICE_PAGES = 20;

const AGGREGATION_NAMES: Record<number, string> = {
  [Aggregation.SUM]: "sum",
  [Aggregation.COUNT]: "count",
  [Aggregation.MAX]: "max",
  [Aggregation.UNIQUE_COUNT]: "unique count",
  [Aggregation.LATEST]: "latest",
};

/** "unique count of user_id, by region, instance_type": what a meter aggregates, and per what. */
function aggregationText(meter: Meter): string {
  const name = AGGREGATION_NAMES[meter.aggregation] ?? "unknown";
  const counted = meter.aggregation === Aggregation.UNIQUE_COUNT && meter.uniqueAttribute !== "" ? `${name} of ${meter.uniqueAttribute}` : name;
  return meter.dimensions.length === 0 ? counted : `${counted}, by ${meter.dimensions.join(", ")}`;
}

/** " for region=eu, customer cus_1": whose usage a price version prices, beyond its meter. */
function priceScopeText(price: Price): string {
  const parts = Object.entries(price.dimensionValues).map(([dimension, value]) => `${dimension}=${value}`);
  if (price.customerId !== "") parts.push(`customer ${price.customerId}`);
  return parts.length === 0 ? "" : ` for ${parts.join(", ")}`;
}

/**
 * The catalog: every meter with what it counts and the price versions it has
 * in each currency ("no price" where it has none), and for admin keys the
 * forms that create a meter and a price version. The server judges every
 * value; its field violations appear next to the fields.
 */
export function createMetersPage(client: BillingClient, access: CallerAccess): View {
  let generation = 0;
  const heading = h("h1", { tabindex: "-1" }, "Meters and prices");
  const failures = createFailureRegion("meters-failure");
  const status = h("p", { role: "status", class: "list-status", "data-testid": "meters-status" });
  const rows = h("tbody", { "data-testid": "meters-body" });
  const table = h(
    "table",
    { "data-testid": "meters-table" },
    h("caption", { class: "visually-hidden" }, "Meters and their prices"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Meter"),
        h("th", { scope: "col" }, "Unit"),
        h("th", { scope: "col" }, "Aggregation"),
        h("th", { scope: "col" }, "Quantities"),
        h("th", { scope: "col" }, "Prices"),
      ),
    ),
    rows,
  );
  const meterSelect = h("select", { id: "price-meter", name: "meter_key", "data-testid": "price-meter" });
  const element = h(
    "div",
    { class: "meters-page" },
    heading,
    failures.element,
    status,
    h("div", { class: "table-scroll", role: "region", "aria-label": "Meters", tabindex: "0" }, table),
    access.canAdminister
      ? h("div", { class: "customer-grid" }, createMeterForm(client, () => void load()), createPriceForm(client, meterSelect, () => void load()))
      : h("p", { class: "hint", "data-testid": "catalog-read-only" }, `This is a ${access.role} key: creating meters and prices needs an admin key.`),
  );

  async function load(): Promise<void> {
    const loadNumber = ++generation;
    table.setAttribute("aria-busy", "true");
    try {
      const [meters, prices] = await Promise.all([client.listMeters({ pageSize: PAGE_SIZE }), allPrices(client)]);
      if (loadNumber !== generation) return;
      failures.clear();
      const byMeter = new Map<string, Price[]>();
      for (const price of prices.prices) byMeter.set(price.meterKey, [...(byMeter.get(price.meterKey) ?? []), price]);
      replaceChildren(rows, meters.meters.map((meter) => meterRow(meter, byMeter.get(meter.key) ?? [])));
      replaceChildren(
        meterSelect,
        meters.meters.map((meter) => h("option", { value: meter.key }, `${meter.displayName || meter.key} (${meter.unit})`)),
      );
      status.textContent = [
        meters.meters.length === 0 ? "No meters yet." : `${meters.meters.length} meter${meters.meters.length === 1 ? "" : "s"}.`,
        meters.nextPageToken === "" ? "" : ` Only the first ${PAGE_SIZE} are shown.`,
        prices.complete ? "" : ` Only the first ${PAGE_SIZE * MAX_PRICE_PAGES} price versions are shown.`,
      ].join("");
    } catch (error) {
      if (loadNumber !== generation) return;
      failures.show("Loading the meters and prices", error);
    } finally {
      if (loadNumber === generation) table.removeAttribute("aria-busy");
    }
  }

  void load();
  return {
    element,
    heading,
    dispose() {
      generation++;
    },
  };
}

async function allPrices(client: BillingClient): Promise<{ prices: Price[]; complete: boolean }> {
  const prices: Price[] = [];
  let pageToken = "";
  for (let page = 0; page < MAX_PRICE_PAGES; page++) {
    const answer = await client.listPrices({ pageSize: PAGE_SIZE, pageToken });
    prices.push(...answer.prices);
    pageToken = answer.nextPageToken;
    if (pageToken === "") return { prices, complete: true };
  }
  return { prices, complete: false };
}

function meterRow(meter: Meter, prices: Price[]): HTMLTableRowElement {
  // Newest version first within each currency: it is the one that prices from its period on.
  const sorted = [...prices].sort((a, b) => a.currencyCode.localeCompare(b.currencyCode) || b.version - a.version);
  return h(
    "tr",
    { "data-testid": "meter-row", "data-meter-key": meter.key },
    h("th", { scope: "row" }, meter.displayName || meter.key, h("span", { class: "external-id" }, h("code", {}, meter.key))),
    h("td", {}, meter.unit),
    h("td", { "data-testid": "meter-aggregation-text" }, aggregationText(meter)),
    h(
      "td",
      { "data-testid": "meter-quantities" },
      meter.wholeUnits ? "whole units" : `up to ${meter.precision} digit${meter.precision === 1 ? "" : "s"} after the point`,
    ),
    h(
      "td",
      { "data-testid": "meter-prices" },
      sorted.length === 0
        ? h("span", { class: "muted", "data-testid": "meter-no-price" }, "no price")
        : h(
            "ul",
            { class: "plain-list" },
            sorted.map((price) =>
              h(
                "li",
                { "data-testid": "meter-price", "data-currency": price.currencyCode, "data-version": price.version },
                `${price.currencyCode} v${price.version}${priceScopeText(price)} from ${price.effectivePeriod}: `,
                tiersText(price, meter.unit),
              ),
            ),
          ),
    ),
  );
}

/** "0.0125 per GB-hour", or "first 100 at 0 · 100 – 1,000 at 0.09 · over 1,000 at 0.07". */
function tiersText(price: Price, unit: string): string {
  if (price.tiers.length === 1 && price.tiers[0]!.upTo === "") return `${groupDigits(price.tiers[0]!.unitAmount)} per ${unit || "unit"}`;
  return price.tiers
    .map((tier, index) => {
      const from = index === 0 ? "" : price.tiers[index - 1]!.upTo;
      const band = tier.upTo === "" ? `over ${groupDigits(from)}` : from === "" ? `first ${groupDigits(tier.upTo)}` : `${groupDigits(from)} – ${groupDigits(tier.upTo)}`;
      return `${band} at ${groupDigits(tier.unitAmount)}`;
    })
    .join(" · ");
}

/** A form whose controls show the server's field violations by field path. */
function fieldFor(control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, label: string, error: FieldError, hint?: HTMLElement): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), hint, control, error.element);
}

/**
 * Sends a catalog form: one request id per filled form (a double click or a
 * retry replays instead of creating twice), a new one after each success.
 */
function submitter(options: {
  form: HTMLFormElement;
  failures: ReturnType<typeof createFailureRegion>;
  result: HTMLElement;
  fieldErrors: FieldError[];
  showViolation: (field: string, description: string) => void;
  send: (requestId: string) => Promise<string>;
  action: string;
  onDone: () => void;
}): void {
  let requestId = newRequestId();
  let sending = false;
  options.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sending) return;
    sending = true;
    options.failures.clear();
    for (const error of options.fieldErrors) error.clear();
    options.result.textContent = "";
    options.form.setAttribute("aria-busy", "true");
    options.send(requestId).then(
      (done) => {
        requestId = newRequestId();
        options.result.textContent = done;
        options.onDone();
      },
      (error: unknown) => {
        const failure = options.failures.show(options.action, error);
        for (const violation of failure.fieldViolations) options.showViolation(violation.field, violation.description);
      },
    ).finally(() => {
      sending = false;
      options.form.removeAttribute("aria-busy");
    });
  });
}

function createMeterForm(client: BillingClient, onCreated: () => void): HTMLElement {
  const key = h("input", { id: "meter-key", name: "key", type: "text", autocomplete: "off", spellcheck: "false", "data-testid": "meter-key" });
  const displayName = h("input", { id: "meter-display-name", name: "display_name", type: "text", autocomplete: "off", "data-testid": "meter-display-name" });
  const unit = h("input", { id: "meter-unit", name: "unit", type: "text", autocomplete: "off", "data-testid": "meter-unit" });
  const aggregation = h(
    "select",
    { id: "meter-aggregation", name: "aggregation", "data-testid": "meter-aggregation" },
    h("option", { value: String(Aggregation.SUM) }, "sum of the quantities"),
    h("option", { value: String(Aggregation.COUNT) }, "count of the events"),
    h("option", { value: String(Aggregation.MAX) }, "largest quantity"),
    h("option", { value: String(Aggregation.UNIQUE_COUNT) }, "distinct values of an attribute"),
    h("option", { value: String(Aggregation.LATEST) }, "latest quantity by event time"),
  );
  const uniqueAttribute = h("input", { id: "meter-unique-attribute", name: "unique_attribute", type: "text", autocomplete: "off", spellcheck: "false", "data-testid": "meter-unique-attribute" });
  const dimensions = h("input", { id: "meter-dimensions", name: "dimensions", type: "text", autocomplete: "off", spellcheck: "false", "data-testid": "meter-dimensions" });
  const precision = h("input", { id: "meter-precision", name: "precision", type: "text", inputmode: "numeric", autocomplete: "off", "data-testid": "meter-precision" });
  const wholeUnits = h("input", { id: "meter-whole-units", name: "whole_units", type: "checkbox", "data-testid": "meter-whole-units" });
  const errors = {
    key: createFieldError(key),
    display_name: createFieldError(displayName),
    unit: createFieldError(unit),
    aggregation: createFieldError(aggregation),
    precision: createFieldError(precision, "meter-precision-hint"),
    unique_attribute: createFieldError(uniqueAttribute),
    dimensions: createFieldError(dimensions, "meter-dimensions-hint"),
  };
  const failures = createFailureRegion("meter-form-failure");
  const result = h("p", { role: "status", class: "hint", "data-testid": "meter-form-result" });
  const form = h(
    "form",
    { class: "record-form", novalidate: true, "aria-labelledby": "meter-form-heading", "data-testid": "meter-form" },
    fieldFor(key, "Key", errors.key, h("p", { class: "hint" }, "Lower-case letters, digits and '-', e.g. database-hosting.")),
    fieldFor(displayName, "Display name", errors.display_name),
    fieldFor(unit, "Unit", errors.unit),
    fieldFor(aggregation, "Aggregation", errors.aggregation),
    fieldFor(precision, "Digits after the point", errors.precision, h("p", { id: "meter-precision-hint", class: "hint" }, "1 to 9; empty means 9.")),
    h("div", { class: "field checkbox" }, wholeUnits, h("label", { for: wholeUnits.id }, "Whole units only")),
    fieldFor(uniqueAttribute, "Unique attribute (distinct values only)", errors.unique_attribute),
    fieldFor(dimensions, "Dimensions (optional)", errors.dimensions, h("p", { id: "meter-dimensions-hint", class: "hint" }, "Up to 4 attribute keys, comma-separated, e.g. region, instance_type.")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create meter")),
    failures.element,
  );
  submitter({
    form,
    failures,
    result,
    fieldErrors: Object.values(errors),
    showViolation: (field, description) => errors[field.replace(/^meter\./, "").replace(/\[\d+\]$/, "") as keyof typeof errors]?.show(description),
    action: "Creating the meter",
    onDone: onCreated,
    send: async (requestId) => {
      const digits = precision.value.trim();
      const { meter, replayed } = await client.createMeter({
        requestId,
        meter: {
          key: key.value,
          displayName: displayName.value,
          unit: unit.value,
          aggregation: Number(aggregation.value),
          // Not a number (e.g. "two") is sent as -1, so the server names the field rather than the page guessing.
          precision: digits === "" ? 0 : /^\d+$/.test(digits) ? Number(digits) : -1,
          wholeUnits: wholeUnits.checked,
          uniqueAttribute: uniqueAttribute.value.trim(),
          dimensions: dimensions.value
            .split(",")
            .map((dimension) => dimension.trim())
            .filter((dimension) => dimension !== ""),
        },
      });
      return `${replayed ? "Already created" : "Created"} meter ${meter?.key ?? key.value}.`;
    },
  });
  return h("section", { class: "panel", "aria-labelledby": "meter-form-heading", "data-testid": "create-meter" }, h("h2", { id: "meter-form-heading" }, "Create a meter"), form, result);
}

function createPriceForm(client: BillingClient, meterSelect: HTMLSelectElement, onCreated: () => void): HTMLElement {
  const currency = h("input", { id: "price-currency", name: "currency_code", type: "text", autocomplete: "off", value: "USD", "data-testid": "price-currency" });
  const tiers = h("textarea", { id: "price-tiers", name: "tiers", rows: 3, spellcheck: "false", "data-testid": "price-tiers" });
  const effectivePeriod = h("input", { id: "price-effective-period", name: "effective_period", type: "text", autocomplete: "off", placeholder: "YYYY-MM", "data-testid": "price-effective-period" });
  const errors = {
    meter_key: createFieldError(meterSelect),
    currency_code: createFieldError(currency),
    tiers: createFieldError(tiers, "price-tiers-hint"),
    effective_period: createFieldError(effectivePeriod, "price-effective-period-hint"),
  };
  const failures = createFailureRegion("price-form-failure");
  const result = h("p", { role: "status", class: "hint", "data-testid": "price-form-result" });
  const form = h(
    "form",
    { class: "record-form", novalidate: true, "aria-labelledby": "price-form-heading", "data-testid": "price-form" },
    fieldFor(meterSelect, "Meter", errors.meter_key),
    fieldFor(currency, "Currency", errors.currency_code),
    fieldFor(
      tiers,
      "Tiers",
      errors.tiers,
      h("p", { id: "price-tiers-hint", class: "hint" }, "One per line: “up_to unit_amount”; the last line only “unit_amount”. One line is a flat price per unit."),
    ),
    fieldFor(effectivePeriod, "From period (optional)", errors.effective_period, h("p", { id: "price-effective-period-hint", class: "hint" }, "Empty means the current period.")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create price")),
    failures.element,
  );
  submitter({
    form,
    failures,
    result,
    fieldErrors: Object.values(errors),
    showViolation: (field, description) => {
      const name = field.replace(/^price\./, "").replace(/^tiers.*/, "tiers");
      errors[name as keyof typeof errors]?.show(name === "tiers" ? `${field}: ${description}` : description);
    },
    action: "Creating the price",
    onDone: onCreated,
    send: async (requestId) => {
      const lines = tiers.value.split("\n").map((line) => line.trim().split(/\s+/).filter(Boolean)).filter((words) => words.length > 0);
      const { price, replayed } = await client.createPrice({
        requestId,
        price: {
          meterKey: meterSelect.value,
          currencyCode: currency.value.trim(),
          effectivePeriod: effectivePeriod.value.trim(),
          tiers: lines.map((words) => (words.length === 1 ? { unitAmount: words[0]! } : { upTo: words[0]!, unitAmount: words.slice(1).join(" ") })),
        },
      });
      return `${replayed ? "Already created" : "Created"} ${price?.currencyCode ?? ""} price v${price?.version ?? "?"} of ${price?.meterKey ?? meterSelect.value}.`;
    },
  });
  return h("section", { class: "panel", "aria-labelledby": "price-form-heading", "data-testid": "create-price" }, h("h2", { id: "price-form-heading" }, "Create a price version"), form, result);
}
