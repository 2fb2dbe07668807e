import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from "playwright-core";
import { TEST_ADMIN_KEY } from "../support/clients.js";

/** Where the suite saves screenshots for people to look at (git-ignored). */
export const SCREENSHOT_DIR = join(process.cwd(), "artifacts", "screenshots");

/**
 * Debian's chromium, headless, with nothing that phones home. Playwright
 * gives each launch a fresh temporary profile, and no browser is downloaded.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a full-page screenshot as artifacts/screenshots/<name>.png. */
export async function saveScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** One call the page made to Tally, as the browser sent and saw it. */
export interface TallyCall {
  method: string;
  url: URL;
  requestHeaders: Record<string, string>;
  /** The HTTP status, or undefined when the request failed without an answer. */
  status: number | undefined;
  failure: string | undefined;
}

/** Everything a page did that a test may want to hold against it. */
export interface PageWatch {
  calls: TallyCall[];
  /** Console messages of type "error" and uncaught exceptions. */
  errors: string[];
}

/** Records the page's requests to `origin` and its console errors from now on. */
export function watchPage(page: Page, origin: string): PageWatch {
  const watch: PageWatch = { calls: [], errors: [] };
  page.on("console", (message) => {
    if (message.type() === "error") watch.errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => watch.errors.push(`uncaught: ${error.message}`));
  page.on("requestfinished", (request) => {
    const url = new URL(request.url());
    if (url.origin !== origin) return;
    // A request that finishes as the page closes has no response to read any more.
    request.response().then(
      (response) => watch.calls.push({ method: request.method(), url, requestHeaders: request.headers(), status: response?.status(), failure: undefined }),
      () => undefined,
    );
  });
  page.on("requestfailed", (request) => {
    const url = new URL(request.url());
    if (url.origin !== origin) return;
    watch.calls.push({ method: request.method(), url, requestHeaders: request.headers(), status: undefined, failure: request.failure()?.errorText });
  });
  return watch;
}

/** The bill as the page shows it, read from its test hooks. */
export interface ShownBill {
  period: string;
  status: string;
  total: string;
  lines: { meterKey: string; quantity: string; amount: string; priceVersion: number }[];
}

/** Reads the bill section once it has rendered. */
export async function readShownBill(page: Page): Promise<ShownBill> {
  await page.locator('[data-testid="bill-total"]').waitFor();
  return page.evaluate(() => {
    const bill = document.querySelector<HTMLElement>('[data-testid="bill"]')!;
    const lines = [...bill.querySelectorAll<HTMLElement>('[data-testid="bill-line"]')].map((line) => ({
      meterKey: line.dataset.meterKey!,
      quantity: line.querySelector<HTMLElement>('[data-testid="bill-line-quantity"]')!.dataset.value!,
      amount: line.querySelector<HTMLElement>('[data-testid="bill-line-amount"]')!.dataset.value!,
      priceVersion: Number(line.dataset.priceVersion),
    }));
    return {
      period: bill.dataset.period!,
      status: bill.querySelector<HTMLElement>('[data-testid="bill-status"]')!.dataset.status!,
      total: bill.querySelector<HTMLElement>('[data-testid="bill-total"]')!.dataset.value!,
      lines,
    };
  });
}

/** Waits until the page shows a bill whose total is `total`. */
export async function waitForShownTotal(page: Page, total: string): Promise<void> {
  await page.waitForFunction(
    (expected) => document.querySelector<HTMLElement>('[data-testid="bill-total"]')?.dataset.value === expected,
    total,
    { timeout: 5000 },
  );
}

/**
 * A browser context whose pages start signed in with `apiKey` (as a
 * `#key=` link or the sign-in form would leave them); "" for signed out.
 */
export async function signedInContext(browser: Browser, options: BrowserContextOptions = {}, apiKey = TEST_ADMIN_KEY): Promise<BrowserContext> {
  const context = await browser.newContext(options);
  if (apiKey !== "") await context.addInitScript((key) => localStorage.setItem("tally.apiKey", key), apiKey);
  return context;
}
