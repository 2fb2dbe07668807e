import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { thresholdReached } from "../../src/domain/alerts.js";
import { Decimal } from "../../src/domain/decimal.js";

const d = (text: string) => Decimal.parse(text)!;

describe("Alerts (domain)", () => {
  it("an alert is reached by the write that takes its value from below the threshold to at or above it, and by no other", () => {
    assert.equal(thresholdReached(d("10"), d("9.999"), d("10")), true);
    assert.equal(thresholdReached(d("10"), d("0"), d("250")), true);
    assert.equal(thresholdReached(d("10"), d("9"), d("9.9")), false);
    assert.equal(thresholdReached(d("10"), d("10"), d("11")), false, "already at it before the write");
    assert.equal(thresholdReached(d("10"), d("12"), d("8")), false, "falling");
    assert.equal(thresholdReached(d("0"), d("0"), d("1")), false, "a zero threshold is reached by nothing: the value starts at it");
  });
});
