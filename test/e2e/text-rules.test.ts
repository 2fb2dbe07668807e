import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { PROTOCOLS, type TallyClients } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

describe("the NUL character (U+0000) in text fields", () => {
  let tally: TestTally;
  let clients: TallyClients;
  before(async () => {
    tally = await startTestTally();
    clients = tally.clients();
    await createCatalogFixture(clients);
  });
  after(() => tally.stop());

  it("is refused with INVALID_ARGUMENT naming the field, on every protocol, and nothing is stored", async () => {
    for (const protocol of PROTOCOLS) {
      const on = tally.clients(protocol);
      const event = { requestId: `nul-${protocol}`, customerId: "acme", meterKey: "hosting", quantity: "1" };
      await assertRefused(on.usage.recordUsage({ ...event, requestId: `nul\u0000-${protocol}` }), Code.InvalidArgument, "INVALID_FIELD", ["request_id"]);
      await assertRefused(on.usage.recordUsage({ ...event, attributes: { region: "eu\u0000west" } }), Code.InvalidArgument, "INVALID_FIELD", ["attributes.region"]);
      await assertRefused(
        on.usage.batchRecordUsage({ requests: [event, { ...event, requestId: `nul-2-${protocol}`, customerId: "ac\u0000me" }] }),
        Code.InvalidArgument,
        "INVALID_FIELD",
        ["requests[1].customer_id"],
      );
      await assertRefused(
        on.customers.createCustomer({ requestId: `c-${protocol}`, customer: { displayName: "Acme\u0000", currencyCode: "USD" } }),
        Code.InvalidArgument,
        "INVALID_FIELD",
        ["customer.display_name"],
      );
    }
    async function* messages() {
      yield { sequence: 1n, requests: [{ requestId: "s-1", customerId: "acme", meterKey: "hosting", quantity: "1" }] };
      yield { sequence: 2n, requests: [{ requestId: "s-2\u0000", customerId: "acme", meterKey: "hosting", quantity: "1" }] };
    }
    const acknowledged: bigint[] = [];
    await assert.rejects(
      (async () => {
        for await (const answer of clients.usage.streamUsage(messages())) acknowledged.push(answer.sequence);
      })(),
      (error) => ConnectError.from(error).code === Code.InvalidArgument,
    );
    assert.deepEqual(acknowledged, [1n]);
    const stored = (await clients.usage.listUsageRecords({ customerId: "acme" })).records.map((record) => record.requestId);
    assert.deepEqual(stored, ["s-1"]);
    assert.equal((await clients.customers.listCustomers({})).customers.length, 1);
  });
});
