import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clientsFor, type TallyClients, transportFor } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { forEachLimited } from "../support/crash-audit.js";
import { refusal } from "../support/errors.js";
import { auditPostgres, createTestDatabase } from "../support/postgres.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// DESIGN.md "Usage limits": the check and the write are one transaction, so
// under any concurrency and on every replica the accepted quantity never
// passes the limit. Three Tally processes on one PostgreSQL database take 300
// events at once against a limit of 100 — unary calls, batch items and stream
// items together, spread over the replicas — and exactly 100 are accepted.

const REPLICAS = 3;
const CALLS = 300;
const LIMIT = 100;

describe("Usage limits across three Tally replicas on one PostgreSQL database", () => {
  let url: string;
  let replicas: TallyProcess[] = [];
  let clients: TallyClients[] = [];

  before(async () => {
    url = await createTestDatabase("tally_limits");
    replicas = await Promise.all(Array.from({ length: REPLICAS }, () => startTallyProcess(url, ["--rate-limit", "0"])));
    clients = replicas.map((replica, index) => clientsFor(transportFor(index === 1 ? "connect-json-h1" : "grpc", replica.url)));
  });

  after(async () => {
    for (const replica of replicas) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill("SIGKILL");
      await replica.exited;
    }
  });

  for (const [meterKey, aggregation] of [
    ["hosting", "SUM"],
    ["calls", "COUNT"],
  ] as const) {
    it(`${CALLS} events at once over unary, batch and stream on three replicas against a ${aggregation} limit of ${LIMIT}: exactly ${LIMIT} accepted`, async () => {
      const customer = `race-${meterKey}`;
      const { customerId } = await createCatalogFixture(clients[0]!, customer);
      await clients[2]!.usage.setUsageLimit({ requestId: `limit-${meterKey}`, limit: { customerId: customer, meterKey, limit: String(LIMIT) } });
      const event = (requestId: string) => ({ requestId, customerId, meterKey, quantity: "1" });
      const outcomes: string[] = [];
      const unary = forEachLimited(
        Array.from({ length: 100 }, (_, index) => index),
        24,
        async (index) => {
          try {
            await clients[index % REPLICAS]!.usage.recordUsage(event(`unary-${meterKey}-${index}`));
            outcomes.push("accepted");
          } catch (error) {
            outcomes.push((await refusal(Promise.reject(error))).reason);
          }
        },
      );
      const batches = forEachLimited(
        Array.from({ length: 10 }, (_, batch) => batch),
        10,
        async (batch) => {
          const requests = Array.from({ length: 10 }, (_, item) => event(`batch-${meterKey}-${batch}-${item}`));
          const { results } = await clients[batch % REPLICAS]!.usage.batchRecordUsage({ requests });
          for (const result of results) outcomes.push(result.result.case === "response" ? "accepted" : result.result.value!.reason);
        },
      );
      const streams = Promise.all(
        [0, 1].map(async (stream) => {
          async function* messages() {
            for (let sequence = 0; sequence < 10; sequence++) {
              yield {
                sequence: BigInt(sequence),
                requests: Array.from({ length: 5 }, (_, item) => ({
                    ...event(`stream-${meterKey}-${stream}-${sequence}-${item}`),
                })),
              };
            }
          }
          for await (const answer of clients[stream === 0 ? 0 : 2]!.usage.streamUsage(messages())) {
            for (const result of answer.results) outcomes.push(result.result.case === "response" ? "accepted" : result.result.value!.reason);
          }
        }),
      );
      await Promise.all([unary, batches, streams]);

      assert.equal(outcomes.length, CALLS);
      assert.equal(outcomes.filter((outcome) => outcome === "accepted").length, LIMIT);
      assert.equal(outcomes.filter((outcome) => outcome === "USAGE_LIMIT_EXCEEDED").length, CALLS - LIMIT, [...new Set(outcomes)].join());
      const audit = await auditPostgres(url);
      assert.deepEqual(audit.duplicateRequestIds, []);
      assert.deepEqual(audit.totalsMismatches, []);
      assert.equal([...audit.usage.keys()].filter((requestId) => requestId.includes(`-${meterKey}-`)).length, LIMIT, "the ledger holds exactly the accepted events");
      for (const replicaClients of clients) {
        const line = (await replicaClients.billing.getCurrentBill({ customerId })).bill!.lines.find((candidate) => candidate.meterKey === meterKey);
        assert.equal(line?.quantity, String(LIMIT));
        const allowance = await replicaClients.usage.getUsageAllowance({ customerId, meterKey });
        assert.deepEqual([allowance.limit, allowance.used, allowance.remaining], [String(LIMIT), String(LIMIT), "0"]);
      }
    });
  }
});
