import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecimalInputError, toDecimalString } from "../../clients/typescript/src/quantity.js";

describe("quantities given as string, bigint or number", () => {
  it("converts exactly", () => {
    assert.equal(toDecimalString("12.50", "q"), "12.50");
    assert.equal(toDecimalString(12345678901234567890123n, "q"), "12345678901234567890123");
    assert.equal(toDecimalString(7, "q"), "7");
    assert.equal(toDecimalString(0.1, "q"), "0.1");
    assert.equal(toDecimalString(1e-7, "q"), "0.0000001");
    assert.equal(toDecimalString(1.5e-9, "q"), "0.0000000015");
    assert.equal(toDecimalString(Number.MAX_SAFE_INTEGER, "q"), "9007199254740991");
  });

  it("refuses numbers that cannot be exact", () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, 1e21]) {
      assert.throws(() => toDecimalString(value, "requests[2].quantity"), (error: unknown) => {
        assert.ok(error instanceof DecimalInputError);
        assert.equal(error.field, "requests[2].quantity");
        return true;
      });
    }
  });
});
