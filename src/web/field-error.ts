import { h } from "./dom.js";

/** The message slot of one form control. */
export interface FieldError {
  /** The paragraph under the control that holds the message. */
  element: HTMLElement;
  show(message: string): void;
  clear(): void;
}

/**
 * Puts a server's field violation next to the control it names: the control
 * becomes aria-invalid and points at the message with aria-describedby (after
 * its hint, if any), so a screen reader reads the message on focus.
 */
export function createFieldError(control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hintId?: string): FieldError {
  const id = `${control.id}-error`;
  const element = h("p", { id, class: "field-error", "data-testid": `field-error-${control.name}`, hidden: true });
  const describedBy = (withError: boolean) => [hintId, withError ? id : undefined].filter((part) => part !== undefined).join(" ");
  const clear = () => {
    element.hidden = true;
    element.textContent = "";
    control.removeAttribute("aria-invalid");
    const ids = describedBy(false);
    if (ids === "") control.removeAttribute("aria-describedby");
    else control.setAttribute("aria-describedby", ids);
  };
  clear();
  // Editing the field withdraws the complaint: it was about the old value.
  control.addEventListener("input", clear);
  return {
    element,
    show(message) {
      element.hidden = false;
      element.textContent = message;
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", describedBy(true));
    },
    clear,
  };
}
