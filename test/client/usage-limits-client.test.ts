import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { BillingError, createBillingClient, type RetryEvent } from "tally/client";
import { createBillingClientOver } from "../../clients/typescript/src/billing-client.js";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { billingError } from "../support/errors.js";
import { createFaultInjector } from "../support/fault-injector.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

const fast = { initialBackoffMs: 5, maxBackoffMs: 20 };

describe("the client's usage limit helpers against a real server", () => {
  const faults = createFaultInjector(["SetUsageLimit", "RecordUsage", "BatchRecordUsage"]);
  let tally: TestTally;

  before(async () => {
    tally = await startTestTally({}, undefined, [faults.interceptor]);
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await client.createCustomer({ customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
  });
  after(() => tally.stop());

  it("setUsageLimit takes numbers and null, keeps one request_id across retries, and getUsageAllowance reads it back", async () => {
    const retries: RetryEvent[] = [];
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: fast, onRetry: (event) => retries.push(event) });
    faults.reset();
    // The first attempt commits but its answer is lost: the retry, with the same request_id, is replayed.
    faults.queue({ kind: "fail-after", code: Code.Unavailable });
    const set = await client.setUsageLimit({ limit: { customerId: "acme", meterKey: "calls", limit: 3 } });
    assert.equal(set.replayed, true);
    assert.equal(set.limit?.limit, "3");
    assert.equal(retries.length, 1);
    const attempts = faults.seen.filter((call) => call.method === "SetUsageLimit");
    assert.equal(attempts.length, 2);
    assert.ok(attempts[0]!.requestId !== undefined && attempts[0]!.requestId === attempts[1]!.requestId, "one request_id per logical call");
    const allowance = await client.getUsageAllowance({ customerId: "acme", meterKey: "calls" });
    assert.deepEqual([allowance.limit, allowance.used, allowance.remaining], ["3", "0", "3"]);
    const removed = await client.setUsageLimit({ limit: { customerId: "acme", meterKey: "calls", limit: null } });
    assert.equal(removed.limit?.limit, "");
    assert.equal((await client.getUsageAllowance({ customerId: "acme", meterKey: "calls" })).limit, "");
  });

  it("never retries USAGE_LIMIT_EXCEEDED: one attempt, refused, with the reason and the server's words", async () => {
    const retries: RetryEvent[] = [];
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: fast, onRetry: (event) => retries.push(event) });
    await client.setUsageLimit({ limit: { customerId: "acme", meterKey: "calls", limit: "2" } });
    await client.recordUsage({ customerId: "acme", meterKey: "calls", quantity: 2 });
    faults.reset();
    const error = await billingError(client.recordUsage({ customerId: "acme", meterKey: "calls", quantity: 1 }));
    assert.equal(error.code, Code.FailedPrecondition);
    assert.equal(error.reason, "USAGE_LIMIT_EXCEEDED");
    assert.equal(error.attempts, 1);
    assert.equal(error.outcome, "refused");
    assert.match(error.message, /limit of 2/);
    assert.deepEqual(retries, []);
    assert.equal(faults.seen.filter((call) => call.method === "RecordUsage").length, 1);
    // The producer's items are refused the same way, once.
    const producer = client.usage.producer({ via: "calls" });
    const refused = await producer.enqueue({ customerId: "acme", meterKey: "calls", quantity: 1 }).then(
      () => assert.fail("recorded past the limit"),
      (cause: unknown) => cause as BillingError,
    );
    await producer.close();
    assert.equal(refused.reason, "USAGE_LIMIT_EXCEEDED");
    assert.equal(faults.seen.filter((call) => call.method === "BatchRecordUsage").length, 1);
  });
});

describe("the client's credit and alert helpers (unit level: their server side lands with other work)", () => {
  /** A fake BillingService: the first attempt of each call fails UNAVAILABLE, the second answers; records every request. */
  function fakeServer(answer: "succeed-on-retry" | "unimplemented") {
    const seen: { method: string; request: Record<string, unknown> }[] = [];
    const transport = createRouterTransport(({ service }) => {
      const respond = <T>(method: string, request: unknown, value: T): T => {
        seen.push({ method, request: request as Record<string, unknown> });
        if (answer === "unimplemented") throw new ConnectError("not yet", Code.Unimplemented);
        if (seen.filter((call) => call.method === method).length === 1) throw new ConnectError("try again", Code.Unavailable);
        return value;
      };
      service(BillingService, {
        grantCredit: (request) => respond("grantCredit", request, { grant: { id: "cred_1", amount: request.grant?.amount ?? "" }, replayed: false }),
        listCreditGrants: (request) => respond("listCreditGrants", request, { grants: [], nextPageToken: "" }),
        createAlert: (request) => respond("createAlert", request, { alert: { id: "alert_1", threshold: request.alert?.threshold ?? "" }, replayed: false }),
      });
    });
    return { seen, client: createBillingClientOver(transport, { baseUrl: "http://unused", retry: fast }, false) };
  }

  it("grantCredit, createAlert and listCreditGrants are retried with one request_id per call, and decimals go as exact strings", async () => {
    const { seen, client } = fakeServer("succeed-on-retry");
    const granted = await client.grantCredit({ grant: { customerId: "acme", amount: 12.5, currencyCode: "USD", reason: "goodwill" } });
    assert.equal(granted.grant?.amount, "12.5");
    const alert = await client.createAlert({ alert: { customerId: "acme", meterKey: "", threshold: 100n } });
    assert.equal(alert.alert?.threshold, "100");
    await client.listCreditGrants({ customerId: "acme" });
    for (const method of ["grantCredit", "createAlert"]) {
      const attempts = seen.filter((call) => call.method === method);
      assert.equal(attempts.length, 2, method);
      const requestId = attempts[0]!.request.requestId;
      assert.ok(typeof requestId === "string" && requestId.length > 0, `${method} got a request_id`);
      assert.equal(attempts[1]!.request.requestId, requestId, `${method} sent the same request_id again`);
    }
    assert.equal(seen.filter((call) => call.method === "listCreditGrants").length, 2);
    // A second logical call gets a new request_id.
    await client.grantCredit({ grant: { customerId: "acme", amount: "1", currencyCode: "USD" } });
    const ids = new Set(seen.filter((call) => call.method === "grantCredit").map((call) => call.request.requestId));
    assert.equal(ids.size, 2);
  });

  it("a method the server does not implement yet answers UNIMPLEMENTED once: no retries", async () => {
    const { seen, client } = fakeServer("unimplemented");
    for (const call of [
      () => client.grantCredit({ grant: { customerId: "acme", amount: "1", currencyCode: "USD" } }),
      () => client.createAlert({ alert: { customerId: "acme", meterKey: "calls", threshold: "5" } }),
      () => client.listCreditGrants({ customerId: "acme" }),
    ]) {
      const error = await billingError(call());
      assert.equal(error.code, Code.Unimplemented);
      assert.equal(error.attempts, 1);
    }
    assert.equal(seen.length, 3);
  });

  it("refuses an amount or threshold that cannot be exact before anything is sent", async () => {
    const { seen, client } = fakeServer("succeed-on-retry");
    const error = await billingError(client.grantCredit({ grant: { customerId: "acme", amount: Number.NaN, currencyCode: "USD" } }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.deepEqual(error.fieldViolations.map((violation) => violation.field), ["grant.amount"]);
    await billingError(client.createAlert({ alert: { customerId: "acme", meterKey: "calls", threshold: 2 ** 60 } }));
    assert.equal(seen.length, 0);
  });
});
