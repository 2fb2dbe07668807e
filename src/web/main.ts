/**
 * The Tally billing dashboard: customers, their bills (CSV export), daily
 * usage, the usage ledger, a form to record usage, and the meters with their
 * prices, over Connect-Web. It asks the server who the key is (GetCaller)
 * before showing anything, and offers only what the key's role may do.
 *
 * No UI framework: the page has five small views whose state is a handful of
 * fields (a search, page tokens, a period), and each view is rebuilt from its
 * API answers rather than patched in place, so a framework's reactivity and
 * virtual DOM would buy nothing but weight and a build step. `h()` in dom.ts
 * builds elements from text only (never markup), which keeps the page safe
 * under its strict Content Security Policy without a template engine.
 */
import { type BillingClient, createBillingClient } from "tally/client";
import { createKeyForm, forgetApiKey, takeApiKey } from "./api-key.js";
import { type CallerAccess, callerAccess } from "./caller-access.js";
import { createCustomerPage, type CustomerPage } from "./customer-page.js";
import { createCustomersPage } from "./customers-page.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { createMetersPage } from "./meters-page.js";
import { customersHref, metersHref, parseRoute } from "./routes.js";
import type { View } from "./view.js";

const clientFor = (apiKey: string) => createBillingClient({ baseUrl: location.origin, protocol: "connect", apiKey });
let apiKey = takeApiKey();
let client: BillingClient | undefined = apiKey === undefined ? undefined : clientFor(apiKey);
/** What the key may do, once GetCaller answered for it. */
let access: CallerAccess | undefined;
/** Bumped with every key change: a GetCaller answer for an older key is dropped. */
let keyGeneration = 0;
const main = document.getElementById("main")!;

const siteNav = h(
  "nav",
  { class: "site-nav", "aria-label": "Sections", hidden: true },
  h("a", { href: customersHref() }, "Customers"),
  h("a", { href: metersHref() }, "Meters and prices"),
);
const callerBadge = h("span", { class: "caller", "data-testid": "caller", hidden: true });

function useKey(key: string | undefined): void {
  apiKey = key;
  client = key === undefined ? undefined : clientFor(key);
  access = undefined;
  keyGeneration++;
}

const forgetButton = h(
  "button",
  {
    type: "button",
    class: "forget-key",
    onclick: () => {
      forgetApiKey();
      useKey(undefined);
      route();
    },
  },
  "Forget key",
);
document.querySelector(".site-header")!.append(siteNav, callerBadge, forgetButton);

// A fault in the page itself (not a failed call, which its view reports) is
// still shown in words rather than lost in the console.
const pageFaults = createFailureRegion("page-failure");
main.before(pageFaults.element);
window.addEventListener("error", (event) => pageFaults.show("The page", event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => pageFaults.show("The page", event.reason));

let current: View | undefined;
/** Whether a page of content was shown yet: the first one does not take focus (see the end of route()). */
let contentShown = false;

function route(): void {
  if (location.hash.startsWith("#key=")) useKey(takeApiKey());
  forgetButton.hidden = client === undefined;
  siteNav.hidden = access === undefined || !access.canRead;
  callerBadge.hidden = access === undefined;
  if (client === undefined) {
    showKeyForm();
    return;
  }
  if (access === undefined) {
    askWhoTheKeyIs(client);
    return;
  }
  if (!access.canRead) {
    current?.dispose();
    const heading = h("h1", { tabindex: "-1" }, "This key records usage only");
    current = {
      element: h(
        "div",
        { "data-testid": "ingest-only" },
        heading,
        h("p", {}, "An ingest key may record usage from a service, but not read customers, meters or bills, so the dashboard has nothing to show it. ", "Sign in with a read key to browse, or an admin key to browse and record."),
      ),
      heading,
      dispose() {},
    };
    document.title = "Ingest key — Tally";
    replaceChildren(main, current.element);
    return;
  }
  const next = parseRoute(location.hash);
  if (next.view === "customer" && isCustomerPage(current) && current.routeCustomerId === next.customerId) {
    current.showPeriod(next.period);
    return;
  }
  const firstView = !contentShown;
  contentShown = true;
  current?.dispose();
  if (next.view === "customers") {
    current = createCustomersPage(client, next.query);
    document.title = "Customers — Tally";
  } else if (next.view === "meters") {
    current = createMetersPage(client, access);
    document.title = "Meters and prices — Tally";
  } else if (next.view === "customer") {
    current = createCustomerPage(client, access, next.customerId, next.period);
    document.title = `${next.customerId} — Tally`;
  } else {
    const heading = h("h1", { tabindex: "-1" }, "Page not found");
    current = {
      element: h("div", {}, heading, h("p", {}, "Nothing lives at ", h("code", {}, next.hash), ". ", h("a", { href: customersHref() }, "Go to the customers."))),
      heading,
      dispose() {},
    };
    document.title = "Not found — Tally";
  }
  replaceChildren(main, current.element);
  // After a navigation (not on first load) focus the new heading, so keyboard
  // and screen-reader users land on the new screen instead of a removed link.
  if (!firstView) current.heading.focus();
}

/** The sign-in form, with the reason the last key was refused when there was one. */
function showKeyForm(refusal?: unknown): void {
  current?.dispose();
  const form = createKeyForm((key) => {
    useKey(key);
    route();
  });
  const failures = createFailureRegion("key-failure");
  if (refusal !== undefined) failures.show("Checking the key", refusal);
  form.element.append(failures.element);
  current = { ...form, dispose() {} };
  document.title = "Sign in — Tally";
  replaceChildren(main, current.element);
  current.heading.focus();
}

/** GetCaller: any valid key may ask what it is; the answer decides what the pages offer. */
function askWhoTheKeyIs(keyClient: BillingClient): void {
  const asked = keyGeneration;
  current?.dispose();
  const heading = h("h1", { tabindex: "-1" }, "Checking the key…");
  current = { element: h("div", { "aria-busy": "true" }, heading), heading, dispose() {} };
  replaceChildren(main, current.element);
  keyClient.getCaller({}).then(
    (caller) => {
      if (asked !== keyGeneration) return;
      access = callerAccess(caller);
      callerBadge.dataset.role = access.role;
      replaceChildren(callerBadge, `${access.role} key `, h("code", {}, access.keyId), access.tenant === "default" ? null : ` · tenant ${access.tenant}`);
      route();
    },
    (error: unknown) => {
      if (asked !== keyGeneration) return;
      showKeyForm(error);
    },
  );
}

function isCustomerPage(view: View | undefined): view is CustomerPage {
  return view !== undefined && "showPeriod" in view;
}

window.addEventListener("hashchange", route);
route();
