import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { readFile } from "node:fs/promises";
import { type BillingClient, BillingError, createBillingClient } from "tally/client";
import { type Bill, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { scratchDirectory, startTallyProcess, type TallyProcess } from "../support/tally-process.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { createStoredKey } from "../support/test-tally.js";
import { launchChromium, type PageWatch, readShownBill, saveScreenshot, signedInContext, waitForShownTotal, watchPage } from "./dashboard-page.js";
import { type ProbeResult, startForeignOrigin } from "./foreign-origin.js";

/** The RPCs marked NO_SIDE_EFFECTS, which Connect-Web must send as GET. */
const READ_ONLY = new Set([
  "GetCustomer",
  "ListCustomers",
  "GetMeter",
  "ListMeters",
  "ListPrices",
  "GetUsageRecord",
  "ListUsageRecords",
  "GetDailyUsage",
  "GetCurrentBill",
  "GetBill",
  "ListBills",
  "GetCaller",
  "GetUsageAllowance",
]);

/** A line's combination as the CSV's last column names it: "region=eu;size=xl", "" without dimensions. */
const dimensionsText = (dimensions: Record<string, string>) =>
  Object.entries(dimensions)
    .map(([dimension, value]) => `${dimension}=${value}`)
    .join(";");

/** The rows a bill's CSV must have, built from the API's bill: exact strings, "no price" lines with no amount, the total last. */
function expectedCsv(bill: Bill): string[][] {
  const status = bill.status === BillStatus.FINALIZED ? "finalized" : "draft";
  const common = [bill.customerId, bill.period, status, bill.currencyCode];
  return [
    ["customer_id", "period", "status", "currency_code", "meter_key", "display_name", "unit", "quantity", "price_version", "amount", "note", "dimensions"],
    ...bill.lines.map((line) =>
      line.priceVersion > 0
        ? [...common, line.meterKey, line.displayName, line.unit, line.quantity, String(line.priceVersion), line.amount, "", dimensionsText(line.dimensions)]
        : [...common, line.meterKey, line.displayName, line.unit, line.quantity, "", "", "no price", dimensionsText(line.dimensions)],
    ),
    [...common, "", "", "", "", "", bill.total, "total", ""],
  ];
}

/** Clicks the bill's "Download CSV" and reads the file the browser saved (the demo's names hold no commas or quotes). */
async function downloadBillCsv(page: Page): Promise<{ fileName: string; rows: string[][] }> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("bill-csv").click()]);
  const text = await readFile((await download.path())!, "utf8");
  assert.ok(text.endsWith("\r\n"), "CRLF line ends (RFC 4180)");
  return { fileName: download.suggestedFilename(), rows: text.trimEnd().split("\r\n").map((line) => line.split(",")) };
}

/** Exact decimals as integers of thousandths, for sums in assertions (the demo meters have 3 digits at most). */
function thousandths(decimal: string): bigint {
  const [whole = "0", fraction = ""] = decimal.split(".");
  return BigInt(whole) * 1000n + BigInt(fraction.padEnd(3, "0"));
}

/**
 * A demo server whose period two months back holds `quantity` of globex's
 * seats and is finalized under the default 72 h grace: the usage is recorded
 * while a long grace keeps that period open, then the server restarts. Returns
 * the restarted server, the current period, and the past one with the
 * usage's date in it.
 */
async function serverWithFinalizedPeriod(dbPath: string, quantity: string): Promise<{ server: TallyProcess; current: string; past: string; eventDate: Date }> {
  const opened = await startTallyProcess(dbPath, ["--demo", "--finalize-grace", "2000h"]);
  let current: string;
  let eventDate: Date;
  try {
    const open = createBillingClient({ baseUrl: opened.url, protocol: "connect", apiKey: TEST_ADMIN_KEY });
    current = (await open.getCurrentBill({ customerId: "globex" })).bill!.period;
    const [year, month] = current.split("-").map(Number);
    eventDate = new Date(Date.UTC(year!, month! - 3, 15, 12));
    await open.recordUsage({ customerId: "globex", meterKey: "seats", quantity, eventTime: timestampFromDate(eventDate) });
  } finally {
    opened.child.kill("SIGTERM");
    await opened.exited;
  }
  return { server: await startTallyProcess(dbPath), current, past: eventDate.toISOString().slice(0, 7), eventDate };
}

// One real `tally serve --demo` process for the file, one browser, and one
// page that the happy-path tests share in order (as a person would use it);
// its traffic and console are checked at the end. Pages that provoke
// failures on purpose get their own context.
/** The customer page's WatchAlerts, a server stream open while the page is: leaving the page ends it (the browser aborts it). */
function endedByLeaving(call: { url: URL; failure?: string }): boolean {
  return call.url.pathname === "/billing.v1.BillingService/WatchAlerts" && call.failure === "net::ERR_ABORTED";
}

describe("the billing dashboard", () => {
  const scratch = scratchDirectory("tally-browser-");
  let tally: TallyProcess;
  let api: BillingClient;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let acmeId: string;

  before(async () => {
    [tally, browser] = await Promise.all([startTallyProcess(`${scratch.path}/tally.db`, ["--demo"]), launchChromium()]);
    api = createBillingClient({ baseUrl: tally.url, protocol: "connect", apiKey: TEST_ADMIN_KEY });
    acmeId = (await api.getCustomer({ id: "acme" })).customer!.id;
    context = await signedInContext(browser, { viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page, tally.url);
  });

  after(async () => {
    await browser?.close();
    tally?.child.kill("SIGTERM");
    await tally?.exited;
    scratch.cleanup();
  });

  it("lists the three demo customers with the totals of their current bills", async () => {
    await page.goto(tally.url);
    const rows = page.getByTestId("customer-row");
    await rows.nth(2).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-total"][data-state="loaded"]').length === 3);
    const shown = await rows.evaluateAll((elements) =>
      elements.map((row) => ({
        id: (row as HTMLElement).dataset.customerId!,
        name: row.querySelector('[data-testid="customer-link"]')!.textContent,
        externalId: row.querySelector('[data-testid="customer-external-id"]')!.textContent,
        currency: row.querySelector('[data-testid="customer-currency"]')!.textContent,
        total: (row.querySelector('[data-testid="customer-total"]') as HTMLElement).dataset.value!,
        totalText: row.querySelector('[data-testid="customer-total"]')!.textContent,
      })),
    );
    assert.deepEqual(
      shown.map(({ name, externalId, currency }) => [name, externalId, currency]),
      [
        ["Acme Corporation", "acme", "USD"],
        ["Globex", "globex", "USD"],
        ["Initech GmbH", "initech", "EUR"],
      ],
    );
    for (const row of shown) {
      const { bill } = await api.getCurrentBill({ customerId: row.id });
      assert.equal(row.total, bill!.total, `${row.name}'s total`);
      assert.equal(row.totalText, `${bill!.total} ${bill!.currencyCode}`);
    }
    await saveScreenshot(page, "customers-desktop");
  });

  it("searches as you type (debounced) and pages with Previous and Next", async () => {
    for (let index = 1; index <= 12; index++) {
      const number = String(index).padStart(2, "0");
      await api.createCustomer({ customer: { displayName: `Paging Sample ${number}`, externalId: `paging-${number}`, currencyCode: "USD" } });
    }
    const search = page.getByLabel("Search customers");
    await search.pressSequentially("paging", { delay: 20 });
    await page.waitForFunction(() => document.querySelector('[data-testid="customers-status"]')?.textContent?.includes("matching “paging”"));
    assert.equal(await page.getByTestId("customer-row").count(), 10);
    assert.match(page.url(), /#\/customers\?q=paging$/);
    const searches = watch.calls
      .filter((call) => call.url.pathname.endsWith("/ListCustomers"))
      .map((call) => (JSON.parse(call.url.searchParams.get("message") ?? "{}") as { query?: string }).query ?? "");
    assert.deepEqual(
      searches.filter((query) => query !== ""),
      ["paging"],
      "typing 'paging' quickly must cost one search, not one per keystroke",
    );

    const next = page.getByTestId("customers-pager-next");
    const previous = page.getByTestId("customers-pager-previous");
    assert.equal(await previous.getAttribute("aria-disabled"), "true");
    await next.click();
    await page.getByTestId("customers-pager-position").filter({ hasText: "Page 2" }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 2);
    assert.deepEqual(await page.getByTestId("customer-link").allTextContents(), ["Paging Sample 11", "Paging Sample 12"]);
    assert.equal(await next.getAttribute("aria-disabled"), "true");
    await previous.click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 10);
    assert.equal(await page.getByTestId("customer-link").first().textContent(), "Paging Sample 01");

    await search.fill("glob");
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="customer-row"]').length === 1);
    assert.equal(await page.getByTestId("customer-link").textContent(), "Globex");
  });

  it("is keyboard navigable: Tab reaches the customer links with a visible focus, Enter opens one", async () => {
    await page.goto(`${tally.url}/#/`);
    await page.getByTestId("customer-row").first().waitFor();
    let focused = "";
    for (let presses = 0; presses < 10 && focused !== "Acme Corporation"; presses++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
    }
    assert.equal(focused, "Acme Corporation");
    assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), "solid");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.activeElement?.tagName === "H1" && document.activeElement.textContent === "Acme Corporation");
    assert.match(page.url(), /#\/customers\/cus_/);
  });

  it("shows a customer's bill exactly as GetCurrentBill computes it", async () => {
    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    await page.getByTestId("usage-chart").first().waitFor();
    const shown = await readShownBill(page);
    const { bill } = await api.getCurrentBill({ customerId: acmeId });
    assert.equal(shown.period, bill!.period);
    assert.equal(shown.status, "draft");
    assert.equal(shown.total, bill!.total);
    assert.deepEqual(
      shown.lines,
      bill!.lines.map((line) => ({ meterKey: line.meterKey, quantity: line.quantity, amount: line.amount, priceVersion: line.priceVersion })),
    );
    assert.ok(bill!.lines.some((line) => line.tiers.length > 1), "the demo has graduated tiers");
    const tierAmounts = await page.getByTestId("bill-line-tier-amount").evaluateAll((cells) => cells.map((cell) => (cell as HTMLElement).dataset.value));
    assert.deepEqual(
      tierAmounts,
      bill!.lines.flatMap((line) => line.tiers.map((tier) => tier.amount)),
    );
    assert.equal(await page.getByTestId("bill-total").textContent(), `${bill!.total} USD`);
    assert.equal(await page.getByTestId("bill-price-versions").textContent(), "API requests v1, Database hosting v1, Network egress v1, Peak seats v1");
    assert.equal(await page.getByTestId("period-select").inputValue(), bill!.period);

    // Every chart has a title, a description and a table with the same numbers.
    const charts = page.getByTestId("usage-chart");
    assert.equal(await charts.count(), 4);
    for (const chart of await charts.all()) {
      const svg = chart.locator("svg");
      assert.equal(await svg.getAttribute("role"), "img");
      assert.match((await svg.locator("title").first().textContent()) ?? "", /per day, /);
      assert.match((await svg.locator("desc").textContent()) ?? "", /days have usage/);
    }
    const daily = await api.getDailyUsage({ customerId: acmeId, period: bill!.period });
    const cells = await page.getByTestId("usage-cell").evaluateAll((elements) =>
      elements.map((cell) => (cell as HTMLElement).dataset).filter((data) => data.quantity !== "").map((data) => `${data.date} ${data.meterKey} ${data.quantity}`),
    );
    assert.deepEqual(cells.sort(), daily.days.map((day) => `${day.date} ${day.meterKey} ${day.quantity}`).sort());
    await saveScreenshot(page, "bill-desktop");
  });

  it("shows each meter's usage limit, what the current period used and what remains, as GetUsageAllowance answers", async () => {
    const { meters } = await api.listMeters({});
    const limited = meters[0]!;
    const { used } = await api.getUsageAllowance({ customerId: acmeId, meterKey: limited.key });
    const limit = (BigInt(used.split(".")[0]!) + 1000n).toString();
    await api.setUsageLimit({ limit: { customerId: acmeId, meterKey: limited.key, limit } });
    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    await page.reload(); // the page may already show this customer, from before the limit
    const row = page.locator(`[data-testid="usage-limits-row"][data-meter="${limited.key}"]`);
    await row.waitFor();
    const allowance = await api.getUsageAllowance({ customerId: acmeId, meterKey: limited.key });
    assert.deepEqual(await row.locator("td").allTextContents(), [allowance.limit, allowance.used, allowance.remaining]);
    const other = page.locator(`[data-testid="usage-limits-row"][data-meter="${meters[1]!.key}"]`);
    assert.equal(await other.locator("td").first().textContent(), "no limit");
    await api.setUsageLimit({ limit: { customerId: acmeId, meterKey: limited.key, limit: null } });
  });

  it("follows the customer's alerts live, and lets an admin create one from the page", async () => {
    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    await page.reload();
    await page.getByTestId("alert-form").waitFor();
    const { used } = await api.getUsageAllowance({ customerId: acmeId, meterKey: "database-hosting" });
    const threshold = (BigInt(used.split(".")[0]!) + 5n).toString();
    await page.getByLabel("Watch").selectOption("database-hosting");
    await page.getByLabel("Threshold").fill(threshold);
    await page.getByRole("button", { name: "Create alert" }).click();
    await page.getByTestId("alert-result").filter({ hasText: "created" }).waitFor();
    // The usage that crosses it, recorded elsewhere: the page learns of it through WatchAlerts.
    await api.recordUsage({ customerId: acmeId, meterKey: "database-hosting", quantity: "10" });
    const event = page.getByTestId("alert-event").first();
    await event.waitFor();
    const after = await api.getUsageAllowance({ customerId: acmeId, meterKey: "database-hosting" });
    assert.deepEqual(await event.locator("td").allTextContents().then((cells) => cells.slice(1, 4)), ["database-hosting", threshold, after.used]);
  });

  it("records usage from the form and updates the bill, the chart and the records", async () => {
    const before = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    const hostingBefore = before.lines.find((line) => line.meterKey === "database-hosting")!;
    await page.getByLabel("Meter").selectOption("database-hosting");
    await page.getByLabel("Quantity").fill("10");
    const requestId = await page.getByLabel("Request id").inputValue();
    assert.match(requestId, /^[0-9a-f-]{36}$/);
    await page.getByRole("button", { name: "Record usage" }).click();

    const indicator = page.getByTestId("replayed-indicator");
    await indicator.waitFor();
    assert.equal(await indicator.getAttribute("data-replayed"), "false");
    const after = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    const hostingAfter = after.lines.find((line) => line.meterKey === "database-hosting")!;
    assert.equal(thousandths(hostingAfter.quantity) - thousandths(hostingBefore.quantity), 10_000n);
    assert.notEqual(after.total, before.total);
    await waitForShownTotal(page, after.total);
    const shown = await readShownBill(page);
    assert.equal(shown.lines.find((line) => line.meterKey === "database-hosting")?.amount, hostingAfter.amount);

    const { record } = await api.getUsageRecord({ id: (await page.getByTestId("recorded-record-id").textContent())! });
    const day = timestampDate(record!.eventTime!).toISOString().slice(0, 10);
    const daily = await api.getDailyUsage({ customerId: acmeId, period: after.period });
    const expectedBar = daily.days.find((entry) => entry.date === day && entry.meterKey === "database-hosting")!;
    const bar = page.locator(`[data-testid="usage-chart"][data-meter-key="database-hosting"] [data-testid="usage-bar"][data-date="${day}"]`);
    await bar.and(page.locator(`[data-quantity="${expectedBar.quantity}"]`)).waitFor();
    assert.match((await bar.locator("title").textContent()) ?? "", new RegExp(`^${day}: ${expectedBar.quantity.replace(".", "\\.")} GB-hour`));
    await page.locator(`[data-testid="usage-record-row"][data-request-id="${requestId}"]`).waitFor();
  });

  it("shows 'replayed' when the same request id is sent again, and the bill does not change", async () => {
    const before = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    await page.getByRole("button", { name: "Record usage" }).click();
    await page.locator('[data-testid="replayed-indicator"][data-replayed="true"]').waitFor();
    assert.equal(await page.getByTestId("replayed-indicator").textContent(), "replayed");
    const requestId = await page.getByLabel("Request id").inputValue();
    await page.waitForFunction(() => !document.querySelector('[data-testid="records"] table')?.hasAttribute("aria-busy"));
    assert.equal(await page.locator(`[data-testid="usage-record-row"][data-request-id="${requestId}"]`).count(), 1);
    assert.equal((await api.getCurrentBill({ customerId: acmeId })).bill!.total, before.total);
    await waitForShownTotal(page, before.total);
  });

  it("voids a record with a reason and takes its amount off the bill", async () => {
    const before = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    await page.getByRole("button", { name: "New id" }).click();
    const requestId = await page.getByLabel("Request id").inputValue();
    await page.getByLabel("Meter").selectOption("egress");
    await page.getByLabel("Quantity").fill("123.456");
    await page.getByRole("button", { name: "Record usage" }).click();
    await page.locator('[data-testid="replayed-indicator"][data-replayed="false"]').waitFor();
    const withRecord = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    assert.notEqual(withRecord.total, before.total);
    await waitForShownTotal(page, withRecord.total);

    const row = page.locator(`[data-testid="usage-record-row"][data-request-id="${requestId}"]`);
    await row.getByRole("button", { name: `Void record ${requestId}` }).click();
    const reason = page.getByLabel("Reason for voiding");
    await reason.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id.startsWith("void-reason-")), true, "the reason field takes focus");
    await reason.fill("entered twice by mistake");
    await page.getByRole("button", { name: "Void record", exact: true }).click();

    await page.locator(`[data-testid="usage-record-row"][data-request-id="${requestId}"][data-voided="true"]`).waitFor();
    assert.match((await row.getByTestId("usage-record-status").textContent()) ?? "", /^voided: entered twice by mistake/);
    const afterVoid = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    assert.equal(afterVoid.total, before.total, "the void takes exactly the record's amount off");
    await waitForShownTotal(page, before.total);
    assert.deepEqual((await readShownBill(page)).lines.map((line) => line.amount), before.lines.map((line) => line.amount));
  });

  it("shows the server's field violations next to the fields and the error in words", async () => {
    const failing = await signedInContext(browser, { viewport: { width: 1280, height: 900 } });
    try {
      const form = await failing.newPage();
      await form.goto(`${tally.url}/#/customers/no-such-customer`);
      const missing = form.getByTestId("customer-failure");
      await missing.getByTestId("failure-reason").waitFor();
      assert.equal(await missing.getByTestId("failure-code").textContent(), "NOT_FOUND");
      assert.equal(await missing.getByTestId("failure-reason").textContent(), "CUSTOMER_NOT_FOUND");
      assert.equal(await form.getByTestId("bill").count(), 0);

      await form.goto(`${tally.url}/#/customers/acme`);
      await form.getByLabel("Meter").selectOption("api-requests");
      const before = (await api.getCurrentBill({ customerId: acmeId })).bill!;

      const expected = await api.recordUsage({ customerId: acmeId, meterKey: "api-requests", quantity: "abc" }).then(
        () => assert.fail("abc was accepted"),
        (error: unknown) => error as BillingError,
      );
      assert.ok(expected instanceof BillingError);
      await form.getByLabel("Quantity").fill("abc");
      await form.getByRole("button", { name: "Record usage" }).click();
      const quantityError = form.getByTestId("field-error-quantity");
      await quantityError.waitFor();
      assert.equal(await quantityError.textContent(), expected.fieldViolations[0]!.description);
      const quantity = form.getByLabel("Quantity");
      assert.equal(await quantity.getAttribute("aria-invalid"), "true");
      assert.deepEqual((await quantity.getAttribute("aria-describedby"))?.split(" "), ["record-quantity-hint", "record-quantity-error"]);
      const alert = form.getByTestId("record-failure");
      assert.equal(await alert.getAttribute("role"), "alert");
      assert.equal(await alert.getByTestId("failure-code").textContent(), "INVALID_ARGUMENT");
      assert.equal(await alert.getByTestId("failure-reason").textContent(), "INVALID_QUANTITY");
      assert.equal(await alert.getByTestId("failure-detail").textContent(), expected.detail);

      // Too many decimals for the meter's precision (egress allows 3).
      await form.getByLabel("Meter").selectOption("egress");
      await quantity.fill("1.23456");
      assert.equal(await quantity.getAttribute("aria-invalid"), null, "editing the field withdraws the old message");
      await form.getByRole("button", { name: "Record usage" }).click();
      await form.waitForFunction(() => document.querySelector('[data-testid="field-error-quantity"]')?.textContent?.includes("digits after the point"));

      // An event time too far ahead is the event time's fault.
      await quantity.fill("1");
      await form.getByLabel("Event time (UTC, optional)").fill("2099-01-01T00:00");
      await form.getByRole("button", { name: "Record usage" }).click();
      const eventTimeError = form.getByTestId("field-error-event_time");
      await eventTimeError.waitFor();
      assert.match((await eventTimeError.textContent()) ?? "", /ahead of the server clock/);
      assert.equal(await form.getByLabel("Event time (UTC, optional)").getAttribute("aria-invalid"), "true");
      assert.equal(await alert.getByTestId("failure-reason").textContent(), "EVENT_TIME_OUT_OF_RANGE");
      assert.equal(await quantity.getAttribute("aria-invalid"), null);

      assert.equal((await api.getCurrentBill({ customerId: acmeId })).bill!.total, before.total, "refused requests record nothing");
    } finally {
      await failing.close();
    }
  });

  it("lists past periods with their status and shows a finalized bill without void actions", async () => {
    const pastScratch = scratchDirectory("tally-browser-periods-");
    const { server, current, past } = await serverWithFinalizedPeriod(`${pastScratch.path}/tally.db`, "9");
    const periods = await signedInContext(browser, { viewport: { width: 1280, height: 900 } });
    try {
      const closed = createBillingClient({ baseUrl: server.url, protocol: "connect", apiKey: TEST_ADMIN_KEY });
      const pastBill = (await closed.getBill({ customerId: "globex", period: past })).bill!;
      assert.equal(pastBill.status, BillStatus.FINALIZED);

      const periodsPage = await periods.newPage();
      const periodsWatch = watchPage(periodsPage, server.url);
      await periodsPage.goto(`${server.url}/#/customers/globex`);
      const select = periodsPage.getByLabel("Billing period");
      await periodsPage.locator(`#period-select option[value="${past}"]`).waitFor({ state: "attached" });
      assert.deepEqual(await select.locator("option").allTextContents(), [`${current} — current, draft`, `${past} — finalized`]);
      await periodsPage.getByTestId("usage-record-row").first().waitFor();
      assert.ok((await periodsPage.getByTestId("void-button").count()) > 0, "draft records can be voided");

      await select.selectOption(past);
      await periodsPage.locator(`[data-testid="bill"][data-period="${past}"]`).waitFor();
      assert.match(periodsPage.url(), new RegExp(`\\?period=${past}$`));
      const shown = await readShownBill(periodsPage);
      assert.equal(shown.status, "finalized");
      assert.equal(shown.total, pastBill.total);
      assert.deepEqual(shown.lines.map((line) => [line.meterKey, line.quantity, line.amount]), [["seats", "9", pastBill.lines[0]!.amount]]);
      await periodsPage.locator(`[data-testid="usage-bar"][data-date="${past}-15"][data-quantity="9"]`).waitFor();
      await periodsPage.waitForFunction(() => document.querySelectorAll('[data-testid="usage-record-row"]').length === 1);
      assert.equal(await periodsPage.getByTestId("void-button").count(), 0, "a finalized period offers no void");

      // The bills list names the finalized bill, and its CSV is the API's bill, digit for digit.
      const finalizedRow = periodsPage.locator(`[data-testid="bills-row"][data-period="${past}"]`);
      assert.equal(await finalizedRow.getAttribute("data-status"), "finalized");
      assert.equal(await finalizedRow.getByTestId("bills-total").getAttribute("data-value"), pastBill.total);
      const csv = await downloadBillCsv(periodsPage);
      assert.equal(csv.fileName, `bill-${pastBill.customerId}-${past}.csv`);
      assert.deepEqual(csv.rows, expectedCsv(pastBill));
      assert.equal(csv.rows[1]![2], "finalized");

      await periodsPage.goBack();
      await periodsPage.locator(`[data-testid="bill"][data-period="${current}"]`).waitFor();
      assert.equal(await select.inputValue(), current);
      assert.deepEqual(periodsWatch.errors, []);
    } finally {
      await periods.close();
      server.child.kill("SIGTERM");
      await server.exited;
      pastScratch.cleanup();
    }
  });

  it("shows credits applied, the amount due and a corrected bill's revisions, each as stored", async () => {
    const scratchRevisions = scratchDirectory("tally-browser-revisions-");
    const { server, current, past, eventDate } = await serverWithFinalizedPeriod(`${scratchRevisions.path}/tally.db`, "3");
    const revisions = await signedInContext(browser, { viewport: { width: 1280, height: 900 } });
    try {
      const api = createBillingClient({ baseUrl: server.url, protocol: "connect", apiKey: TEST_ADMIN_KEY });
      const first = (await api.getBill({ customerId: "globex", period: past })).bill!;
      await api.recordUsage({ customerId: "globex", meterKey: "seats", quantity: "5", eventTime: timestampFromDate(eventDate), correction: true });
      const second = (await api.getBill({ customerId: "globex", period: past })).bill!;
      assert.deepEqual([first.revision, second.revision], [1, 2]);
      await api.grantCredit({ grant: { customerId: "globex", amount: "1.00", reason: "browser test" } });
      const draft = (await api.getCurrentBill({ customerId: "globex" })).bill!;

      const revisionsPage = await revisions.newPage();
      const revisionsWatch = watchPage(revisionsPage, server.url);
      await revisionsPage.goto(`${server.url}/#/customers/globex`);
      await revisionsPage.locator(`[data-testid="bill"][data-period="${current}"]`).waitFor();
      await revisionsPage.getByTestId("bill-amount-due").waitFor();
      assert.equal(await revisionsPage.getByTestId("bill-credits-applied").getAttribute("data-value"), draft.creditsApplied);
      assert.equal(await revisionsPage.getByTestId("bill-amount-due").getAttribute("data-value"), draft.amountDue);
      assert.equal(draft.creditsApplied, "1.00");

      await revisionsPage.locator(`#period-select option[value="${past}"]`).waitFor({ state: "attached" });
      await revisionsPage.getByLabel("Billing period").selectOption(past);
      await revisionsPage.locator(`[data-testid="bill"][data-period="${past}"][data-revision="2"]`).waitFor();
      assert.equal((await readShownBill(revisionsPage)).total, second.total);
      const choice = revisionsPage.getByLabel("Bill revision");
      assert.deepEqual(await choice.locator("option").allTextContents(), ["2 (corrected), latest", "1 (as finalized)"]);
      await choice.selectOption("1");
      await revisionsPage.locator(`[data-testid="bill"][data-period="${past}"][data-revision="1"]`).waitFor();
      const shownFirst = await readShownBill(revisionsPage);
      assert.equal(shownFirst.total, first.total);
      assert.deepEqual(shownFirst.lines.map((line) => line.quantity), ["3"]);
      assert.equal(await revisionsPage.getByTestId("bill-amount-due").getAttribute("data-value"), first.amountDue);
      assert.deepEqual(revisionsWatch.errors, []);
    } finally {
      await revisions.close();
      server.child.kill("SIGTERM");
      await server.exited;
      scratchRevisions.cleanup();
    }
  });

  it("has no horizontal scroll at 375 px wide", async () => {
    const phone = await signedInContext(browser, { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2 });
    try {
      const small = await phone.newPage();
      const phoneWatch = watchPage(small, tally.url);
      await small.goto(tally.url);
      await small.waitForFunction(() => document.querySelectorAll('[data-testid="customer-total"][data-state="loaded"]').length >= 3);
      assert.ok((await small.evaluate(() => document.documentElement.scrollWidth)) <= 375);
      await saveScreenshot(small, "customers-375");
      await small.getByRole("link", { name: "Acme Corporation" }).click();
      await small.getByTestId("usage-chart").first().waitFor();
      await small.getByTestId("usage-record-row").first().waitFor();
      assert.ok((await small.evaluate(() => document.documentElement.scrollWidth)) <= 375);
      // The bill itself fits; only the wide tables (records, daily usage) scroll, inside their own box.
      const billRegion = small.getByRole("region", { name: "Bill lines" });
      assert.ok(await billRegion.evaluate((element) => element.scrollWidth <= element.clientWidth));
      await saveScreenshot(small, "bill-375");
      assert.deepEqual(phoneWatch.errors, []);
    } finally {
      await phone.close();
    }
  });

  it("lists the meters with their prices, and lets an admin create a meter (whole units or 9 digits) and a price", async () => {
    await page.goto(`${tally.url}/#/meters`);
    await page.getByTestId("meter-row").nth(3).waitFor();
    const row = (key: string) => page.locator(`[data-testid="meter-row"][data-meter-key="${key}"]`);
    assert.equal(await row("api-requests").getByTestId("meter-quantities").textContent(), "whole units");
    assert.equal(await row("database-hosting").getByTestId("meter-quantities").textContent(), "up to 3 digits after the point");
    assert.deepEqual(await row("database-hosting").getByTestId("meter-price").allTextContents(), [
      `EUR v1 from ${(await api.listPrices({ meterKey: "database-hosting" })).prices[0]!.effectivePeriod}: 0.0115 per GB-hour`,
      `USD v1 from ${(await api.listPrices({ meterKey: "database-hosting" })).prices[0]!.effectivePeriod}: 0.0125 per GB-hour`,
    ]);
    assert.match((await row("egress").getByTestId("meter-price").last().textContent()) ?? "", /USD v1 from \d{4}-\d{2}: first 100 at 0 · 100 – 1,000 at 0\.09 · over 1,000 at 0\.07$/);

    // A meter with whole units only.
    const meterForm = page.getByTestId("meter-form");
    await meterForm.getByLabel("Key", { exact: true }).fill("support-tickets");
    await meterForm.getByLabel("Display name", { exact: true }).fill("Support tickets");
    await meterForm.getByLabel("Unit", { exact: true }).fill("ticket");
    await meterForm.getByLabel("Aggregation", { exact: true }).selectOption({ label: "count of the events" });
    await meterForm.getByLabel("Whole units only", { exact: true }).check();
    await meterForm.getByRole("button", { name: "Create meter" }).click();
    await page.getByTestId("meter-form-result").filter({ hasText: "Created meter support-tickets." }).waitFor();
    await row("support-tickets").waitFor();
    assert.equal(await row("support-tickets").getByTestId("meter-quantities").textContent(), "whole units");
    assert.equal(await row("support-tickets").getByTestId("meter-prices").textContent(), "no price");
    const tickets = (await api.getMeter({ key: "support-tickets" })).meter!;
    assert.deepEqual([tickets.wholeUnits, tickets.precision], [true, 0]);

    // A meter made without precision: 9 digits after the point.
    await meterForm.getByLabel("Key", { exact: true }).fill("gpu-time");
    await meterForm.getByLabel("Display name", { exact: true }).fill("GPU time");
    await meterForm.getByLabel("Unit", { exact: true }).fill("GPU-hour");
    await meterForm.getByLabel("Aggregation", { exact: true }).selectOption({ label: "sum of the quantities" });
    await meterForm.getByLabel("Whole units only", { exact: true }).uncheck();
    await meterForm.getByRole("button", { name: "Create meter" }).click();
    await row("gpu-time").waitFor();
    assert.equal(await row("gpu-time").getByTestId("meter-quantities").textContent(), "up to 9 digits after the point");
    assert.equal(await row("gpu-time").getByTestId("meter-prices").textContent(), "no price");

    // A price version for the tickets.
    const priceForm = page.getByTestId("price-form");
    await priceForm.getByLabel("Meter").selectOption("support-tickets");
    await priceForm.getByLabel("Tiers").fill("2.5");
    await priceForm.getByRole("button", { name: "Create price" }).click();
    await page.getByTestId("price-form-result").filter({ hasText: "Created USD price v1 of support-tickets." }).waitFor();
    await row("support-tickets").getByTestId("meter-price").waitFor();
    const ticketsPrice = (await api.listPrices({ meterKey: "support-tickets" })).prices[0]!;
    assert.equal(await row("support-tickets").getByTestId("meter-price").textContent(), `USD v1 from ${ticketsPrice.effectivePeriod}: 2.5 per ticket`);
    await saveScreenshot(page, "meters-desktop");
  });

  it("shows usage without a price as 'no price' (not 0.00) in the bill and its CSV", async () => {
    await api.recordUsage({ customerId: acmeId, meterKey: "gpu-time", quantity: "1.5" });
    const { bill } = await api.getCurrentBill({ customerId: acmeId });
    const unpriced = bill!.lines.find((line) => line.meterKey === "gpu-time")!;
    // The API says so with price_version 0 and no price_id; the amount stays "0.00" so the lines add up to the total.
    assert.deepEqual([unpriced.quantity, unpriced.priceVersion, unpriced.priceId, unpriced.amount], ["1.5", 0, "", "0.00"]);

    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    const line = page.locator('[data-testid="bill-line"][data-meter-key="gpu-time"]');
    await line.waitFor();
    const amount = line.getByTestId("bill-line-amount");
    assert.equal(await amount.textContent(), "no price");
    assert.equal(await amount.getAttribute("data-priced"), "false");
    assert.equal(await line.getByTestId("bill-line-price").textContent(), "no price in USD");
    const priced = page.locator('[data-testid="bill-line"][data-meter-key="database-hosting"] [data-testid="bill-line-amount"]');
    assert.match((await priced.textContent()) ?? "", /^[\d,]+\.\d{2} USD$/);
    await waitForShownTotal(page, bill!.total);
    assert.match((await page.locator(`[data-testid="bills-row"][data-period="${bill!.period}"]`).textContent()) ?? "", /usage with no price/);

    const csv = await downloadBillCsv(page);
    assert.equal(csv.fileName, `bill-${acmeId}-${bill!.period}.csv`);
    const current = (await api.getCurrentBill({ customerId: acmeId })).bill!;
    assert.deepEqual(csv.rows, expectedCsv(current));
    assert.deepEqual(csv.rows.find((row) => row[4] === "gpu-time")!.slice(7), ["1.5", "", "", "no price", ""]);
    await saveScreenshot(page, "bill-no-price");
  });

  it("shows a line per combination of a dimensioned meter's values, naming it, in the bill and its CSV", async () => {
    await api.createMeter({ meter: { key: "vm-hours", displayName: "VM hours", unit: "hour", aggregation: 1, precision: 3, dimensions: ["region", "size"] } });
    await api.createPrice({ price: { meterKey: "vm-hours", currencyCode: "USD", tiers: [{ unitAmount: "0.10" }] } });
    await api.createPrice({ price: { meterKey: "vm-hours", currencyCode: "USD", dimensionValues: { region: "eu" }, tiers: [{ unitAmount: "0.12" }] } });
    await api.recordUsage({ customerId: acmeId, meterKey: "vm-hours", quantity: "10", attributes: { region: "us", size: "m" } });
    await api.recordUsage({ customerId: acmeId, meterKey: "vm-hours", quantity: "10", attributes: { region: "eu", size: "m" } });
    const { bill } = await api.getCurrentBill({ customerId: acmeId });

    // (The page may already show this customer: load it afresh.)
    await page.goto(`${tally.url}/#/meters`);
    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    const lines = page.locator('[data-testid="bill-line"][data-meter-key="vm-hours"]');
    await lines.nth(1).waitFor();
    assert.deepEqual(await lines.getByTestId("bill-line-dimensions").allTextContents(), ["region=eu, size=m", "region=us, size=m"]);
    assert.deepEqual(await lines.getByTestId("bill-line-amount").evaluateAll((cells) => cells.map((cell) => (cell as HTMLElement).dataset.value)), ["1.20", "1.00"]);
    await waitForShownTotal(page, bill!.total);
    const csv = await downloadBillCsv(page);
    assert.deepEqual(csv.rows, expectedCsv((await api.getCurrentBill({ customerId: acmeId })).bill!));
    assert.deepEqual(
      csv.rows.filter((row) => row[4] === "vm-hours").map((row) => row[11]),
      ["region=eu;size=m", "region=us;size=m"],
    );
    await saveScreenshot(page, "bill-dimensions");
  });

  it("refuses whole units with a precision on the meter form, next to the field", async () => {
    const failing = await signedInContext(browser, { viewport: { width: 1280, height: 900 } });
    try {
      const form = await failing.newPage();
      await form.goto(`${tally.url}/#/meters`);
      const meterForm = form.getByTestId("meter-form");
      await meterForm.getByLabel("Key", { exact: true }).fill("both-ways");
      await meterForm.getByLabel("Display name", { exact: true }).fill("Both ways");
      await meterForm.getByLabel("Unit", { exact: true }).fill("unit");
      await meterForm.getByLabel("Digits after the point", { exact: true }).fill("3");
      await meterForm.getByLabel("Whole units only", { exact: true }).check();
      await meterForm.getByRole("button", { name: "Create meter" }).click();
      const precisionError = form.getByTestId("field-error-precision");
      await precisionError.waitFor();
      assert.match((await precisionError.textContent()) ?? "", /whole_units/);
      assert.equal(await form.getByTestId("meter-form-failure").getByTestId("failure-code").textContent(), "INVALID_ARGUMENT");
      await assert.rejects(api.getMeter({ key: "both-ways" }), (error) => error instanceof BillingError && error.reason === "METER_NOT_FOUND");
    } finally {
      await failing.close();
    }
  });

  it("made only Connect calls (read-only ones as GET), all answered 200, with no console errors", async () => {
    await page.waitForTimeout(100); // let the last requestfinished handlers settle
    assert.deepEqual(watch.errors, []);
    const calls = watch.calls.filter((call) => !["/", "/app.js", "/app.css"].includes(call.url.pathname));
    assert.ok(calls.length > 20);
    const methods = new Set<string>();
    for (const call of calls) {
      const match = /^\/billing\.v1\.(CustomerService|CatalogService|UsageService|BillingService|AccessService)\/([A-Za-z]+)$/.exec(call.url.pathname);
      assert.ok(match, `not a billing.v1 call: ${call.method} ${call.url.pathname}`);
      const method = match[2]!;
      methods.add(method);
      if (method === "WatchAlerts") {
        assert.ok(call.status === 200 || endedByLeaving(call), `WatchAlerts: ${call.failure ?? call.status}`);
        assert.equal(call.method, "POST");
        assert.equal(call.requestHeaders["content-type"], "application/connect+json");
        continue;
      }
      assert.equal(call.status, 200, `${call.method} ${call.url.pathname}: ${call.failure ?? call.status}`);
      if (READ_ONLY.has(method)) {
        assert.equal(call.method, "GET", method);
        assert.equal(call.url.searchParams.get("connect"), "v1", method);
        assert.equal(call.url.searchParams.get("encoding"), "json", method);
      } else {
        assert.equal(call.method, "POST", method);
        assert.equal(call.requestHeaders["connect-protocol-version"], "1", method);
        assert.equal(call.requestHeaders["content-type"], "application/json", method);
      }
    }
    for (const method of [
      "GetCaller",
      "ListCustomers",
      "GetCurrentBill",
      "GetCustomer",
      "ListMeters",
      "ListPrices",
      "CreateMeter",
      "CreatePrice",
      "ListBills",
      "GetDailyUsage",
      "ListUsageRecords",
      "RecordUsage",
      "VoidUsage",
      "GetUsageAllowance",
      "CreateAlert",
      "WatchAlerts",
    ]) {
      assert.ok(methods.has(method), `the page never called ${method}`);
    }
  });

  it("asks for a key when it has none, signs in from a #key= link without keeping the key in the address, and offers a read key no writes", async () => {
    const readKey = await createStoredKey(`${scratch.path}/tally.db`, "read");
    const signedOut = await signedInContext(browser, { viewport: { width: 1280, height: 900 } }, "");
    try {
      const visitor = await signedOut.newPage();
      const visitorWatch = watchPage(visitor, tally.url);
      await visitor.goto(tally.url);
      await visitor.getByRole("heading", { name: "Sign in with an API key" }).waitFor();
      assert.equal(await visitor.getByTestId("customer-row").count(), 0);
      await visitor.getByLabel("API key").fill("not-a-key");
      await visitor.getByRole("button", { name: "Use key" }).click();
      await visitor.getByTestId("failure-code").first().waitFor();
      assert.equal(await visitor.getByTestId("failure-code").first().textContent(), "UNAUTHENTICATED");
      await visitor.getByRole("button", { name: "Forget key" }).click();
      await visitor.getByRole("heading", { name: "Sign in with an API key" }).waitFor();

      await visitor.goto(`${tally.url}/#key=${encodeURIComponent(readKey)}`);
      await visitor.getByTestId("customer-row").nth(2).waitFor();
      assert.ok(!visitor.url().includes(readKey), `the key left the address bar: ${visitor.url()}`);
      assert.equal(await visitor.getByTestId("caller").getAttribute("data-role"), "read");
      assert.match((await visitor.getByTestId("caller").textContent()) ?? "", /^read key k[0-9a-f]{16}$/);
      await visitor.goto(`${tally.url}/#/customers/acme`);
      await visitor.getByTestId("usage-record-row").first().waitFor();
      await visitor.getByTestId("record-not-offered").waitFor();
      assert.match((await visitor.getByTestId("record-not-offered").textContent()) ?? "", /This is a read key: recording usage needs an ingest or admin key/);
      assert.equal(await visitor.getByTestId("record-form").count(), 0, "a read key is offered no Record form");
      assert.equal(await visitor.getByTestId("void-button").count(), 0, "a read key is offered no Void");
      assert.ok((await visitor.getByTestId("bills-row").count()) >= 1, "a read key still sees the bills");
      await visitor.getByRole("link", { name: "Meters and prices" }).click();
      await visitor.getByTestId("meter-row").first().waitFor();
      await visitor.getByTestId("catalog-read-only").waitFor();
      assert.equal(await visitor.getByTestId("meter-form").count() + (await visitor.getByTestId("price-form").count()), 0, "a read key is offered no catalog forms");
      await saveScreenshot(visitor, "read-key-customer");
      // The browser logs the made-up key's 401; nothing else went wrong.
      assert.deepEqual(visitorWatch.errors, ["console: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
      assert.deepEqual(
        visitorWatch.calls
          .filter((call) => call.status !== 200 && call.url.pathname.startsWith("/billing.v1.") && !endedByLeaving(call))
          .map((call) => `${call.url.pathname} ${call.status}`),
        // Only the made-up key's own check; the read key never made a call it may not make.
        ["/billing.v1.AccessService/GetCaller 401"],
      );
    } finally {
      await signedOut.close();
    }
  });

  it("offers an ingest key nothing to browse, and an admin key Record and Void", async () => {
    const ingestKey = await createStoredKey(`${scratch.path}/tally.db`, "ingest");
    const ingest = await signedInContext(browser, { viewport: { width: 1280, height: 900 } }, ingestKey);
    try {
      const ingestPage = await ingest.newPage();
      const ingestWatch = watchPage(ingestPage, tally.url);
      await ingestPage.goto(`${tally.url}/#/customers/acme`);
      await ingestPage.getByTestId("ingest-only").waitFor();
      assert.equal(await ingestPage.getByRole("heading", { level: 1 }).textContent(), "This key records usage only");
      assert.equal(await ingestPage.getByRole("link", { name: "Meters and prices" }).isVisible(), false);
      await ingestPage.waitForTimeout(100);
      assert.deepEqual(ingestWatch.calls.filter((call) => call.url.pathname.startsWith("/billing.v1.")).map((call) => `${call.url.pathname} ${call.status}`), [
        "/billing.v1.AccessService/GetCaller 200",
      ]);
    } finally {
      await ingest.close();
    }
    // The admin page of the earlier tests offered both.
    await page.goto(`${tally.url}/#/customers/${acmeId}`);
    await page.getByTestId("record-form").waitFor();
    await page.getByTestId("void-button").first().waitFor();
    assert.equal(await page.getByTestId("caller").getAttribute("data-role"), "admin");
  });

  it("refuses a page on another origin (403), and serves it once the origin is allowed", async () => {
    const foreign = await startForeignOrigin();
    const allowedScratch = scratchDirectory("tally-browser-cors-");
    let allowing: TallyProcess | undefined;
    const probing = await signedInContext(browser, );
    try {
      const probe = async (tallyUrl: string) => {
        const probePage = await probing.newPage();
        // Playwright reports a CORS-blocked answer only as a failed request;
        // the DevTools protocol still shows the status the server sent.
        const devtools = await probing.newCDPSession(probePage);
        const statuses: number[] = [];
        devtools.on("Network.responseReceived", ({ response }) => {
          if (response.url.startsWith(tallyUrl)) statuses.push(response.status);
        });
        await devtools.send("Network.enable");
        await probePage.goto(foreign.probeUrl(tallyUrl, TEST_ADMIN_KEY));
        await probePage.waitForFunction(() => "probeResult" in window);
        const result = await probePage.evaluate(() => (window as unknown as { probeResult: ProbeResult }).probeResult);
        await probePage.close();
        return { result, statuses };
      };

      const refused = await probe(tally.url);
      assert.deepEqual(refused.result, { get: "failed:TypeError", post: "failed:TypeError" });
      assert.ok(refused.statuses.includes(403), `the browser saw statuses ${refused.statuses.join(", ")}`);
      // The server itself refused (the browser did not merely hide the answer).
      const direct = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = httpRequest(
          `${tally.url}/billing.v1.CustomerService/ListCustomers?connect=v1&encoding=json&message=%7B%7D`,
          { headers: { origin: foreign.origin } },
          (response) => {
            let body = "";
            response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => resolve({ status: response.statusCode!, body }));
          },
        );
        request.on("error", reject).end();
      });
      assert.equal(direct.status, 403);
      assert.match(direct.body, /is not allowed/);

      allowing = await startTallyProcess(`${allowedScratch.path}/tally.db`, ["--demo", "--cors-origins", foreign.origin]);
      const allowed = await probe(allowing.url);
      // Allowed through CORS, a call still needs its key.
      assert.deepEqual(allowed.result, { get: "status:401", post: "ok:3" });
    } finally {
      await probing.close();
      await foreign.close();
      allowing?.child.kill("SIGTERM");
      await allowing?.exited;
      allowedScratch.cleanup();
    }
  });
});
