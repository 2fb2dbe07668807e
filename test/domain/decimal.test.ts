import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";

const d = (text: string) => Decimal.parse(text, true)!;

describe("Decimal", () => {
  it("parses plain decimal strings only", () => {
    for (const good of ["0", "58", "0.25", "007.50", "123456789012345678.123456789"]) {
      assert.notEqual(Decimal.parse(good), undefined, good);
    }
    for (const bad of ["", " 1", "1 ", "1e3", "1E3", ".5", "1.", "+1", "-1", "NaN", "Infinity", "0x10", "1,000", "١٢"]) {
      assert.equal(Decimal.parse(bad), undefined, bad);
    }
    assert.equal(Decimal.parse("-3.5", true)?.toString(), "-3.5");
  });

  it("normalizes so equal values print alike", () => {
    assert.equal(d("007.500").toString(), "7.5");
    assert.equal(d("0.000").toString(), "0");
    assert.ok(d("1.50").equals(d("1.5")));
  });

  it("adds and multiplies exactly where floats do not", () => {
    assert.equal(d("0.1").add(d("0.2")).toString(), "0.3");
    assert.equal(d("1.1").mul(d("1.1")).toString(), "1.21");
    assert.equal(d("99999999999999999999.99").add(d("0.01")).toString(), "100000000000000000000");
    assert.equal(d("0.000001").mul(d("3")).toString(), "0.000003");
    assert.equal(d("5").sub(d("7.25")).toString(), "-2.25");
  });

  it("rounds half to even", () => {
    const cases: [string, number, string][] = [
      ["2.5", 0, "2"],
      ["3.5", 0, "4"],
      ["-2.5", 0, "-2"],
      ["2.675", 2, "2.68"], // 2.675 as a float is 2.67499999...
      ["2.665", 2, "2.66"],
      ["2.6651", 2, "2.67"],
      ["0.005", 2, "0"],
      ["0.015", 2, "0.02"],
      ["1.2", 2, "1.2"],
    ];
    for (const [value, scale, expected] of cases) assert.equal(d(value).roundHalfEven(scale).toString(), expected, value);
  });

  it("prints fixed digits and refuses to drop any", () => {
    assert.equal(d("12.5").toFixed(2), "12.50");
    assert.equal(d("0").toFixed(2), "0.00");
    assert.equal(d("-0.5").toFixed(2), "-0.50");
    assert.throws(() => d("1.234").toFixed(2), RangeError);
  });

  it("counts integer digits", () => {
    assert.equal(d("0.5").integerDigits, 1);
    assert.equal(d("123.45").integerDigits, 3);
    assert.equal(d("999999999999999999").integerDigits, 18);
  });

  it("divides to the next whole number exactly", () => {
    assert.equal(d("2501").divCeil(d("1000")).toString(), "3");
    assert.equal(d("2000").divCeil(d("1000")).toString(), "2");
    assert.equal(d("0").divCeil(d("1000")).toString(), "0");
    assert.equal(d("1.5").divCeil(d("0.5")).toString(), "3");
    assert.equal(d("1.500000000001").divCeil(d("0.5")).toString(), "4");
    assert.equal(d(`1${"0".repeat(20)}`).divCeil(d("0.000000000001")).toString(), `1${"0".repeat(32)}`);
    assert.throws(() => d("1").divCeil(d("0")), RangeError);
  });

  it("compares across scales", () => {
    assert.equal(d("1.10").compare(d("1.1")), 0);
    assert.equal(d("1.01").compare(d("1.1")), -1);
    assert.equal(d("10").compare(d("9.999")), 1);
    assert.equal(d("2").max(d("10")).toString(), "10");
    assert.equal(d("2").min(d("10")).toString(), "2");
  });
});
