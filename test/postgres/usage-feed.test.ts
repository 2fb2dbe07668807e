import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Decimal } from "../../src/domain/decimal.js";
import type { Store } from "../../src/domain/store.js";
import { openPostgresStore } from "../../src/store/postgres/postgres-store.js";
import { createTestDatabase } from "../support/postgres.js";

// The usage feed's order on PostgreSQL, where several processes commit at
// once: a change's sequence number is taken when its transaction writes it,
// not when it commits, so a reader that simply resumed after the highest
// number it saw would skip, for good, a lower number committed just after
// its read. Three stores (three pools, as three replicas have) write
// concurrently while a fourth follows the feed; it must see every change once.

const WRITERS = 3;
const CUSTOMERS = 12;
const CALLS_PER_WRITER = 120;

describe("Usage feed on PostgreSQL: concurrent writers, one follower", () => {
  it("the follower sees every record and void exactly once, whatever order the transactions commit in", async () => {
    const url = await createTestDatabase("tally_feed");
    const writers: Store[] = await Promise.all(Array.from({ length: WRITERS }, () => openPostgresStore({ url, maxConnections: 4 })));
    const follower = await openPostgresStore({ url, maxConnections: 1 });
    try {
      const setup = writers[0]!;
      for (let index = 0; index < CUSTOMERS; index++) {
        await setup.createCustomer("default", `c${index}`, { id: `cus_${index}`, externalId: "", displayName: `C${index}`, currencyCode: "USD", createTime: 1 });
      }
      await setup.createMeter("default", "m", { key: "hosting", displayName: "Hosting", unit: "GB", aggregation: "sum", precision: 3, uniqueAttribute: "", dimensions: [], createTime: 1 });

      const expected = new Set<string>();
      let writing = true;
      const write = async (store: Store, writer: number) => {
        const inFlight: Promise<unknown>[] = [];
        for (let call = 0; call < CALLS_PER_WRITER; call++) {
          const requestId = `w${writer}-${call}`;
          const customerId = `cus_${(writer * 7 + call) % CUSTOMERS}`;
          const written = store
            .recordUsage(
              "default",
              [{ record: { id: `rec_${requestId}`, requestId, customerId, meterKey: "hosting", quantity: Decimal.parse("1")!, eventTime: 1, requestedEventTime: null, createTime: 1, period: "2026-11", attributes: {} } }],
              false,
            )
            .then(async ([outcome]) => {
              assert.equal(outcome?.kind, "recorded");
              expected.add(`recorded rec_${requestId}`);
              if (call % 5 === 0) {
                await store.voidUsage("default", `rec_${requestId}`, "test", 2);
                expected.add(`voided rec_${requestId}`);
              }
            });
          inFlight.push(written);
          if (inFlight.length >= 8) await inFlight.shift();
        }
        await Promise.all(inFlight);
      };

      const seen: string[] = [];
      const follow = async () => {
        let cursor: string | null = null;
        // Follows while the writers write, then reads until a read after they finished comes back short.
        for (let done = false; !done; ) {
          const last = !writing;
          const page = await follower.readUsageChanges("default", "", cursor, 25);
          for (const change of page.changes) seen.push(`${change.kind} ${change.record.id}`);
          cursor = page.position ?? cursor;
          done = last && page.changes.length < 25;
        }
      };
      const following = follow();
      await Promise.all(writers.map((store, index) => write(store, index)));
      writing = false;
      await following;

      const counts = new Map<string, number>();
      for (const change of seen) counts.set(change, (counts.get(change) ?? 0) + 1);
      const repeated = [...counts].filter(([, count]) => count > 1).map(([change]) => change);
      const missed = [...expected].filter((change) => !counts.has(change));
      assert.deepEqual({ repeated, missed: missed.length, firstMissed: missed.slice(0, 5) }, { repeated: [], missed: 0, firstMissed: [] });
      assert.equal(seen.length, expected.size);
      // A record's void comes after its record.
      for (const change of seen.filter((entry) => entry.startsWith("voided"))) {
        assert.ok(seen.indexOf(change.replace("voided", "recorded")) < seen.indexOf(change), change);
      }
    } finally {
      await Promise.all([...writers, follower].map((store) => store.close()));
    }
  });
});
