/**
 * The Tally billing dashboard: customers, their bills, daily usage, the usage
 * ledger and a form to record usage, over Connect-Web.
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
import { createCustomerPage, type CustomerPage } from "./customer-page.js";
import { createCustomersPage } from "./customers-page.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion } from "./failure-report.js";
import { customersHref, parseRoute } from "./routes.js";
import type { View } from "./view.js";

const clientFor = (apiKey: string) => createBillingClient({ baseUrl: location.origin, protocol: "connect", apiKey });
let apiKey = takeApiKey();
let client: BillingClient | undefined = apiKey === undefined ? undefined : clientFor(apiKey);
const main = document.getElementById("main")!;

const forgetButton = h(
  "button",
  {
    type: "button",
    class: "forget-key",
    onclick: () => {
      forgetApiKey();
      apiKey = undefined;
      client = undefined;
      route();
    },
  },
  "Forget key",
);
document.querySelector(".site-header")!.append(forgetButton);

// A fault in the page itself (not a failed call, which its view reports) is
// still shown in words rather than lost in the console.
const pageFaults = createFailureRegion("page-failure");
main.before(pageFaults.element);
window.addEventListener("error", (event) => pageFaults.show("The page", event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => pageFaults.show("The page", event.reason));

let current: View | undefined;

function route(): void {
  if (location.hash.startsWith("#key=")) {
    apiKey = takeApiKey();
    client = apiKey === undefined ? undefined : clientFor(apiKey);
  }
  forgetButton.hidden = client === undefined;
  if (client === undefined) {
    current?.dispose();
    current = { ...createKeyForm((key) => {
      apiKey = key;
      client = clientFor(key);
      route();
    }), dispose() {} };
    document.title = "Sign in — Tally";
    replaceChildren(main, current.element);
    current.heading.focus();
    return;
  }
  const next = parseRoute(location.hash);
  if (next.view === "customer" && isCustomerPage(current) && current.routeCustomerId === next.customerId) {
    current.showPeriod(next.period);
    return;
  }
  const firstView = current === undefined;
  current?.dispose();
  if (next.view === "customers") {
    current = createCustomersPage(client, next.query);
    document.title = "Customers — Tally";
  } else if (next.view === "customer") {
    current = createCustomerPage(client, next.customerId, next.period);
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

function isCustomerPage(view: View | undefined): view is CustomerPage {
  return view !== undefined && "showPeriod" in view;
}

window.addEventListener("hashchange", route);
route();
