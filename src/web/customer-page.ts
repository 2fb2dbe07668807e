import type { BillingClient } from "tally/client";
import { type Bill, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import type { Meter } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import type { Customer } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { createAlertsPanel } from "./alerts-panel.js";
import { createBillPanel } from "./bill-panel.js";
import { createBillsPanel } from "./bills-panel.js";
import type { CallerAccess } from "./caller-access.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { currentPeriod } from "./format.js";
import { createRecordUsageForm } from "./record-usage-form.js";
import { customerHref, customersHref } from "./routes.js";
import { createUsageChartPanel } from "./usage-chart.js";
import { createUsageLimitsPanel } from "./usage-limits-panel.js";
import { createUsageRecordsPanel } from "./usage-records-panel.js";
import type { View } from "./view.js";

/** ListBills' largest page: every period a customer is likely to have, in one call. */
const BILLS_PAGE_SIZE = 120;
/** ListMeters' largest page. */
const METERS_PAGE_SIZE = 1000;

/** A customer's page; the router changes its period in place rather than rebuilding it. */
export interface CustomerPage extends View {
  /** The customer as the route names it (Tally id or external id). */
  routeCustomerId: string;
  /** Shows another period (undefined: the newest, i.e. the current one). */
  showPeriod(period: string | undefined): void;
}

/**
 * One customer: the bill of a chosen period (with its CSV), the customer's
 * bills, its usage limits per meter, the alerts it reached (followed live,
 * with a form for admin keys to ask for one), its usage per day, the usage records behind it, and a form to record
 * more. Recording or voiding usage refreshes them all, since each changes the
 * bill, the chart and the ledger. The form is there for keys that may record
 * (ingest, admin), the void actions for admin keys.
 */
export function createCustomerPage(client: BillingClient, access: CallerAccess, routeCustomerId: string, initialPeriod: string | undefined): CustomerPage {
  let selectedPeriod = initialPeriod;
  let customer: Customer | undefined;
  const meters = new Map<string, Meter>();
  // Bumped by every refresh and by dispose: answers to an older refresh are dropped.
  let generation = 0;

  const heading = h("h1", { tabindex: "-1", "data-testid": "customer-name" }, routeCustomerId);
  const meta = h("p", { class: "customer-meta", "data-testid": "customer-meta" });
  const failures = createFailureRegion("customer-failure");
  const periodSelect = h("select", { id: "period-select", name: "period", "data-testid": "period-select", disabled: true });
  const periodPicker = h("div", { class: "period-picker" }, h("label", { for: "period-select" }, "Billing period"), periodSelect);
  // An earlier revision of a finalized bill is fetched when chosen; the list keeps offering every revision up to the latest.
  let latestRevision = 0;
  const billPanel = createBillPanel({
    onRevision: (period, revision) => {
      billPanel.loading(period);
      client.getBill({ customerId: routeCustomerId, period, revision }).then(
        ({ bill }) => {
          if (bill !== undefined && period === selectedPeriod) billPanel.show(bill, latestRevision);
        },
        (error: unknown) => billPanel.showFailure("Loading the bill revision", error),
      );
    },
  });
  const billsPanel = createBillsPanel((period) => customerHref(routeCustomerId, period));
  const chartPanel = createUsageChartPanel();
  const limitsPanel = createUsageLimitsPanel(client);
  const alertsPanel = createAlertsPanel(client);
  const recordsPanel = createUsageRecordsPanel(client, { meters, onVoided: () => void refresh(false) });
  const side = h("div", { class: "side" });
  const sections = [
    periodPicker,
    h("div", { class: "customer-grid" }, billPanel.element, side),
    billsPanel.element,
    limitsPanel.element,
    alertsPanel.element,
    chartPanel.element,
    recordsPanel.element,
  ];
  const element = h(
    "div",
    { class: "customer-page" },
    h("nav", { "aria-label": "Breadcrumb", class: "breadcrumb" }, h("a", { href: customersHref() }, "All customers")),
    heading,
    meta,
    failures.element,
    sections,
  );

  periodSelect.addEventListener("change", () => {
    // Through the URL, so the period is bookmarkable and Back returns to the previous one.
    location.hash = customerHref(routeCustomerId, periodSelect.value);
  });

  async function start(): Promise<void> {
    const startNumber = generation;
    const [customerResult, metersResult] = await Promise.allSettled([
      client.getCustomer({ id: routeCustomerId }),
      client.listMeters({ pageSize: METERS_PAGE_SIZE }),
    ]);
    if (startNumber !== generation) return;
    customer = customerResult.status === "fulfilled" ? customerResult.value.customer : undefined;
    if (customer === undefined) {
      // Without the customer there is no bill to show: only the reason, in words.
      heading.textContent = `Customer ${routeCustomerId}`;
      for (const section of sections) section.remove();
      failures.show("Loading the customer", customerResult.status === "rejected" ? customerResult.reason : new Error("GetCustomer answered without a customer"));
      return;
    }
    heading.textContent = customer.displayName || customer.id;
    document.title = `${heading.textContent} — Tally`;
    replaceChildren(
      meta,
      customer.externalId === "" ? null : ["External id ", h("code", {}, customer.externalId), " · "],
      "Tally id ",
      h("code", {}, customer.id),
      ` · billed in ${customer.currencyCode}`,
    );
    if (metersResult.status === "rejected") {
      failures.show("Loading the meters", metersResult.reason);
      replaceChildren(side, h("p", { class: "empty" }, "Usage cannot be recorded here until the meters load."));
    } else if (!access.canRecord) {
      for (const meter of metersResult.value.meters) meters.set(meter.key, meter);
      replaceChildren(
        side,
        h(
          "section",
          { class: "panel", "data-testid": "record-not-offered" },
          h("h2", {}, "Record usage"),
          h("p", { class: "empty" }, `This is a ${access.role} key: recording usage needs an ingest or admin key.`),
        ),
      );
    } else {
      for (const meter of metersResult.value.meters) meters.set(meter.key, meter);
      const customerId = customer.id;
      replaceChildren(
        side,
        createRecordUsageForm(client, {
          customerId,
          meters: metersResult.value.meters,
          shownPeriod: () => selectedPeriod ?? "",
          onRecorded: () => void refresh(true),
        }),
      );
    }
    alertsPanel.start(customer.id, [...meters.values()], access.canAdminister);
    await refresh(true);
  }

  async function refresh(firstRecordsPage: boolean): Promise<void> {
    if (customer === undefined) return;
    const customerId = customer.id;
    const refreshNumber = ++generation;
    const stale = () => refreshNumber !== generation;

    let bills: Bill[] = [];
    try {
      bills = (await client.listBills({ customerId, pageSize: BILLS_PAGE_SIZE })).bills;
      if (stale()) return;
      failures.clear();
    } catch (error) {
      if (stale()) return;
      failures.show("Loading the billing periods", error);
    }
    const period = selectedPeriod ?? bills[0]?.period ?? currentPeriod();
    selectedPeriod = period;
    renderPeriodOptions(bills, period);
    billsPanel.show(bills);
    billPanel.loading(period);
    chartPanel.loading(period);
    const daily = settle(client.getDailyUsage({ customerId, period }));

    let bill = bills.find((candidate) => candidate.period === period);
    if (bill === undefined) {
      try {
        bill = (await client.getBill({ customerId, period })).bill;
      } catch (error) {
        if (stale()) return;
        billPanel.showFailure("Loading the bill", error);
      }
    }
    if (stale()) return;
    latestRevision = bill?.revision ?? 0;
    if (bill !== undefined) billPanel.show(bill, latestRevision);
    const records = recordsPanel.show({ customerId, period, canVoid: access.canAdminister && bill?.status !== BillStatus.FINALIZED }, { firstPage: firstRecordsPage });

    // The limits describe the current period whatever period is shown; they change with every recording.
    const limits = limitsPanel.show(customerId, [...meters.values()], stale);
    const dailyResult = await daily;
    if (stale()) return;
    if (dailyResult.ok) chartPanel.show(period, dailyResult.value.days, meters);
    else chartPanel.showFailure("Loading the daily usage", dailyResult.error);
    await records;
    await limits;
  }

  function renderPeriodOptions(bills: Bill[], period: string): void {
    // "current" by the browser's clock: only a label, so a skewed clock costs nothing but the word.
    const now = currentPeriod();
    const options = bills.map((bill) => ({ period: bill.period, status: bill.status === BillStatus.FINALIZED ? "finalized" : "draft" }));
    if (!options.some((option) => option.period === period)) options.push({ period, status: "no usage" });
    options.sort((a, b) => b.period.localeCompare(a.period));
    replaceChildren(
      periodSelect,
      options.map((option) =>
        h(
          "option",
          { value: option.period, selected: option.period === period },
          `${option.period} — ${option.period === now ? "current, " : ""}${option.status}`,
        ),
      ),
    );
    periodSelect.value = period;
    periodSelect.disabled = false;
  }

  void start();
  return {
    element,
    heading,
    routeCustomerId,
    showPeriod(period) {
      selectedPeriod = period;
      void refresh(true);
    },
    dispose() {
      generation++;
      recordsPanel.dispose();
      alertsPanel.dispose();
    },
  };
}

/** A call's outcome as a value, so it can be started early and awaited later without an unhandled rejection. */
function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
