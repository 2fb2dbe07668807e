import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { createBillingClient, type RetryEvent } from "tally/client";
import { Aggregation, PricingModel } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { createFaultInjector } from "../support/fault-injector.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";
import { TEST_ADMIN_KEY } from "../support/clients.js";
import { billingError } from "../support/errors.js";

describe("the retrying client against a real server with injected faults", () => {
  const faults = createFaultInjector();
  let tally: TestTally;
  const fast = { initialBackoffMs: 5, maxBackoffMs: 20 };

  before(async () => {
    tally = await startTestTally({}, undefined, [faults.interceptor]);
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    await client.createMeter({ meter: { key: "calls", displayName: "Calls", unit: "call", aggregation: Aggregation.SUM, wholeUnits: true } });
    await client.createPrice({ price: { meterKey: "calls", currencyCode: "USD", tiers: [{ unitAmount: 0.5 }] } });
    await client.createCustomer({ customer: { externalId: "acme", displayName: "Acme", currencyCode: "USD" } });
  });
  after(() => tally.stop());
  beforeEach(() => faults.reset());

  for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
    it(`${protocol}: retries UNAVAILABLE with one request_id until it succeeds, and a lost response is replayed`, async () => {
      const retries: RetryEvent[] = [];
      const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, protocol, retry: fast, onRetry: (event) => retries.push(event) });
      faults.queue(
        { kind: "fail-before", code: Code.Unavailable },
        { kind: "fail-before", code: Code.Unavailable },
        { kind: "fail-after", code: Code.Unavailable },
      );
      const response = await client.recordUsage({ customerId: "acme", meterKey: "calls", quantity: 2 });
      assert.equal(response.replayed, true); // the third attempt committed, its answer was lost
      assert.equal(retries.length, 3);
      const ids = new Set(faults.seen.map((call) => call.requestId));
      assert.equal(ids.size, 1);
      assert.equal(faults.seen.length, 4);
      assert.equal([...ids][0], response.record?.requestId);
      assert.match(response.record!.requestId, /^[0-9a-f-]{36}$/);
    });
  }

  it("GrantCredit gets one request_id of its own, kept across retries: a lost answer is replayed, not granted twice", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: fast });
    faults.queue({ kind: "fail-after", code: Code.Unavailable });
    const response = await client.grantCredit({ grant: { customerId: "acme", amount: "2.50", reason: "client test" } });
    assert.equal(response.replayed, true);
    assert.equal(new Set(faults.seen.map((call) => call.requestId)).size, 1);
    const { grants } = await client.listCreditGrants({ customerId: "acme" });
    assert.deepEqual(grants.filter((grant) => grant.reason === "client test").map((grant) => grant.amount), ["2.50"]);
  });

  it("tries non-retryable codes once, and says why in a sentence", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: fast });
    await client.recordUsage({ requestId: "once-1", customerId: "acme", meterKey: "calls", quantity: "1" });
    faults.reset();
    const mismatch = await billingError(client.recordUsage({ requestId: "once-1", customerId: "acme", meterKey: "calls", quantity: "3" }));
    assert.equal(mismatch.code, Code.AlreadyExists);
    assert.equal(mismatch.codeName, "ALREADY_EXISTS");
    assert.equal(mismatch.reason, "REQUEST_ID_REUSED");
    assert.deepEqual(mismatch.fieldViolations.map((violation) => violation.field), ["quantity"]);
    assert.equal(mismatch.attempts, 1);
    assert.equal(mismatch.outcome, "refused");
    assert.match(mismatch.message, /RecordUsage was refused with ALREADY_EXISTS REQUEST_ID_REUSED after 1 attempt/);

    for (const [request, code] of [
      [{ customerId: "acme", meterKey: "calls", quantity: "-1" }, Code.InvalidArgument],
      [{ customerId: "nobody", meterKey: "calls", quantity: "1" }, Code.NotFound],
    ] as const) {
      const error = await billingError(client.recordUsage(request));
      assert.equal(error.code, code);
      assert.equal(error.attempts, 1);
    }
    faults.queue({ kind: "fail-before", code: Code.PermissionDenied }, { kind: "fail-before", code: Code.FailedPrecondition });
    assert.equal((await billingError(client.getCurrentBill({ customerId: "acme" }))).code, Code.PermissionDenied);
    assert.equal((await billingError(client.getCurrentBill({ customerId: "acme" }))).code, Code.FailedPrecondition);
    assert.equal(faults.seen.filter((call) => call.method === "RecordUsage").length, 3);
    assert.equal(faults.seen.filter((call) => call.method === "GetCurrentBill").length, 2);
  });

  it("refuses a number that cannot be exact before anything is sent", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    const error = await billingError(client.recordUsage({ customerId: "acme", meterKey: "calls", quantity: Number.NaN }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.attempts, 0);
    assert.deepEqual(error.fieldViolations.map((violation) => violation.field), ["quantity"]);
    const batch = await billingError(
      client.batchRecordUsage({ requests: [{ customerId: "acme", meterKey: "calls", quantity: 1 }, { customerId: "acme", meterKey: "calls", quantity: 2 ** 60 }] }),
    );
    assert.deepEqual(batch.fieldViolations.map((violation) => violation.field), ["requests[1].quantity"]);
    assert.equal(faults.seen.length, 0);
  });

  it("sends a price's model, flat amounts and package size, amounts given as numbers included", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY });
    const volume = await client.createPrice({
      price: { meterKey: "calls", currencyCode: "EUR", model: PricingModel.VOLUME, tiers: [{ upTo: 10, unitAmount: 1, flatAmount: 0.25 }, { unitAmount: "0.5", flatAmount: 2n }] },
    });
    assert.deepEqual(volume.price?.tiers.map((tier) => [tier.upTo, tier.unitAmount, tier.flatAmount]), [["10", "1", "0.25"], ["", "0.5", "2"]]);
    const pack = await client.createPrice({ price: { meterKey: "calls", currencyCode: "GBP", model: PricingModel.PACKAGE, packageSize: 1000, tiers: [{ unitAmount: 2 }] } });
    assert.equal(pack.price?.model, PricingModel.PACKAGE);
    assert.equal(pack.price?.packageSize, "1000");
  });

  it("gives up at the overall deadline and says how many attempts it made", async () => {
    // A budget that cannot run out: this test is about the deadline.
    const client = createBillingClient({
      baseUrl: tally.url, apiKey: TEST_ADMIN_KEY,
      timeoutMs: 400,
      retry: { initialBackoffMs: 50, maxBackoffMs: 100, maxAttempts: 100, budget: { maxTokens: 1000, tokenRatio: 1 } },
    });
    faults.always({ kind: "fail-before", code: Code.Unavailable });
    const started = Date.now();
    const error = await billingError(client.recordUsage({ requestId: "deadline-1", customerId: "acme", meterKey: "calls", quantity: "1" }));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 400 + 150, `took ${elapsed} ms`);
    // The last error is the injected UNAVAILABLE, or the last attempt's own timeout at the deadline.
    assert.ok([Code.Unavailable, Code.DeadlineExceeded].includes(error.code), error.message);
    assert.equal(error.outcome, "gave-up");
    assert.ok(error.attempts > 1);
    // An attempt cut short by the deadline may never have reached the server.
    assert.ok(error.attempts - faults.seen.length === 0 || error.attempts - faults.seen.length === 1);
    assert.match(error.message, new RegExp(`gave up after ${error.attempts} attempts \\(the 400 ms deadline`));
    assert.match(error.message, /request_id "deadline-1"/);
  });

  it("retries an attempt that timed out while the overall deadline allows", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, timeoutMs: 5000, retry: { ...fast, attemptTimeoutMs: 100 } });
    faults.queue({ kind: "delay", ms: 400 });
    const response = await client.recordUsage({ requestId: "slow-1", customerId: "acme", meterKey: "calls", quantity: "1" });
    assert.equal(response.record?.requestId, "slow-1");
    assert.ok(faults.seen.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 400)); // let the slow first attempt finish on the server
    const { bill } = await client.getCurrentBill({ customerId: "acme" });
    const before = Number(bill?.lines[0]?.quantity);
    const again = await client.recordUsage({ requestId: "slow-1", customerId: "acme", meterKey: "calls", quantity: "1" });
    assert.equal(again.replayed, true);
    assert.equal(Number((await client.getCurrentBill({ customerId: "acme" })).bill?.lines[0]?.quantity), before);
  });

  it("gives up after maxAttempts", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: { ...fast, maxAttempts: 3 } });
    faults.always({ kind: "fail-before", code: Code.Unavailable });
    const error = await billingError(client.getCurrentBill({ customerId: "acme" }));
    assert.equal(error.attempts, 3);
    assert.equal(faults.seen.length, 3);
    assert.match(error.message, /all 3 attempts failed/);
  });

  it("the retry budget stops a storm", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: { ...fast, maxAttempts: 5, budget: { maxTokens: 10, tokenRatio: 0.1 } } });
    faults.always({ kind: "fail-before", code: Code.Unavailable });
    const errors = await Promise.all(Array.from({ length: 20 }, () => billingError(client.getCurrentBill({ customerId: "acme" }))));
    // Without a budget: 20 × 5 = 100 attempts. With it: every call's first attempt, and
    // retries only until half the tokens are gone.
    assert.ok(faults.seen.length <= 20 + 5, `${faults.seen.length} attempts`);
    assert.ok(errors.some((error) => /retry budget is spent/.test(error.message)));
    faults.always(undefined);
    for (let index = 0; index < 80; index++) await client.getCurrentBill({ customerId: "acme" }); // earns tokens back
    faults.reset();
    faults.queue({ kind: "fail-before", code: Code.Unavailable });
    await client.getCurrentBill({ customerId: "acme" });
    assert.equal(faults.seen.length, 2);
  });

  it("honours the delay the server asks for", async () => {
    const retries: RetryEvent[] = [];
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: fast, onRetry: (event) => retries.push(event) });
    faults.queue({ kind: "fail-before", code: Code.ResourceExhausted, retryDelayMs: 300 });
    await client.recordUsage({ customerId: "acme", meterKey: "calls", quantity: "1" });
    assert.equal(faults.seen.length, 2);
    const gap = faults.seen[1]!.at - faults.seen[0]!.at;
    assert.ok(gap >= 300, `retried after ${gap} ms`);
    assert.deepEqual(
      retries.map((event) => [event.delayMs, event.serverDelay]),
      [[300, true]],
    );
  });

  it("stops at once when the caller cancels, during an attempt or while waiting to retry", async () => {
    const client = createBillingClient({ baseUrl: tally.url, apiKey: TEST_ADMIN_KEY, retry: { initialBackoffMs: 1000, maxBackoffMs: 1000 } });
    faults.always({ kind: "delay", ms: 1000 });
    const during = new AbortController();
    setTimeout(() => during.abort(), 100);
    let started = Date.now();
    let error = await billingError(client.getCurrentBill({ customerId: "acme" }, { signal: during.signal }));
    assert.ok(Date.now() - started < 900);
    assert.equal(error.code, Code.Canceled);
    assert.equal(error.attempts, 1);

    faults.reset();
    faults.always({ kind: "fail-before", code: Code.Unavailable });
    const retries: RetryEvent[] = [];
    const waiting = new AbortController();
    const patient = createBillingClient({
      baseUrl: tally.url, apiKey: TEST_ADMIN_KEY,
      retry: { initialBackoffMs: 1000, maxBackoffMs: 1000 },
      onRetry: (event) => {
        retries.push(event);
        setTimeout(() => waiting.abort(), 10);
      },
    });
    started = Date.now();
    error = await billingError(patient.getCurrentBill({ customerId: "acme" }, { signal: waiting.signal }));
    assert.equal(error.code, Code.Canceled);
    assert.equal(faults.seen.length, retries[0]!.delayMs > 10 ? 1 : faults.seen.length);
    assert.ok(Date.now() - started < retries[0]!.delayMs + 500);
  });

  it("sends the API key as a bearer token on every protocol", async () => {
    const key = await tally.createKey("read");
    for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
      const client = createBillingClient({ baseUrl: tally.url, protocol, apiKey: key });
      assert.equal((await client.getCustomer({ id: "acme" })).customer?.externalId, "acme");
    }
    assert.deepEqual(
      faults.seen.map((call) => call.authorization),
      [`Bearer ${key}`, `Bearer ${key}`, `Bearer ${key}`],
    );
    const error = await billingError(createBillingClient({ baseUrl: tally.url }).getCustomer({ id: "acme" }));
    assert.equal(error.code, Code.Unauthenticated);
    assert.equal(faults.seen.length, 3, "a call without a key stops at authentication");
  });

});
