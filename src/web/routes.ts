/**
 * The dashboard's places, as the URL's hash names them. Hash routing keeps
 * every view a plain link (bookmarkable, opens in a new tab, works with Back)
 * while the server only ever serves one page.
 */
export type Route =
  | { view: "customers"; query: string }
  | { view: "customer"; customerId: string; period: string | undefined }
  | { view: "meters" }
  | { view: "not-found"; hash: string };

const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/** Reads a hash such as "#/customers/acme?period=2026-11". */
export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const params = new URLSearchParams(search);
  const segments = path.split("/").filter((segment) => segment !== "");
  if (segments.length === 0 || (segments.length === 1 && segments[0] === "customers")) {
    return { view: "customers", query: params.get("q") ?? "" };
  }
  if (segments.length === 1 && segments[0] === "meters") return { view: "meters" };
  if (segments.length === 2 && segments[0] === "customers") {
    const period = params.get("period") ?? "";
    return { view: "customer", customerId: decodeURIComponent(segments[1]!), period: PERIOD.test(period) ? period : undefined };
  }
  return { view: "not-found", hash };
}

/** The link to the customer list, optionally filtered. */
export function customersHref(query = ""): string {
  return query === "" ? "#/" : `#/customers?${new URLSearchParams({ q: query })}`;
}

/** The link to a customer's page, optionally at one billing period. */
export function customerHref(customerId: string, period?: string): string {
  const path = `#/customers/${encodeURIComponent(customerId)}`;
  return period === undefined ? path : `${path}?${new URLSearchParams({ period })}`;
}

/** The link to the meters and their prices. */
export function metersHref(): string {
  return "#/meters";
}
