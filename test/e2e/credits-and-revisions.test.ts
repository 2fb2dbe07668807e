import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { type Bill, BillSchema, BillStatus } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { Aggregation } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { UsageChangeKind } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { PROTOCOLS } from "../support/clients.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

// Credits, finalization and corrections over the real server, every protocol.
// The server's clock is a test clock and October's and November's grace is a
// day, so a period finalizes when the test moves the clock past its end + 24 h.
// "hosting" costs 0.0125 USD per GB-hour (test/support/catalog-fixture.ts).

const GRACE = 24 * 3_600_000;
const NOV_15 = Date.UTC(2026, 10, 15, 12);
const NOV_FINAL = Date.UTC(2026, 11, 2); // November's end + the grace
const NOV_20 = timestampFromMs(Date.UTC(2026, 10, 20));

/** A bill's answer as comparable bytes: a stored revision must never change. */
const bytesOf = (bill: Bill | undefined) => Buffer.from(toBinary(BillSchema, bill!)).toString("hex");
const grantsOf = async (tally: TestTally, customerId: string) =>
  (await tally.clients().billing.listCreditGrants({ customerId })).grants.map((grant) => `${grant.reason}=${grant.remainingAmount}`);

describe("Credits: granted, applied to drafts, consumed exactly once by finalization", () => {
  let tally: TestTally;
  let customerId: string;
  before(async () => {
    tally = await startTestTally({ finalizeGrace: GRACE, finalizeInterval: 0 });
    tally.clock.set(NOV_15);
    ({ customerId } = await createCatalogFixture(tally.clients()));
  });
  after(() => tally.stop());

  it("GrantCredit is idempotent on request_id and checks amount, currency and expiry", async () => {
    const { billing } = tally.clients();
    const soon = { customerId: "acme", amount: "5", reason: "soon", expireTime: timestampFromMs(Date.UTC(2026, 11, 15)) };
    const first = await billing.grantCredit({ requestId: "grant-soon", grant: soon });
    assert.equal(first.replayed, false);
    assert.equal(first.grant?.customerId, customerId);
    assert.equal(first.grant?.currencyCode, "USD");
    assert.equal(first.grant?.amount, "5.00");
    assert.equal(first.grant?.remainingAmount, "5.00");
    assert.ok(first.grant?.id.startsWith("credit_"));
    const again = await billing.grantCredit({ requestId: "grant-soon", grant: { ...soon, amount: "5.00", currencyCode: "USD" } });
    assert.equal(again.replayed, true);
    assert.equal(again.grant?.id, first.grant?.id);
    await assertRefused(billing.grantCredit({ requestId: "grant-soon", grant: { ...soon, amount: "6" } }), Code.AlreadyExists, "REQUEST_ID_REUSED", ["grant.amount"]);
    await billing.grantCredit({ requestId: "grant-never", grant: { customerId, amount: "20.00", reason: "never" } });

    await assertRefused(billing.grantCredit({ requestId: "g-eur", grant: { customerId, amount: "1", currencyCode: "EUR" } }), Code.InvalidArgument, "CREDIT_CURRENCY_MISMATCH", ["grant.currency_code"]);
    await assertRefused(billing.grantCredit({ requestId: "g-cents", grant: { customerId, amount: "1.001" } }), Code.InvalidArgument, "INVALID_FIELD", ["grant.amount"]);
    await assertRefused(billing.grantCredit({ requestId: "g-zero", grant: { customerId, amount: "0.00" } }), Code.InvalidArgument, "INVALID_FIELD", ["grant.amount"]);
    await assertRefused(billing.grantCredit({ requestId: "g-neg", grant: { customerId, amount: "-1" } }), Code.InvalidArgument, "INVALID_FIELD", ["grant.amount"]);
    await assertRefused(
      billing.grantCredit({ requestId: "g-past", grant: { customerId, amount: "1", expireTime: timestampFromMs(NOV_15 - 1) } }),
      Code.InvalidArgument,
      "INVALID_FIELD",
      ["grant.expire_time"],
    );
    await assertRefused(billing.grantCredit({ requestId: "g-nobody", grant: { customerId: "nobody", amount: "1" } }), Code.NotFound, "CUSTOMER_NOT_FOUND");
    // The refused ids stay free.
    assert.equal((await billing.grantCredit({ requestId: "g-cents", grant: { customerId, amount: "0.01", reason: "cent" } })).replayed, false);
    assert.deepEqual(await grantsOf(tally, customerId), ["soon=5.00", "never=20.00", "cent=0.01"]);
    const paged = await billing.listCreditGrants({ customerId, pageSize: 2 });
    assert.deepEqual(paged.grants.map((grant) => grant.reason), ["soon", "never"]);
    assert.deepEqual((await billing.listCreditGrants({ customerId, pageSize: 2, pageToken: paged.nextPageToken })).grants.map((grant) => grant.reason), ["cent"]);
  });

  it("a draft shows the credits that would apply; finalization consumes them once however many callers finalize at once", async () => {
    const { usage, billing } = tally.clients();
    await usage.recordUsage({ requestId: "nov-1", customerId, meterKey: "hosting", quantity: "1000" }); // 12.50
    const draft = (await billing.getCurrentBill({ customerId })).bill!;
    assert.deepEqual([draft.status, draft.total, draft.creditsApplied, draft.amountDue, draft.revision], [BillStatus.DRAFT, "12.50", "12.50", "0.00", 0]);
    assert.deepEqual(await grantsOf(tally, customerId), ["soon=5.00", "never=20.00", "cent=0.01"], "a draft consumes nothing");
    await assertRefused(billing.getBill({ customerId, period: "2026-11", revision: 1 }), Code.NotFound, "BILL_REVISION_NOT_FOUND", ["revision"]);

    tally.clock.set(NOV_FINAL);
    // Every protocol, several times, at once: GetBill, ListBills and the finalize paths race for revision 1.
    const answers = await Promise.all(
      PROTOCOLS.flatMap((protocol) => [
        tally.clients(protocol).billing.getBill({ customerId, period: "2026-11" }).then((answer) => answer.bill),
        tally.clients(protocol).billing.getBill({ customerId, period: "2026-11", revision: 1 }).then((answer) => answer.bill),
        tally.clients(protocol).billing.listBills({ customerId }).then((answer) => answer.bills.find((bill) => bill.period === "2026-11")),
      ]),
    );
    assert.equal(new Set(answers.map(bytesOf)).size, 1, "every caller sees the same stored revision");
    const first = answers[0]!;
    // Grants expiring first are used first: "soon" (5.00), then "never" (7.50 of 20.00; it was created before "cent").
    assert.deepEqual([first.status, first.revision, first.total, first.creditsApplied, first.amountDue], [BillStatus.FINALIZED, 1, "12.50", "12.50", "0.00"]);
    assert.deepEqual(await grantsOf(tally, customerId), ["soon=0.00", "never=12.50", "cent=0.01"]);
    // Read again and again: consumed once.
    for (let read = 0; read < 3; read++) await billing.getBill({ customerId, period: "2026-11" });
    assert.deepEqual(await grantsOf(tally, customerId), ["soon=0.00", "never=12.50", "cent=0.01"]);
    await assertRefused(billing.getBill({ customerId, period: "2026-11", revision: 2 }), Code.NotFound, "BILL_REVISION_NOT_FOUND", ["revision"]);
  });

  it("the next period's draft uses what is left", async () => {
    const { usage, billing } = tally.clients();
    await usage.recordUsage({ requestId: "dec-1", customerId, meterKey: "hosting", quantity: "2000" }); // 25.00
    const december = (await billing.getCurrentBill({ customerId })).bill!;
    assert.deepEqual([december.period, december.total, december.creditsApplied, december.amountDue], ["2026-12", "25.00", "12.51", "12.49"]);
    await assertRefused(billing.getBill({ customerId, period: "2026-12", revision: 1 }), Code.NotFound, "BILL_REVISION_NOT_FOUND");
    // A finalized period without usage is revision 1 with nothing to pay and no credits used (it need not be stored).
    const september = (await billing.getBill({ customerId, period: "2026-09" })).bill!;
    assert.deepEqual([september.status, september.revision, september.total, september.creditsApplied, september.amountDue], [BillStatus.FINALIZED, 1, "0.00", "0.00", "0.00"]);
    await assertRefused(billing.getBill({ customerId, period: "2026-09", revision: 2 }), Code.NotFound, "BILL_REVISION_NOT_FOUND");
    await assertRefused(billing.getBill({ customerId, period: "2026-09", revision: -1 }), Code.InvalidArgument, "INVALID_FIELD", ["revision"]);
    assert.deepEqual(await grantsOf(tally, customerId), ["soon=0.00", "never=12.50", "cent=0.01"]);
  });
});

describe("Corrections after finalization: bill revisions", () => {
  let tally: TestTally;
  let customerId: string;
  let revisionOne: Bill;
  before(async () => {
    tally = await startTestTally({ finalizeGrace: GRACE, finalizeInterval: 0 });
    tally.clock.set(NOV_15);
    ({ customerId } = await createCatalogFixture(tally.clients()));
    const { usage, billing } = tally.clients();
    await billing.grantCredit({ requestId: "credit", grant: { customerId, amount: "10.00", reason: "welcome" } });
    await usage.recordUsage({ requestId: "nov-big", customerId, meterKey: "hosting", quantity: "1000" }); // 12.50
    await usage.recordUsage({ requestId: "nov-small", customerId, meterKey: "hosting", quantity: "80" }); // +1.00
    tally.clock.set(NOV_FINAL);
    revisionOne = (await billing.getBill({ customerId, period: "2026-11" })).bill!;
  });
  after(() => tally.stop());

  it("without correction a finalized period still refuses with BILL_FINALIZED; correction is for admin keys only", async () => {
    const { usage } = tally.clients();
    const late = { requestId: "late-1", customerId, meterKey: "hosting", quantity: "400", eventTime: NOV_20 };
    await assertRefused(usage.recordUsage(late), Code.FailedPrecondition, "BILL_FINALIZED", ["event_time"]);
    await assertRefused(usage.voidUsage({ requestId: "nov-small", reason: "wrong" }), Code.FailedPrecondition, "BILL_FINALIZED");
    const ingest = tally.clients("grpc", await tally.createKey("ingest"));
    const denied = await assertRefused(ingest.usage.recordUsage({ ...late, correction: true }), Code.PermissionDenied, "ROLE_NOT_PERMITTED", ["correction"]);
    assert.match(denied.message, /correction: true needs a key with the admin role; this key has the ingest role/);
    // A batch or stream item cannot be a correction: RecordUsage alone, one revision per call.
    const batch = await usage.batchRecordUsage({ requests: [{ ...late, correction: true }] });
    assert.equal(batch.results[0]?.result.case, "error");
    assert.equal(batch.results[0]?.result.case === "error" && batch.results[0].result.value.reason, "INVALID_FIELD");
    assert.deepEqual(batch.results[0]?.result.case === "error" && batch.results[0].result.value.fieldViolations.map((violation) => violation.field), ["requests[0].correction"]);
    // Nothing was recorded, and the bill is still revision 1.
    assert.equal((await tally.clients().billing.getBill({ customerId, period: "2026-11" })).bill?.revision, 1);
    assert.deepEqual([revisionOne.revision, revisionOne.total, revisionOne.creditsApplied, revisionOne.amountDue], [1, "13.50", "10.00", "3.50"]);
  });

  it("a correction records into the finalized period and adds a revision; its replay adds none; earlier revisions never change", async () => {
    const { usage, billing } = tally.clients();
    const correction = { requestId: "late-1", customerId, meterKey: "hosting", quantity: "400", eventTime: NOV_20, correction: true }; // +5.00
    const recorded = await usage.recordUsage(correction);
    assert.equal(recorded.replayed, false);
    assert.equal(recorded.record?.period, "2026-11");
    const two = (await billing.getBill({ customerId, period: "2026-11" })).bill!;
    // Credits stay as finalization consumed them (10.00), capped at the new total: no second consumption.
    assert.deepEqual([two.status, two.revision, two.total, two.creditsApplied, two.amountDue], [BillStatus.FINALIZED, 2, "18.50", "10.00", "8.50"]);
    assert.deepEqual(two.lines.map((line) => `${line.meterKey}:${line.quantity}`), ["hosting:1480"]);
    assert.deepEqual(await grantsOf(tally, customerId), ["welcome=0.00"]);

    const replay = await usage.recordUsage(correction);
    assert.equal(replay.replayed, true);
    assert.equal(replay.record?.id, recorded.record?.id);
    // An identical retry without the flag replays too.
    assert.equal((await usage.recordUsage({ ...correction, correction: false })).replayed, true);
    await assertRefused(usage.recordUsage({ ...correction, quantity: "401" }), Code.AlreadyExists, "REQUEST_ID_REUSED", ["quantity"]);
    assert.equal((await billing.getBill({ customerId, period: "2026-11" })).bill?.revision, 2);

    // A void correction: revision 3; the total falls below the credits, which are capped at it.
    const voided = await usage.voidUsage({ requestId: "nov-big", reason: "metered twice", correction: true });
    assert.equal(voided.replayed, false);
    assert.equal(voided.record?.voided, true);
    const three = (await billing.getBill({ customerId, period: "2026-11" })).bill!;
    assert.deepEqual([three.revision, three.total, three.creditsApplied, three.amountDue], [3, "6.00", "6.00", "0.00"]);
    assert.equal((await usage.voidUsage({ requestId: "nov-big", reason: "metered twice", correction: true })).replayed, true);
    await assertRefused(usage.voidUsage({ requestId: "nov-big", reason: "other", correction: true }), Code.AlreadyExists, "REQUEST_ID_REUSED", ["reason"]);
    assert.equal((await billing.getBill({ customerId, period: "2026-11" })).bill?.revision, 3);

    // Every revision is still there, unchanged, over every protocol.
    for (const protocol of PROTOCOLS) {
      const { billing: client } = tally.clients(protocol);
      assert.equal(bytesOf((await client.getBill({ customerId, period: "2026-11", revision: 1 })).bill), bytesOf(revisionOne), protocol);
      assert.equal(bytesOf((await client.getBill({ customerId, period: "2026-11", revision: 2 })).bill), bytesOf(two), protocol);
      assert.equal(bytesOf((await client.getBill({ customerId, period: "2026-11", revision: 0 })).bill), bytesOf(three), protocol);
    }
    await assertRefused(billing.getBill({ customerId, period: "2026-11", revision: 4 }), Code.NotFound, "BILL_REVISION_NOT_FOUND");
    assert.deepEqual(await grantsOf(tally, customerId), ["welcome=0.00"], "corrections never consume credits again");
  });

  it("concurrent corrections each add exactly one revision, numbered without gaps, and the last one holds them all", async () => {
    const before = (await tally.clients().billing.getBill({ customerId, period: "2026-11" })).bill!;
    const calls = 16;
    const answers = await Promise.all(
      Array.from({ length: calls }, (_, index) =>
        tally.clients(PROTOCOLS[index % PROTOCOLS.length]).usage.recordUsage({
          requestId: `race-${index}`,
          customerId,
          meterKey: "hosting",
          quantity: "8", // 0.10 each
          eventTime: NOV_20,
          correction: true,
        }),
      ),
    );
    assert.equal(answers.filter((answer) => !answer.replayed).length, calls);
    const { billing } = tally.clients();
    const latest = (await billing.getBill({ customerId, period: "2026-11" })).bill!;
    assert.equal(latest.revision, before.revision + calls);
    assert.equal(latest.total, "7.60"); // 6.00 + 16 × 0.10
    const totals = new Set<string>();
    for (let revision = before.revision + 1; revision <= latest.revision; revision++) {
      totals.add((await billing.getBill({ customerId, period: "2026-11", revision })).bill!.total);
    }
    // Each revision is the bill after exactly one more correction: 6.10, 6.20, ... 7.60.
    assert.equal(totals.size, calls);
    assert.equal(bytesOf((await billing.getBill({ customerId, period: "2026-11", revision: 1 })).bill), bytesOf(revisionOne));
  });

  it("a correction into a finalized period without usage stores its revision 1 (empty) first, then revision 2", async () => {
    const { usage, billing } = tally.clients();
    await usage.recordUsage({ requestId: "oct-fix", customerId, meterKey: "hosting", quantity: "80", eventTime: timestampFromMs(Date.UTC(2026, 9, 20)), correction: true });
    const october = await Promise.all([1, 2].map(async (revision) => (await billing.getBill({ customerId, period: "2026-10", revision })).bill!));
    // (The fixture's prices start in November: October's line is unpriced.)
    assert.deepEqual(
      october.map((bill) => `${bill.revision}:${bill.lines.map((line) => `${line.meterKey}=${line.quantity}`).join(",")}:${bill.total}`),
      ["1::0.00", "2:hosting=80:0.00"],
    );
  });

  it("a correction into an open period is an ordinary write, with no revision", async () => {
    const { usage, billing } = tally.clients();
    const open = await usage.recordUsage({ requestId: "dec-fix", customerId, meterKey: "hosting", quantity: "1", correction: true });
    assert.equal(open.record?.period, "2026-12");
    assert.equal((await billing.getCurrentBill({ customerId })).bill?.revision, 0);
  });
});

describe("Corrections of dimensioned, UNIQUE_COUNT and LATEST meters", () => {
  it("each revision bills the meters as they aggregate after its correction: a new combination's line, a distinct value, the latest event and its fallback", async () => {
    const tally = await startTestTally({ finalizeGrace: GRACE, finalizeInterval: 0 });
    try {
      tally.clock.set(NOV_15);
      const { catalog, customers, usage, billing } = tally.clients();
      await catalog.createMeter({ requestId: "m-vm", meter: { key: "vm-hours", displayName: "VM hours", unit: "hour", aggregation: Aggregation.SUM, precision: 3, dimensions: ["region"] } });
      await catalog.createMeter({ requestId: "m-users", meter: { key: "users", displayName: "Users", unit: "user", aggregation: Aggregation.UNIQUE_COUNT, wholeUnits: true, uniqueAttribute: "user" } });
      await catalog.createMeter({ requestId: "m-gauge", meter: { key: "storage", displayName: "Storage", unit: "GB", aggregation: Aggregation.LATEST, precision: 3 } });
      for (const meterKey of ["vm-hours", "users", "storage"]) {
        await catalog.createPrice({ requestId: `p-${meterKey}`, price: { meterKey, currencyCode: "USD", tiers: [{ unitAmount: "1" }] } });
      }
      const customerId = (await customers.createCustomer({ requestId: "c", customer: { displayName: "Dim", currencyCode: "USD" } })).customer!.id;
      const at = (day: number) => timestampFromMs(Date.UTC(2026, 10, day));
      await usage.recordUsage({ requestId: "vm-eu", customerId, meterKey: "vm-hours", quantity: "2", attributes: { region: "eu" }, eventTime: at(2) });
      await usage.recordUsage({ requestId: "u-ann", customerId, meterKey: "users", quantity: "1", attributes: { user: "ann" }, eventTime: at(2) });
      await usage.recordUsage({ requestId: "g-1", customerId, meterKey: "storage", quantity: "5", eventTime: at(2) });
      tally.clock.set(NOV_FINAL);
      const lines = async (revision: number) =>
        (await billing.getBill({ customerId, period: "2026-11", revision })).bill!.lines.map((line) => `${line.meterKey}${JSON.stringify(line.dimensions)}=${line.quantity}`);
      assert.deepEqual(await lines(1), ['storage{}=5', 'users{}=1', 'vm-hours{"region":"eu"}=2']);

      await usage.recordUsage({ requestId: "vm-us", customerId, meterKey: "vm-hours", quantity: "3", attributes: { region: "us" }, eventTime: at(20), correction: true });
      await usage.recordUsage({ requestId: "u-bob", customerId, meterKey: "users", quantity: "1", attributes: { user: "bob" }, eventTime: at(20), correction: true });
      await usage.recordUsage({ requestId: "g-2", customerId, meterKey: "storage", quantity: "9", eventTime: at(20), correction: true });
      await usage.voidUsage({ requestId: "g-2", reason: "misread", correction: true });
      assert.deepEqual(await lines(2), ['storage{}=5', 'users{}=1', 'vm-hours{"region":"eu"}=2', 'vm-hours{"region":"us"}=3']);
      assert.deepEqual(await lines(3), ['storage{}=5', 'users{}=2', 'vm-hours{"region":"eu"}=2', 'vm-hours{"region":"us"}=3']);
      assert.deepEqual(await lines(4), ['storage{}=9', 'users{}=2', 'vm-hours{"region":"eu"}=2', 'vm-hours{"region":"us"}=3']);
      assert.deepEqual(await lines(5), ['storage{}=5', 'users{}=2', 'vm-hours{"region":"eu"}=2', 'vm-hours{"region":"us"}=3']);
      assert.deepEqual(await lines(1), ['storage{}=5', 'users{}=1', 'vm-hours{"region":"eu"}=2']);

      // Corrections are changes of the ledger like any other: the usage feed carries each once, in order.
      const abort = new AbortController();
      const seen: string[] = [];
      const timer = setTimeout(() => abort.abort(), 5_000);
      try {
        for await (const message of usage.watchUsage({ afterCursor: "", customerId }, { signal: abort.signal })) {
          seen.push(...message.changes.map((change) => `${change.kind === UsageChangeKind.RECORDED ? "recorded" : "voided"} ${change.record?.requestId}`));
          if (seen.length >= 7) break;
        }
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
      assert.deepEqual(seen, ["recorded vm-eu", "recorded u-ann", "recorded g-1", "recorded vm-us", "recorded u-bob", "recorded g-2", "voided g-2"]);
    } finally {
      await tally.stop();
    }
  });
});

describe("The background finalizer", () => {
  it("stores finalized bills and consumes their credits without anyone reading them", async () => {
    const tally = await startTestTally({ finalizeGrace: GRACE, finalizeInterval: 50 });
    try {
      tally.clock.set(NOV_15);
      const { customerId } = await createCatalogFixture(tally.clients());
      const { usage, billing } = tally.clients();
      await billing.grantCredit({ requestId: "credit", grant: { customerId, amount: "3.00", reason: "welcome" } });
      await usage.recordUsage({ requestId: "nov", customerId, meterKey: "hosting", quantity: "1000" });
      await delay(200);
      assert.deepEqual(await grantsOf(tally, customerId), ["welcome=3.00"], "nothing is final yet");
      tally.clock.set(NOV_FINAL);
      let grants: string[] = [];
      for (let wait = 0; wait < 100 && grants[0] !== "welcome=0.00"; wait++) {
        await delay(50);
        grants = await grantsOf(tally, customerId);
      }
      assert.deepEqual(grants, ["welcome=0.00"]);
      const bill = (await billing.getBill({ customerId, period: "2026-11", revision: 1 })).bill!;
      assert.deepEqual([bill.total, bill.creditsApplied, bill.amountDue], ["12.50", "3.00", "9.50"]);
    } finally {
      await tally.stop();
    }
  });
});
