import type { BillingClient } from "tally/client";
import type { Customer } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { h, replaceChildren } from "./dom.js";
import { createFailureRegion, toFailure } from "./failure-report.js";
import { formatMoney } from "./format.js";
import { createPager } from "./pager.js";
import { customerHref, customersHref } from "./routes.js";
import type { View } from "./view.js";

/** Customers per page: enough to scan, few enough that the per-row GetCurrentBill calls stay cheap. */
const PAGE_SIZE = 10;
/** How long typing must pause before the search runs, so each keystroke does not cost a round trip. */
const SEARCH_DEBOUNCE_MS = 250;

/**
 * The start page: customers (searchable, paged), each with the total of its
 * current bill, linking to the customer's page.
 */
export function createCustomersPage(client: BillingClient, initialQuery: string): View {
  let query = initialQuery;
  // Each load gets a number; an answer for an older load (a superseded
  // search, a page left behind) is dropped instead of overwriting a newer one.
  let generation = 0;
  let debounceTimer: ReturnType<typeof setTimeout> | undefined;

  const heading = h("h1", { tabindex: "-1" }, "Customers");
  const search = h("input", {
    id: "customer-search",
    type: "search",
    name: "q",
    autocomplete: "off",
    spellcheck: "false",
    value: query,
    "aria-describedby": "customer-search-hint",
  });
  const searchForm = h(
    "form",
    { role: "search", class: "search", "aria-label": "Customers" },
    h("label", { for: "customer-search" }, "Search customers"),
    search,
    h("p", { id: "customer-search-hint", class: "hint" }, "Matches a customer's name, external id or Tally id."),
  );
  const status = h("p", { role: "status", class: "list-status", "data-testid": "customers-status" });
  const failures = createFailureRegion("customers-failure");
  const rows = h("tbody", { "data-testid": "customers-body" });
  const table = h(
    "table",
    { "data-testid": "customers-table" },
    h("caption", { class: "visually-hidden" }, "Customers and the totals of their current bills"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Customer"),
        h("th", { scope: "col" }, "Currency"),
        h("th", { scope: "col", class: "numeric" }, "Current bill"),
      ),
    ),
    rows,
  );
  const pager = createPager({ label: "Customer pages", testId: "customers-pager", onChange: () => void load() });
  const element = h(
    "div",
    { class: "customers-page" },
    heading,
    searchForm,
    failures.element,
    status,
    h("div", { class: "table-scroll", role: "region", "aria-label": "Customers", tabindex: "0" }, table),
    pager.element,
  );

  const runSearch = () => {
    clearTimeout(debounceTimer);
    if (search.value.trim() === query) return;
    query = search.value.trim();
    // replaceState changes the hash without a hashchange: the search is
    // bookmarkable without the router rebuilding the page under the cursor.
    history.replaceState(null, "", customersHref(query));
    pager.reset();
    void load();
  };
  search.addEventListener("input", () => {
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
  });
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });

  async function load(): Promise<void> {
    const loadNumber = ++generation;
    table.setAttribute("aria-busy", "true");
    status.textContent = "Loading customers…";
    try {
      const page = await client.listCustomers({ pageSize: PAGE_SIZE, pageToken: pager.pageToken, query });
      if (loadNumber !== generation) return;
      failures.clear();
      replaceChildren(rows, page.customers.map((customer) => customerRow(customer, loadNumber)));
      pager.loaded(page.nextPageToken);
      status.textContent =
        page.customers.length === 0
          ? query === ""
            ? "No customers yet."
            : `No customers match “${query}”.`
          : `${page.customers.length} customer${page.customers.length === 1 ? "" : "s"} on this page${query === "" ? "" : ` matching “${query}”`}.`;
    } catch (error) {
      if (loadNumber !== generation) return;
      failures.show("Loading customers", error);
      status.textContent = "";
    } finally {
      if (loadNumber === generation) table.removeAttribute("aria-busy");
    }
  }

  function customerRow(customer: Customer, loadNumber: number): HTMLTableRowElement {
    const total = h("td", { class: "numeric", "data-testid": "customer-total", "data-state": "loading" }, "Loading…");
    void client.getCurrentBill({ customerId: customer.id }).then(
      ({ bill }) => {
        if (loadNumber !== generation) return;
        const amount = bill?.total ?? "0";
        total.dataset.state = "loaded";
        total.dataset.value = amount;
        total.textContent = formatMoney(amount, bill?.currencyCode ?? customer.currencyCode);
      },
      (error: unknown) => {
        if (loadNumber !== generation) return;
        const failure = toFailure(error);
        total.dataset.state = "error";
        total.classList.add("cell-failure");
        total.textContent = `Could not load the bill: ${failure.code}${failure.reason === "" ? "" : ` ${failure.reason}`} — ${failure.detail}`;
      },
    );
    return h(
      "tr",
      { "data-testid": "customer-row", "data-customer-id": customer.id },
      // The external id sits under the name rather than in a column of its
      // own, so the list fits a phone's width with the totals in view.
      h(
        "th",
        { scope: "row" },
        h("a", { href: customerHref(customer.id), "data-testid": "customer-link" }, customer.displayName || customer.id),
        h(
          "span",
          { class: "external-id" },
          h("span", { class: "visually-hidden" }, "External id: "),
          customer.externalId === "" ? h("span", { class: "muted" }, "no external id") : h("code", { "data-testid": "customer-external-id" }, customer.externalId),
        ),
      ),
      h("td", { "data-testid": "customer-currency" }, customer.currencyCode),
      total,
    );
  }

  void load();
  return {
    element,
    heading,
    dispose() {
      generation++;
      clearTimeout(debounceTimer);
    },
  };
}
