/** What may be placed inside an element: nodes, text, or nothing (skipped, so conditionals read naturally). */
export type Child = Node | string | null | undefined | false;

/** Attribute values; `on*` keys take listeners, `false`/`null`/`undefined` leave the attribute out. */
export type Attributes = Record<string, string | number | boolean | null | undefined | EventListener>;

const SVG_NAMESPACE = "http://www.w3.org/2000/svg";

/**
 * Builds an HTML element. Text always goes in as text nodes, never as markup,
 * so nothing the server returns (names, reasons, ids) can inject HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attributes, children);
}

/** Builds an SVG element (the usage charts are drawn by hand). */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NAMESPACE, tag), attributes, children);
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren(...nodes(children));
}

function fill<E extends Element>(element: E, attributes: Attributes, children: (Child | Child[])[]): E {
  for (const [name, value] of Object.entries(attributes)) {
    // The page's CSP (style-src 'self') drops style attributes, so one would fail silently: use a class.
    if (name === "style") throw new Error("style attributes are blocked by the page's CSP; use a class in app.css");
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...nodes(children));
  return element;
}

function nodes(children: (Child | Child[])[]): (Node | string)[] {
  return children.flat().filter((child): child is Node | string => child !== null && child !== undefined && child !== false);
}
