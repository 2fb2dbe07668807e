import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { BillingError } from "tally/client";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";

/** What a refused call said: code, reason and field paths from the standard details. */
export interface Refusal {
  code: Code;
  reason: string;
  fields: string[];
  message: string;
}

/** Awaits a call that must fail and reads its status. */
export async function refusal(call: Promise<unknown>): Promise<Refusal> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    const [info] = error.findDetails(ErrorInfoSchema);
    const [badRequest] = error.findDetails(BadRequestSchema);
    return {
      code: error.code,
      reason: info?.reason ?? "",
      fields: badRequest?.fieldViolations.map((violation) => violation.field) ?? [],
      message: error.rawMessage,
    };
  }
  assert.fail("the call succeeded but was expected to fail");
}

/** Asserts a refusal's code and reason (and field paths, when given). */
export async function assertRefused(call: Promise<unknown>, code: Code, reason: string, fields?: string[]): Promise<Refusal> {
  const result = await refusal(call);
  assert.equal(Code[result.code], Code[code], `code (message: ${result.message})`);
  assert.equal(result.reason, reason, `reason (message: ${result.message})`);
  if (fields !== undefined) assert.deepEqual(result.fields, fields);
  return result;
}

/** Awaits a call of the client library that must fail with a BillingError. */
export async function billingError(call: Promise<unknown>): Promise<BillingError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof BillingError, `expected a BillingError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded but was expected to fail");
}
