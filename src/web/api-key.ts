import { h } from "./dom.js";

/**
 * The dashboard's API key. Every call needs one (a read key is enough to
 * browse; recording usage needs ingest or admin). It arrives either in a link
 * (`/#key=<key>`, which the demo prints; the fragment never reaches a server
 * and is removed from the address bar at once) or from the sign-in form, and
 * is kept in this browser's localStorage until "Forget key".
 */
const STORAGE_KEY = "tally.apiKey";

/** The key from a `#key=` link (stored, and the hash cleaned), else the stored one. */
export function takeApiKey(): string | undefined {
  const match = /^#key=([^&]+)/.exec(location.hash);
  if (match !== null) {
    localStorage.setItem(STORAGE_KEY, decodeURIComponent(match[1]!));
    history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  }
  return localStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function forgetApiKey(): void {
  localStorage.removeItem(STORAGE_KEY);
}

/** The sign-in form: asks for a key and hands it to `use`. */
export function createKeyForm(use: (key: string) => void): { element: HTMLElement; heading: HTMLElement } {
  const heading = h("h1", { tabindex: "-1" }, "Sign in with an API key");
  const input = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    {
      class: "key-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (key === "") return;
        localStorage.setItem(STORAGE_KEY, key);
        use(key);
      },
    },
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Use key"),
  );
  const element = h(
    "div",
    {},
    heading,
    h("p", {}, "Tally needs a key for every call. A read key shows customers and bills; recording usage needs an ingest or admin key. ", "Create one with ", h("code", {}, "tally keys create --role read"), "."),
    form,
  );
  return { element, heading };
}
