import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BillSchema } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { periodOf, periodStart, previousPeriod } from "../../src/domain/billing-period.js";
import { clientsFor, type TallyClients, transportFor } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { createTestDatabase, queryDatabase } from "../support/postgres.js";
import { startTallyProcess, type TallyProcess } from "../support/tally-process.js";

// Two Tally replicas on one PostgreSQL database finalize the same bills at
// the same moment: through GetBill and ListBills sent to both at once, and
// through their background finalizers sweeping every 50 ms. Revision 1 of
// each bill must be stored once, and each customer's credits consumed once.
//
// The usage is written first by a process whose grace keeps last month open;
// the replicas run with --finalize-grace 0s, so last month is final for them.

const CUSTOMERS = 8;
const lastMonth = previousPeriod(periodOf(Date.now()));

function clientsOf(replica: TallyProcess, index: number): TallyClients {
  return clientsFor(transportFor(index % 2 === 0 ? "grpc" : "connect-json-h1", replica.url));
}

describe("Replicas finalizing and correcting at once: revision 1 stored once, credits consumed once, one revision per correction", () => {
  let url: string;
  const processes: TallyProcess[] = [];
  const customers: { id: string; usage: number }[] = [];

  before(async () => {
    url = await createTestDatabase("tally_finalize");
    const writer = await startTallyProcess(url, ["--rate-limit", "0", "--finalize-grace", "2000h", "--finalize-interval", "0s"]);
    processes.push(writer);
    const clients = clientsOf(writer, 0);
    for (let index = 0; index < CUSTOMERS; index++) {
      const { customerId } = await createCatalogFixture(clients, `race-${index}`);
      if (index === 0) {
        // Price last month too (the fixture's prices start this month): 0.0125 per GB-hour.
        await clients.catalog.createPrice({
          requestId: "last-month-price",
          price: { meterKey: "hosting", currencyCode: "USD", effectivePeriod: lastMonth, tiers: [{ unitAmount: "0.0125" }] },
        });
      }
      // 5.00 of credit; usage of 1.25 × (index + 1): the first three customers' bills are paid in full by it.
      await clients.billing.grantCredit({ requestId: `credit-${index}`, grant: { customerId, amount: "5.00", reason: "welcome" } });
      await clients.usage.recordUsage({
        requestId: `usage-${index}`,
        customerId,
        meterKey: "hosting",
        quantity: String(100 * (index + 1)),
        eventTime: timestampFromMs(periodStart(lastMonth) + 86_400_000),
      });
      customers.push({ id: customerId, usage: index + 1 });
    }
    writer.child.kill("SIGTERM");
    await writer.exited;
    // A grant applies from the period it was created in: these were granted last month (moved behind the servers' backs).
    await queryDatabase(url, `UPDATE credit_grants SET create_time = $1`, [periodStart(lastMonth)]);
    const replicas = await Promise.all(
      [0, 1].map(() => startTallyProcess(url, ["--rate-limit", "0", "--finalize-grace", "0s", "--finalize-interval", "50ms"])),
    );
    processes.push(...replicas);
  });

  after(async () => {
    for (const process of processes) {
      if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill("SIGKILL");
      await process.exited;
    }
  });

  it("every caller on both replicas sees the same revision 1, stored once, with credits consumed once", async () => {
    const replicas = processes.slice(1);
    const answers = await Promise.all(
      customers.flatMap((customer) =>
        replicas.flatMap((replica, index) =>
          [0, 1, 2].map(async (copy) => {
            const clients = clientsOf(replica, index + copy);
            const bill =
              copy === 2
                ? (await clients.billing.listBills({ customerId: customer.id })).bills.find((candidate) => candidate.period === lastMonth)
                : (await clients.billing.getBill({ customerId: customer.id, period: lastMonth })).bill;
            return { customer: customer.id, bytes: Buffer.from(toBinary(BillSchema, bill!)).toString("hex"), bill: bill! };
          }),
        ),
      ),
    );
    for (const customer of customers) {
      const mine = answers.filter((answer) => answer.customer === customer.id);
      assert.equal(new Set(mine.map((answer) => answer.bytes)).size, 1, `${customer.id}: one stored revision for every caller`);
      const { bill } = mine[0]!;
      const totalCents = 125 * customer.usage;
      const appliedCents = Math.min(totalCents, 500);
      const cents = (value: number) => `${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")}`;
      assert.deepEqual([bill.revision, bill.total, bill.creditsApplied, bill.amountDue], [1, cents(totalCents), cents(appliedCents), cents(totalCents - appliedCents)]);
    }

    // Behind the servers' backs: one revision per bill, and each grant consumed exactly by its one use.
    const revisions = await queryDatabase(url, `SELECT customer_id, period, count(*) AS revisions FROM bill_revisions GROUP BY customer_id, period`);
    assert.deepEqual(
      revisions.filter((row) => row.period === lastMonth).map((row) => Number(row.revisions)),
      Array(CUSTOMERS).fill(1),
    );
    const grants = await queryDatabase(
      url,
      `SELECT g.customer_id, g.amount, g.remaining_amount, coalesce(sum(u.amount::numeric), 0) AS used, count(u.grant_id) AS uses
       FROM credit_grants g LEFT JOIN credit_uses u ON u.tenant_id = g.tenant_id AND u.grant_id = g.id
       GROUP BY g.customer_id, g.amount, g.remaining_amount`,
    );
    assert.equal(grants.length, CUSTOMERS);
    for (const replica of replicas) assert.deepEqual(replica.logs.filter((entry) => Number(entry.level) >= 50), [], "no finalization failed");
    for (const grant of grants) {
      const customer = customers.find((candidate) => candidate.id === grant.customer_id)!;
      const used = Math.min(125 * customer.usage, 500) / 100;
      assert.equal(Number(grant.uses), 1, `${customer.id}: one use`);
      assert.equal(Number(grant.used), used);
      assert.equal(Number(grant.remaining_amount), 5 - used, `${customer.id}: remaining`);
    }
  });

  it("corrections sent to both replicas at once each add exactly one revision, numbered without gaps", async () => {
    const replicas = processes.slice(1);
    const customer = customers[CUSTOMERS - 1]!;
    const before = (await clientsOf(replicas[0]!, 0).billing.getBill({ customerId: customer.id, period: lastMonth })).bill!;
    const calls = 24;
    const answers = await Promise.all(
      Array.from({ length: calls }, (_, index) =>
        clientsOf(replicas[index % 2]!, index).usage.recordUsage({
          requestId: `fix-${index}`,
          customerId: customer.id,
          meterKey: "hosting",
          quantity: "8", // 0.10 each
          eventTime: timestampFromMs(periodStart(lastMonth) + 86_400_000),
          correction: true,
        }),
      ),
    );
    assert.equal(answers.filter((answer) => !answer.replayed).length, calls);
    const rows = await queryDatabase(
      url,
      `SELECT revision, total FROM bill_revisions WHERE customer_id = $1 AND period = $2 ORDER BY revision`,
      [customer.id, lastMonth],
    );
    assert.deepEqual(rows.map((row) => Number(row.revision)), Array.from({ length: calls + 1 }, (_, index) => index + 1));
    assert.equal(new Set(rows.map((row) => row.total)).size, calls + 1, "each revision is the bill after one more correction");
    assert.equal(rows[0]!.total, before.total);
    const latest = (await clientsOf(replicas[1]!, 1).billing.getBill({ customerId: customer.id, period: lastMonth })).bill!;
    assert.equal(latest.revision, calls + 1);
    assert.equal(latest.creditsApplied, before.creditsApplied, "no second consumption");
  });
});
