/**
 * An exact decimal number: an integer count of units at a scale
 * (value = units / 10^scale). Quantities and money are Decimals from the wire
 * to the database and back; no float ever holds one.
 *
 * Why not a decimal library: the usual ones (big.js, decimal.js) also accept
 * JavaScript numbers, which is the very float hazard this type exists to shut
 * out, and we need only parsing, +, -, ×, a whole-number quotient, comparison
 * and one rounding mode.
 */
export class Decimal {
  /** Zero, at scale 0. */
  static readonly ZERO = new Decimal(0n, 0);

  private constructor(
    /** The value times 10^scale. */
    readonly units: bigint,
    /** Digits after the point; never with trailing zeros (always normalized). */
    readonly scale: number,
  ) {}

  /**
   * Parses a plain decimal string such as "58", "0.25" or "-3.5" (a sign only
   * when `allowNegative`). No exponent, no spaces, no thousands separators:
   * anything else is `undefined`, never a guess.
   */
  static parse(text: string, allowNegative = false): Decimal | undefined {
    const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text);
    if (match === null) return undefined;
    const [, sign, whole, fraction = ""] = match;
    if (sign !== undefined && !allowNegative) return undefined;
    const units = BigInt(whole + fraction);
    return new Decimal(sign === undefined ? units : -units, fraction.length).normalized();
  }

  /** A Decimal from an integer count of units at a scale. */
  static fromUnits(units: bigint, scale: number): Decimal {
    return new Decimal(units, scale).normalized();
  }

  /** A Decimal from a whole number, e.g. an event count. */
  static fromInteger(value: bigint | number): Decimal {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new RangeError(`not a safe integer: ${value}`);
    }
    return new Decimal(BigInt(value), 0);
  }

  /** Digits before the point ("0.5" has 1, "123.4" has 3). */
  get integerDigits(): number {
    const whole = abs(this.units) / pow10(this.scale);
    return whole.toString().length;
  }

  isNegative(): boolean {
    return this.units < 0n;
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  add(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    return Decimal.fromUnits(this.unitsAt(scale) + other.unitsAt(scale), scale);
  }

  sub(other: Decimal): Decimal {
    const scale = Math.max(this.scale, other.scale);
    return Decimal.fromUnits(this.unitsAt(scale) - other.unitsAt(scale), scale);
  }

  mul(other: Decimal): Decimal {
    return Decimal.fromUnits(this.units * other.units, this.scale + other.scale);
  }

  /**
   * The smallest whole number at or above this / `divisor`, exactly (a package
   * count: 2501 units in packages of 1000 are 3). Both must be non-negative
   * and the divisor non-zero.
   */
  divCeil(divisor: Decimal): Decimal {
    if (divisor.units <= 0n || this.units < 0n) throw new RangeError(`divCeil(${this.toString()}, ${divisor.toString()})`);
    const scale = Math.max(this.scale, divisor.scale);
    const dividend = this.unitsAt(scale);
    const by = divisor.unitsAt(scale);
    return Decimal.fromUnits((dividend + by - 1n) / by, 0);
  }

  /** -1, 0 or 1 as this is less than, equal to or greater than `other`. */
  compare(other: Decimal): -1 | 0 | 1 {
    const scale = Math.max(this.scale, other.scale);
    const a = this.unitsAt(scale);
    const b = other.unitsAt(scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: Decimal): boolean {
    return this.compare(other) === 0;
  }

  min(other: Decimal): Decimal {
    return this.compare(other) <= 0 ? this : other;
  }

  max(other: Decimal): Decimal {
    return this.compare(other) >= 0 ? this : other;
  }

  /**
   * Rounds to `scale` digits after the point, half to even (banker's
   * rounding), so that rounding many amounts has no upward bias.
   */
  roundHalfEven(scale: number): Decimal {
    if (this.scale <= scale) return this;
    const divisor = pow10(this.scale - scale);
    const magnitude = abs(this.units);
    let quotient = magnitude / divisor;
    const twiceRemainder = (magnitude % divisor) * 2n;
    if (twiceRemainder > divisor || (twiceRemainder === divisor && quotient % 2n === 1n)) {
      quotient += 1n;
    }
    return Decimal.fromUnits(this.units < 0n ? -quotient : quotient, scale);
  }

  /** The shortest exact form: "58", "0.25", "-3.5". */
  toString(): string {
    return this.toFixed(this.scale);
  }

  /**
   * Exactly `scale` digits after the point, padding with zeros ("12.50").
   * Refuses to drop digits: round first.
   */
  toFixed(scale: number): string {
    if (scale < this.scale) throw new RangeError(`toFixed(${scale}) would drop digits of ${this.toString()}`);
    const digits = abs(this.unitsAt(scale)).toString().padStart(scale + 1, "0");
    const sign = this.units < 0n ? "-" : "";
    if (scale === 0) return sign + digits;
    return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }

  private unitsAt(scale: number): bigint {
    return scale === this.scale ? this.units : this.units * pow10(scale - this.scale);
  }

  /** Drops trailing zeros after the point, so equal values look alike. */
  private normalized(): Decimal {
    let { units, scale } = this;
    while (scale > 0 && units % 10n === 0n) {
      units /= 10n;
      scale -= 1;
    }
    return scale === this.scale ? this : new Decimal(units, scale);
  }
}

/** 10^n, from a table for the scales decimals have (a BigInt power costs more than the arithmetic it scales). */
function pow10(n: number): bigint {
  return POWERS_OF_TEN[n] ?? 10n ** BigInt(n);
}

const POWERS_OF_TEN = Array.from({ length: 64 }, (_, n) => 10n ** BigInt(n));

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}
