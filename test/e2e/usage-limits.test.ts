import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { BatchRecordUsageResult } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { PROTOCOLS } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { forEachLimited } from "../support/crash-audit.js";
import { assertRefused, refusal } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

// DESIGN.md "Usage limits (entitlements), checked and recorded in one step":
// an event that would take the period's aggregated quantity past the limit is
// refused with FAILED_PRECONDITION, reason USAGE_LIMIT_EXCEEDED, and stores
// nothing; under any concurrency the accepted quantity never passes the limit.
// Through the real server, over real sockets, on SQLite (test/postgres has the
// replicas' race).

/** How many calls race a limit of LIMIT. */
const CALLS = 300;
const LIMIT = 100;

describe("usage limits", () => {
  let tally: TestTally;
  before(async () => {
    tally = await startTestTally();
    await createCatalogFixture(tally.clients(), "acme");
    for (const name of ["unary-race", "batch-race", "stream-race", "atomic"]) {
      await tally.clients().customers.createCustomer({ requestId: `customer-${name}`, customer: { externalId: name, displayName: name, currencyCode: "USD" } });
    }
  });
  after(() => tally.stop());

  it("SetUsageLimit over every protocol: set, replayed, REQUEST_ID_REUSED for a changed payload, removed with an empty limit", async () => {
    for (const protocol of PROTOCOLS) {
      const { usage } = tally.clients(protocol);
      const request = { requestId: `set-${protocol}`, limit: { customerId: "acme", meterKey: "egress", limit: "250.5" } };
      const set = await usage.setUsageLimit(request);
      assert.equal(set.replayed, false, protocol);
      assert.equal(set.limit?.limit, "250.5");
      assert.match(set.limit!.customerId, /^cus_/, "the external_id is resolved to the Tally id");
      assert.ok(set.limit!.updateTime !== undefined);
      const replayed = await usage.setUsageLimit({ ...request, limit: { ...request.limit, limit: "250.500" } });
      assert.equal(replayed.replayed, true, `${protocol}: the same value, spelled otherwise, is the same request`);
      assert.equal(replayed.limit?.limit, "250.5");
      await assertRefused(usage.setUsageLimit({ ...request, limit: { ...request.limit, limit: "251" } }), Code.AlreadyExists, "REQUEST_ID_REUSED", ["limit.limit"]);
      const allowance = await usage.getUsageAllowance({ customerId: "acme", meterKey: "egress" });
      assert.deepEqual([allowance.limit, allowance.used, allowance.remaining], ["250.5", "0", "250.5"]);
      const removed = await usage.setUsageLimit({ requestId: `remove-${protocol}`, limit: { customerId: "acme", meterKey: "egress", limit: "" } });
      assert.equal(removed.limit?.limit, "");
      const none = await usage.getUsageAllowance({ customerId: set.limit!.customerId, meterKey: "egress" });
      assert.deepEqual([none.limit, none.used, none.remaining], ["", "0", ""]);
      assert.match(none.period, /^\d{4}-\d{2}$/);
    }
  });

  it("bad input names its field and sets nothing; an unknown customer or meter is NOT_FOUND; a read key may not set", async () => {
    const { usage } = tally.clients();
    for (const limit of ["-1", "1e3", "abc", " 5", "1.", "123456789012345678901", "1.0000000001"]) {
      await assertRefused(usage.setUsageLimit({ requestId: `bad-${limit}`, limit: { customerId: "acme", meterKey: "hosting", limit } }), Code.InvalidArgument, "INVALID_FIELD", ["limit.limit"]);
    }
    await assertRefused(usage.setUsageLimit({ requestId: "", limit: { customerId: "acme", meterKey: "hosting", limit: "5" } }), Code.InvalidArgument, "INVALID_FIELD", ["request_id"]);
    await assertRefused(usage.setUsageLimit({ requestId: "no-limit" }), Code.InvalidArgument, "INVALID_FIELD", ["limit"]);
    await assertRefused(usage.setUsageLimit({ requestId: "who", limit: { customerId: "nobody", meterKey: "hosting", limit: "5" } }), Code.NotFound, "CUSTOMER_NOT_FOUND", ["limit.customer_id"]);
    await assertRefused(usage.setUsageLimit({ requestId: "what", limit: { customerId: "acme", meterKey: "nothing", limit: "5" } }), Code.NotFound, "METER_NOT_FOUND", ["limit.meter_key"]);
    await assertRefused(usage.getUsageAllowance({ customerId: "acme", meterKey: "nothing" }), Code.NotFound, "METER_NOT_FOUND", ["meter_key"]);
    await assertRefused(usage.getUsageAllowance({ customerId: "nobody", meterKey: "hosting" }), Code.NotFound, "CUSTOMER_NOT_FOUND", ["customer_id"]);
    const read = tally.clients("grpc", await tally.createKey("read"));
    await assertRefused(read.usage.setUsageLimit({ requestId: "reader", limit: { customerId: "acme", meterKey: "hosting", limit: "5" } }), Code.PermissionDenied, "ROLE_NOT_PERMITTED");
    assert.equal((await read.usage.getUsageAllowance({ customerId: "acme", meterKey: "hosting" })).limit, "", "nothing above set a limit");
    // A refused request_id was never claimed.
    assert.equal((await usage.setUsageLimit({ requestId: "who", limit: { customerId: "acme", meterKey: "seats", limit: "3" } })).replayed, false);
  });

  it(`unary race: ${CALLS} RecordUsage calls at once against a limit of ${LIMIT}: exactly ${LIMIT} accepted, the bill is exactly ${LIMIT}`, async () => {
    const { usage, billing } = tally.clients();
    await usage.setUsageLimit({ requestId: "limit-unary", limit: { customerId: "unary-race", meterKey: "hosting", limit: String(LIMIT) } });
    const accepted: string[] = [];
    const refusedIds: string[] = [];
    const other: string[] = [];
    await forEachLimited(
      Array.from({ length: CALLS }, (_, index) => `unary-${index}`),
      64,
      async (requestId) => {
        try {
          await tally.clients(requestId.endsWith("7") ? "connect-json-h1" : "grpc").usage.recordUsage({ requestId, customerId: "unary-race", meterKey: "hosting", quantity: "1" });
          accepted.push(requestId);
        } catch {
          const refused = await refusal(usage.recordUsage({ requestId, customerId: "unary-race", meterKey: "hosting", quantity: "1" }));
          if (refused.code === Code.FailedPrecondition && refused.reason === "USAGE_LIMIT_EXCEEDED") refusedIds.push(requestId);
          else other.push(`${requestId}: ${Code[refused.code]} ${refused.reason} ${refused.message}`);
        }
      },
    );
    assert.deepEqual(other, []);
    assert.equal(accepted.length, LIMIT);
    assert.equal(refusedIds.length, CALLS - LIMIT);
    const line = (await billing.getCurrentBill({ customerId: "unary-race" })).bill!.lines.find((candidate) => candidate.meterKey === "hosting");
    assert.equal(line?.quantity, String(LIMIT));
    const allowance = await usage.getUsageAllowance({ customerId: "unary-race", meterKey: "hosting" });
    assert.deepEqual([allowance.limit, allowance.used, allowance.remaining], [String(LIMIT), String(LIMIT), "0"]);

    // The refusal says the limit and what is used; nothing was stored, so the request_id is free.
    const refused = await assertRefused(usage.recordUsage({ requestId: refusedIds[0]!, customerId: "unary-race", meterKey: "hosting", quantity: "1" }), Code.FailedPrecondition, "USAGE_LIMIT_EXCEEDED");
    assert.match(refused.message, /limit of 100/);
    assert.match(refused.message, /used 100/);
    await assertRefused(usage.getUsageRecord({ id: `rec_${refusedIds[0]}` }), Code.NotFound, "USAGE_RECORD_NOT_FOUND");
    // A replay of an accepted request_id still answers with its record, at the limit.
    const replay = await usage.recordUsage({ requestId: accepted[0]!, customerId: "unary-race", meterKey: "hosting", quantity: "1" });
    assert.equal(replay.replayed, true);
    // Raised by one: the refused request_id records now, and the next one is refused.
    await usage.setUsageLimit({ requestId: "limit-unary-101", limit: { customerId: "unary-race", meterKey: "hosting", limit: "101" } });
    assert.equal((await usage.recordUsage({ requestId: refusedIds[0]!, customerId: "unary-race", meterKey: "hosting", quantity: "1" })).replayed, false);
    await assertRefused(usage.recordUsage({ requestId: refusedIds[1]!, customerId: "unary-race", meterKey: "hosting", quantity: "1" }), Code.FailedPrecondition, "USAGE_LIMIT_EXCEEDED");
  });

  it(`batch race: ${CALLS} items in concurrent BatchRecordUsage calls against a COUNT limit of ${LIMIT}: exactly ${LIMIT} accepted, per item`, async () => {
    const { usage, billing } = tally.clients();
    await usage.setUsageLimit({ requestId: "limit-batch", limit: { customerId: "batch-race", meterKey: "calls", limit: String(LIMIT) } });
    const batches = Array.from({ length: CALLS / 10 }, (_, batch) =>
      Array.from({ length: 10 }, (_, item) => ({ requestId: `batch-${batch}-${item}`, customerId: "batch-race", meterKey: "calls", quantity: "1" })),
    );
    const results: BatchRecordUsageResult[] = [];
    await forEachLimited(batches, 30, async (requests) => {
      results.push(...(await usage.batchRecordUsage({ requests })).results);
    });
    const accepted = results.filter((result) => result.result.case === "response").length;
    const refusedItems = results.filter((result) => result.result.case === "error" && result.result.value.reason === "USAGE_LIMIT_EXCEEDED");
    assert.equal(accepted, LIMIT);
    assert.equal(refusedItems.length, CALLS - LIMIT);
    const first = refusedItems[0]!.result.value as { code: number; message: string };
    assert.equal(first.code, Code.FailedPrecondition);
    assert.match(first.message, /^requests\[\d\]: .*limit of 100/);
    const line = (await billing.getCurrentBill({ customerId: "batch-race" })).bill!.lines.find((candidate) => candidate.meterKey === "calls");
    assert.equal(line?.quantity, String(LIMIT));
  });

  it(`stream race: ${CALLS} items over concurrent StreamUsage streams against a limit of ${LIMIT}: exactly ${LIMIT} accepted`, async () => {
    const { usage, billing } = tally.clients();
    await usage.setUsageLimit({ requestId: "limit-stream", limit: { customerId: "stream-race", meterKey: "hosting", limit: String(LIMIT) } });
    const streams = 6;
    const perMessage = 5;
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: streams }, async (_, stream) => {
        async function* messages() {
          for (let sequence = 0; sequence < CALLS / streams / perMessage; sequence++) {
            yield {
              sequence: BigInt(sequence),
              requests: Array.from({ length: perMessage }, (_, item) => ({
                requestId: `stream-${stream}-${sequence}-${item}`,
                customerId: "stream-race",
                meterKey: "hosting",
                quantity: "1",
              })),
            };
          }
        }
        for await (const answer of tally.clients(stream % 2 === 0 ? "grpc" : "connect-binary-h2").usage.streamUsage(messages())) {
          for (const result of answer.results) outcomes.push(result.result.case === "response" ? "accepted" : result.result.value!.reason);
        }
      }),
    );
    assert.equal(outcomes.length, CALLS);
    assert.equal(outcomes.filter((outcome) => outcome === "accepted").length, LIMIT);
    assert.equal(outcomes.filter((outcome) => outcome === "USAGE_LIMIT_EXCEEDED").length, CALLS - LIMIT);
    const line = (await billing.getCurrentBill({ customerId: "stream-race" })).bill!.lines.find((candidate) => candidate.meterKey === "hosting");
    assert.equal(line?.quantity, String(LIMIT));
  });

  it("an atomic batch that would pass the limit fails whole and stores nothing; one that fits is recorded whole", async () => {
    const { usage } = tally.clients();
    await usage.setUsageLimit({ requestId: "limit-atomic", limit: { customerId: "atomic", meterKey: "hosting", limit: "10" } });
    const requests = ["4", "4", "3"].map((quantity, index) => ({ requestId: `atomic-${index}`, customerId: "atomic", meterKey: "hosting", quantity }));
    const refused = await assertRefused(usage.batchRecordUsage({ requests, atomic: true }), Code.FailedPrecondition, "USAGE_LIMIT_EXCEEDED");
    assert.match(refused.message, /^requests\[2\]: /);
    assert.equal((await usage.getUsageAllowance({ customerId: "atomic", meterKey: "hosting" })).used, "0");
    const fits = await usage.batchRecordUsage({ requests: requests.slice(0, 2), atomic: true });
    assert.deepEqual(fits.results.map((result) => result.result.case), ["response", "response"]);
    assert.equal((await usage.getUsageAllowance({ customerId: "atomic", meterKey: "hosting" })).remaining, "2");
  });
});
