import { h } from "./dom.js";

/** Previous/Next over a list API's opaque page tokens. */
export interface Pager {
  element: HTMLElement;
  /** The page_token of the page to load now ("" for the first). */
  readonly pageToken: string;
  /** Back to the first page (e.g. when the search changes). */
  reset(): void;
  /** Call when a page arrived, with its next_page_token ("" on the last page). */
  loaded(nextPageToken: string): void;
}

/**
 * The list APIs page forwards only (opaque next_page_token), so going back
 * means remembering the token each visited page was loaded with.
 */
export function createPager(options: { label: string; testId: string; onChange: () => void }): Pager {
  const tokens = [""];
  let index = 0;
  let nextPageToken = "";
  // aria-disabled rather than disabled: a disabled button drops keyboard focus
  // to the page's start the moment the last page arrives.
  const previous = h("button", { type: "button", "aria-disabled": "true", "data-testid": `${options.testId}-previous` }, "Previous");
  const next = h("button", { type: "button", "aria-disabled": "true", "data-testid": `${options.testId}-next` }, "Next");
  const position = h("span", { class: "pager-position", "aria-live": "polite", "data-testid": `${options.testId}-position` }, "Page 1");
  const element = h("nav", { class: "pager", "aria-label": options.label, "data-testid": options.testId }, previous, position, next);

  const update = () => {
    previous.setAttribute("aria-disabled", String(index === 0));
    next.setAttribute("aria-disabled", String(nextPageToken === ""));
    position.textContent = `Page ${index + 1}`;
  };
  previous.addEventListener("click", () => {
    if (index === 0) return;
    index--;
    nextPageToken = "";
    update();
    options.onChange();
  });
  next.addEventListener("click", () => {
    if (nextPageToken === "") return;
    tokens[index + 1] = nextPageToken;
    index++;
    nextPageToken = "";
    update();
    options.onChange();
  });

  return {
    element,
    get pageToken() {
      return tokens[index]!;
    },
    reset() {
      tokens.length = 1;
      index = 0;
      nextPageToken = "";
      update();
    },
    loaded(token) {
      nextPageToken = token;
      update();
    },
  };
}
