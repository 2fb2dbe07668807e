/** A usage quantity or money amount as callers like to give it. */
export type DecimalInput = string | bigint | number;

/**
 * The exact decimal string for a quantity: strings pass as they are (the
 * server judges them), bigints print exactly, and numbers print as the
 * shortest decimal that reads back to the same number (0.1 → "0.1", 1e-7 →
 * "0.0000001"). A number that is not finite, or an integer beyond 2^53 (which
 * a number cannot hold exactly), is refused before anything is sent.
 */
export function toDecimalString(value: DecimalInput, field: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new DecimalInputError(field, `${String(value)} is not a finite number`);
  }
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new DecimalInputError(field, `${value} is beyond 2^53 and cannot be exact as a number; pass a string or a bigint`);
  }
  return expandExponent(String(value));
}

/** A quantity or amount the client refused to send. */
export class DecimalInputError extends RangeError {
  constructor(
    /** The field's path in the request, e.g. "requests[3].quantity". */
    readonly field: string,
    readonly description: string,
  ) {
    super(`${field}: ${description}`);
    this.name = "DecimalInputError";
  }
}

/** "1e-7" → "0.0000001", "1.5e+21" cannot occur (unsafe integers are refused). */
function expandExponent(text: string): string {
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (match === null) return text;
  const [, sign, lead, fraction = "", exponentText] = match;
  const exponent = Number(exponentText);
  const digits = lead! + fraction;
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  return `${sign}${digits.padEnd(exponent + 1, "0")}`;
}
