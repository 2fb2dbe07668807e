import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerToken } from "../../../src/server/interceptors/authentication.js";

describe("bearerToken", () => {
  it("reads the credential of a Bearer header, the scheme in any case, spaces around it", () => {
    assert.equal(bearerToken("Bearer tly_abc"), "tly_abc");
    assert.equal(bearerToken("bearer   tly_abc  "), "tly_abc");
    assert.equal(bearerToken("BEARER tly_abc"), "tly_abc");
  });

  it("refuses everything else", () => {
    for (const header of [null, "", "Bearer", "Bearer ", "Bearer  ", "Bearertly_abc", " Bearer tly_abc", "Basic dXNlcjpwYXNz", "Bearer tly abc", "Bearer tly_abc\t", "Bearer\ttly_abc", "Bearer tly\u00a0abc"]) {
      assert.equal(bearerToken(header), undefined, JSON.stringify(header));
    }
  });

  it("agrees with the regular expression it replaced on every combination of header pieces", () => {
    const pattern = /^Bearer +([^\s]+) *$/i;
    const pieces = ["Bearer", "bEaReR", " ", "  ", "\t", "tly_abc", "x y", "\u00a0", "Basic", ""];
    let compared = 0;
    const combine = (depth: number, header: string): void => {
      assert.equal(bearerToken(header), pattern.exec(header)?.[1], JSON.stringify(header));
      compared++;
      if (depth > 0) for (const piece of pieces) combine(depth - 1, header + piece);
    };
    combine(4, "");
    assert.ok(compared > 10_000);
  });
});
