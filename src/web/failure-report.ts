import { BillingError } from "tally/client";
import { h, replaceChildren } from "./dom.js";

/** A failed call in the words the dashboard shows: status code, reason, detail. */
export interface Failure {
  /** e.g. "INVALID_ARGUMENT"; "CLIENT_ERROR" for a fault in the page itself. */
  code: string;
  /** The server's UPPER_SNAKE reason, "" when it gave none (e.g. the network failed). */
  reason: string;
  detail: string;
  fieldViolations: { field: string; description: string }[];
  attempts: number;
}

/** Reads whatever a call threw; anything that is not a BillingError is a fault of the page, shown as such. */
export function toFailure(error: unknown): Failure {
  if (error instanceof BillingError) {
    return { code: error.codeName, reason: error.reason, detail: error.detail, fieldViolations: error.fieldViolations, attempts: error.attempts };
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { code: "CLIENT_ERROR", reason: "", detail, fieldViolations: [], attempts: 0 };
}

/** A place that reports failed calls in words, announced by screen readers as it fills. */
export interface FailureRegion {
  element: HTMLElement;
  /** Shows that `action` (e.g. "Loading the bill") failed, and why. */
  show(action: string, error: unknown): Failure;
  clear(): void;
}

/**
 * Every failed call ends in one of these, so no error is ever swallowed. The
 * region exists (empty) from the start: screen readers announce changes to
 * a live region reliably only if it was already in the page.
 */
export function createFailureRegion(testId: string): FailureRegion {
  const element = h("div", { role: "alert", class: "failure", "data-testid": testId, hidden: true });
  return {
    element,
    show(action, error) {
      const failure = toFailure(error);
      element.hidden = false;
      replaceChildren(
        element,
        h(
          "p",
          {},
          h("strong", {}, `${action} failed: `),
          h("span", { class: "failure-code", "data-testid": "failure-code" }, failure.code),
          failure.reason !== "" && [" ", h("span", { class: "failure-reason", "data-testid": "failure-reason" }, failure.reason)],
          " — ",
          h("span", { "data-testid": "failure-detail" }, failure.detail),
          failure.attempts > 1 && ` (after ${failure.attempts} attempts)`,
        ),
        failure.fieldViolations.length > 0 &&
          h(
            "ul",
            {},
            failure.fieldViolations.map((violation) => h("li", {}, h("code", {}, violation.field), `: ${violation.description}`)),
          ),
      );
      return failure;
    },
    clear() {
      element.hidden = true;
      element.replaceChildren();
    },
  };
}
