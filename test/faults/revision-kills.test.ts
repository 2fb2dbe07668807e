import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import Database from "better-sqlite3";
import { periodOf, periodStart, previousPeriod } from "../../src/domain/billing-period.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { seededRandom } from "../support/seeded-random.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { faultSeed, keyedClients, killIfRunning, startFaultServer } from "./fault-harness.js";

// kill -9 while bills are being finalized (reads and the background finalizer
// racing) and corrected: the finalization and its credits, and each correction
// and its (pending) revision, commit together or not at all, and a revision
// left pending by a kill is written by the next read. After every kill the
// file is audited as the crash left it.
//
// Replay a failure with TALLY_FAULT_SEED=<seed printed> npm run test:faults.

const KILLS = Number(process.env.TALLY_FAULT_KILLS ?? 4);
const CUSTOMERS = 12;
const lastMonth = previousPeriod(periodOf(Date.now()));
const eventTime = timestampFromMs(periodStart(lastMonth) + 86_400_000);

/** What the file says, read behind the server's back: every way revisions and credits could disagree. */
function audit(db: string, acknowledged: Set<string>, pendingAllowed = true): string[] {
  const file = new Database(db, { readonly: true });
  try {
    const problems: string[] = [];
    const revisions = file.prepare(`SELECT customer_id, period, revision, total, credits_applied, bill FROM bill_revisions ORDER BY customer_id, period, revision`).all() as Record<string, string | number>[];
    const byPeriod = new Map<string, Record<string, string | number>[]>();
    for (const row of revisions) byPeriod.set(`${row.customer_id} ${row.period}`, [...(byPeriod.get(`${row.customer_id} ${row.period}`) ?? []), row]);
    for (const [key, rows] of byPeriod) {
      const numbers = rows.map((row) => Number(row.revision));
      if (numbers.some((revision, index) => revision !== index + 1)) problems.push(`${key}: revisions ${numbers.join(",")}`);
      const [customerId, period] = key.split(" ");
      // Each correction recorded and its revision committed together: revisions = 1 + corrections.
      const corrections = file.prepare(`SELECT count(*) AS n FROM usage_records WHERE customer_id = ? AND period = ? AND request_id LIKE 'fix-%'`).get(customerId, period) as { n: number };
      if (rows.length !== 1 + corrections.n) problems.push(`${key}: ${rows.length} revisions for ${corrections.n} corrections`);
      // At most one revision is pending (a correction's bill not written yet, e.g. cut short by the kill): the last one.
      const pending = rows.filter((row) => row.bill === null).map((row) => Number(row.revision));
      if (pending.length > (pendingAllowed ? 1 : 0) || (pending.length === 1 && pending[0] !== rows.length)) problems.push(`${key}: pending revisions ${pending.join(",")}`);
      if (pending.length > 0) continue;
      // The latest revision bills exactly the ledger's quantity.
      const live = file
        .prepare(`SELECT r.quantity FROM usage_records r LEFT JOIN usage_voids v ON v.tenant_id = r.tenant_id AND v.record_id = r.id WHERE r.customer_id = ? AND r.period = ? AND v.record_id IS NULL`)
        .all(customerId, period) as { quantity: string }[];
      const ledger = live.reduce((sum, row) => sum + Number(row.quantity), 0);
      const latest = JSON.parse(String(rows[rows.length - 1]!.bill)) as { lines: { quantity: { $decimal: string } }[] };
      const billed = latest.lines.reduce((sum, line) => sum + Number(line.quantity.$decimal), 0);
      if (billed !== ledger) problems.push(`${key}: latest revision bills ${billed}, the ledger holds ${ledger}`);
      // Finalization consumed what revision 1 applied, in the same transaction.
      const used = file.prepare(`SELECT coalesce(sum(CAST(amount AS REAL)), 0) AS used FROM credit_uses WHERE customer_id = ? AND period = ?`).get(customerId, period) as { used: number };
      if (Math.abs(used.used - Number(rows[0]!.credits_applied)) > 1e-9) problems.push(`${key}: revision 1 applied ${rows[0]!.credits_applied}, grants gave ${used.used}`);
    }
    for (const grant of file.prepare(`SELECT id, amount, remaining_amount FROM credit_grants`).all() as Record<string, string>[]) {
      const used = file.prepare(`SELECT coalesce(sum(CAST(amount AS REAL)), 0) AS used, count(*) AS uses FROM credit_uses WHERE grant_id = ?`).get(grant.id) as { used: number; uses: number };
      if (Math.abs(Number(grant.amount) - used.used - Number(grant.remaining_amount)) > 1e-9) problems.push(`grant ${grant.id}: ${grant.amount} - ${used.used} used != ${grant.remaining_amount} left`);
      if (used.uses > 1) problems.push(`grant ${grant.id}: used ${used.uses} times for one period`);
    }
    for (const requestId of acknowledged) {
      if (file.prepare(`SELECT 1 FROM usage_records WHERE request_id = ?`).get(requestId) === undefined) problems.push(`acknowledged correction ${requestId} is missing`);
    }
    return problems;
  } finally {
    file.close();
  }
}

describe("kill -9 during finalization and corrections", () => {
  const scratch = scratchDirectory("tally-revision-kills-");
  let tally: TallyProcess | undefined;
  after(async () => {
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("never leaves a revision without its correction, a correction without its revision, or credits consumed apart from revision 1", async (t) => {
    const seed = faultSeed();
    t.diagnostic(`seed ${seed}`);
    const random = seededRandom(seed);
    const db = join(scratch.path, "tally.db");

    // Last month, still open under a long grace: usage and credits for every customer.
    tally = await startFaultServer(db, { args: ["--finalize-grace", "2000h", "--finalize-interval", "0s"] });
    const setup = keyedClients("grpc", tally.url);
    const customers: string[] = [];
    for (let index = 0; index < CUSTOMERS; index++) {
      const { customerId } = await createCatalogFixture(setup, `kill-${index}`);
      if (index === 0) {
        await setup.catalog.createPrice({
          requestId: "last-month-price",
          price: { meterKey: "hosting", currencyCode: "USD", effectivePeriod: lastMonth, tiers: [{ unitAmount: "0.0125" }] },
        });
      }
      await setup.billing.grantCredit({ requestId: `credit-${index}`, grant: { customerId, amount: "3.00", reason: "welcome" } });
      await setup.usage.recordUsage({ requestId: `usage-${index}`, customerId, meterKey: "hosting", quantity: String(100 * (index + 1)), eventTime });
      customers.push(customerId);
    }
    tally.child.kill("SIGTERM");
    await tally.exited;
    // Granted last month (moved behind the server's back), so finalization uses them.
    const file = new Database(db);
    file.prepare(`UPDATE credit_grants SET create_time = ?`).run(periodStart(lastMonth));
    file.close();

    const acknowledged = new Set<string>();
    let counter = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      tally = await startFaultServer(db, { args: ["--finalize-grace", "0s", "--finalize-interval", "20ms"] });
      const clients = [keyedClients("grpc", tally.url), keyedClients("connect-json-h1", tally.url)];
      let stop = false;
      const loops = Array.from({ length: 6 }, async (_, loop) => {
        while (!stop) {
          const customerId = random.pick(customers);
          const client = clients[loop % 2]!;
          try {
            if (loop % 3 === 0) {
              await client.billing.getBill({ customerId, period: lastMonth });
            } else {
              const requestId = `fix-${kill}-${counter++}`;
              await client.usage.recordUsage({ requestId, customerId, meterKey: "hosting", quantity: String(random.int(1, 40)), eventTime, correction: true });
              acknowledged.add(requestId);
            }
          } catch {
            // The kill: in doubt, the audit decides.
          }
        }
      });
      await delay(random.int(150, 600));
      tally.child.kill("SIGKILL");
      await tally.exited;
      stop = true;
      await Promise.all(loops);
      assert.deepEqual(audit(db, acknowledged), [], `after kill ${kill + 1} (seed ${seed})`);
    }
    assert.ok(acknowledged.size > 0, "some corrections were acknowledged between the kills");

    // A last start: every bill answers its latest revision, equal to what the file holds.
    tally = await startFaultServer(db, { args: ["--finalize-grace", "0s"] });
    const { billing } = keyedClients("grpc", tally.url);
    for (const customerId of customers) {
      const latest = (await billing.getBill({ customerId, period: lastMonth })).bill!;
      assert.ok(latest.revision >= 1);
      assert.equal(Number(latest.creditsApplied) <= 3, true);
    }
    // Every read wrote the revision a kill may have left pending.
    assert.deepEqual(audit(db, acknowledged, false), []);
    t.diagnostic(`${acknowledged.size} corrections acknowledged across ${KILLS} kills`);
  });
});
