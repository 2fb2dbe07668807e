import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { periodOf } from "../../src/domain/billing-period.js";
import { systemClock } from "../../src/domain/clock.js";
import { isFailure } from "../../src/domain/failure.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { DEFAULT_TENANT_QUOTAS } from "../../src/domain/quotas.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { clientsFor, transportFor } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { scratchDirectory, type TallyProcess } from "../support/tally-process.js";
import { createStoredKey } from "../support/test-tally.js";
import { AUTHORIZATION, healthz, keyedClients, killIfRunning, startFaultServer, worstEventLoopDelayMs } from "./fault-harness.js";
import { envelope } from "./raw-wire.js";

// What one tenant can do to the server and to the other tenants, over real
// sockets against `tally serve`: decimals with 200,000 digits, the customer
// past the quota (and racing creates at its edge), a tenant filled to every
// quota while another tenant's latency is measured (figures are printed, not
// asserted), and Connect JSON that protobuf-es would read too kindly:
// impossible timestamps and unknown fields, on unary POST, Connect GET and a
// stream.

const NOISY = "noisy";
const NOISY_CUSTOMERS = 100_000;
const NOISY_METERS = 1_000;
const NOISY_PRICES = 10_000;
const TIERS_PER_PRICE = 32;

/**
 * Fills tenant NOISY to its default quotas straight in the database file (the
 * API would take minutes): 100,000 customers, 1,000 meters with 10 price
 * versions of 32 tiers each, and one customer with usage on every meter this
 * period, so its bill has 1,000 lines.
 */
async function fillNoisyTenant(db: string, period: string): Promise<void> {
  await openSqliteStore({ path: db }).close(); // creates and migrates the schema
  const sqlite = new Database(db);
  try {
    sqlite.transaction(() => {
      const customer = sqlite.prepare(
        `INSERT INTO customers (tenant_id, id, external_id, display_name, currency_code, create_time, request_id) VALUES (?, ?, ?, ?, 'USD', 1, ?)`,
      );
      for (let i = 0; i < NOISY_CUSTOMERS; i++) customer.run(NOISY, `cus_noisy${i}`, `n-${i}`, `Noisy customer ${i}`, `c${i}`);
      const meter = sqlite.prepare(
        `INSERT INTO meters (tenant_id, key, display_name, unit, aggregation, precision, create_time, request_id) VALUES (?, ?, ?, 'unit', 'sum', 9, 1, ?)`,
      );
      const price = sqlite.prepare(
        `INSERT INTO prices (tenant_id, id, meter_key, currency_code, version, effective_period, tiers, create_time, request_id) VALUES (?, ?, ?, 'USD', ?, '2020-01', ?, 1, ?)`,
      );
      const tiers = JSON.stringify(
        Array.from({ length: TIERS_PER_PRICE }, (_, t) => [t === TIERS_PER_PRICE - 1 ? null : `${(t + 1) * 1000}.123456789`, `0.${"9".repeat(11)}${t}`]),
      );
      const totals = sqlite.prepare(
        `INSERT INTO usage_totals (tenant_id, customer_id, period, meter_key, quantity_sum, event_count, quantity_max) VALUES (?, 'cus_noisy0', ?, ?, ?, 1, ?)`,
      );
      const versions = NOISY_PRICES / NOISY_METERS;
      for (let m = 0; m < NOISY_METERS; m++) {
        const key = `meter-${m}`;
        meter.run(NOISY, key, key, `m${m}`);
        for (let v = 1; v <= versions; v++) price.run(NOISY, `pri_${m}_${v}`, key, v, tiers, `p${m}-${v}`);
        totals.run(NOISY, period, key, "99999999999999999999.999999999", "99999999999999999999.999999999");
      }
      const count = sqlite.prepare(`INSERT INTO tenant_counts (tenant_id, resource, count) VALUES (?, ?, ?)`);
      count.run(NOISY, "customers", NOISY_CUSTOMERS);
      count.run(NOISY, "meters", NOISY_METERS);
      count.run(NOISY, "prices", NOISY_PRICES);
    })();
  } finally {
    sqlite.close();
  }
}

/** p50, p99 and max of durations in ms, as text. */
function figures(durations: number[]): string {
  const sorted = [...durations].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms (${sorted.length} calls)`;
}

async function timed<T>(call: () => Promise<T>, into: number[]): Promise<T> {
  const started = performance.now();
  const result = await call();
  into.push(performance.now() - started);
  return result;
}

/** A Connect error's JSON (unary answer, or a stream's end message) as code, reason and field paths. */
function connectStatus(error: { code: string; message: string; details?: { type: string; value: string }[] }) {
  const details = error.details ?? [];
  const info = details.find((detail) => detail.type === "google.rpc.ErrorInfo");
  const badRequest = details.find((detail) => detail.type === "google.rpc.BadRequest");
  return {
    code: error.code,
    reason: info === undefined ? "" : fromBinary(ErrorInfoSchema, base64Decode(info.value)).reason,
    fields: badRequest === undefined ? [] : fromBinary(BadRequestSchema, base64Decode(badRequest.value)).fieldViolations.map((violation) => violation.field),
  };
}

const CONNECT_HEADERS = { authorization: AUTHORIZATION, "connect-protocol-version": "1" };

describe("tenant limits and strict input", () => {
  const scratch = scratchDirectory("tally-tenant-limits-");
  const db = join(scratch.path, "tally.db");
  const period = periodOf(Date.now());
  let tally: TallyProcess;
  let customerId: string;

  before(async () => {
    await fillNoisyTenant(db, period);
    tally = await startFaultServer(db);
    ({ customerId } = await createCatalogFixture(keyedClients("grpc", tally.url)));
  });

  after(async () => {
    await killIfRunning(tally);
    scratch.cleanup();
  });

  it("refuses a 200,000-digit unit_amount (and every decimal past its bounds) with INVALID_DECIMAL naming the field", async () => {
    for (const protocol of ["grpc", "connect-json-h1", "grpc-web-h2"] as const) {
      const { catalog } = keyedClients(protocol, tally.url);
      const price = (tiers: { upTo: string; unitAmount: string }[]) =>
        catalog.createPrice({ requestId: `long-${protocol}-${tiers.length}-${tiers[0]!.unitAmount.length}`, price: { meterKey: "hosting", currencyCode: "USD", tiers } });
      await assertRefused(price([{ upTo: "", unitAmount: "9".repeat(200_000) }]), Code.InvalidArgument, "INVALID_DECIMAL", ["price.tiers[0].unit_amount"]);
      await assertRefused(price([{ upTo: "", unitAmount: `1.${"0".repeat(200_000)}1` }]), Code.InvalidArgument, "INVALID_DECIMAL", ["price.tiers[0].unit_amount"]);
      await assertRefused(price([{ upTo: "", unitAmount: "1".repeat(31) }]), Code.InvalidArgument, "INVALID_DECIMAL", ["price.tiers[0].unit_amount"]);
      await assertRefused(price([{ upTo: "", unitAmount: "0.0000000000001" }]), Code.InvalidArgument, "INVALID_DECIMAL", ["price.tiers[0].unit_amount"]);
      await assertRefused(
        price([{ upTo: "9".repeat(200_000), unitAmount: "1" }, { upTo: "", unitAmount: "1" }]),
        Code.InvalidArgument,
        "INVALID_DECIMAL",
        ["price.tiers[0].up_to"],
      );
    }
    // The bounds themselves are accepted.
    const { price } = await keyedClients("grpc", tally.url).catalog.createPrice({
      requestId: "widest-price",
      price: { meterKey: "seats", currencyCode: "EUR", tiers: [{ upTo: `${"9".repeat(30)}.${"9".repeat(12)}`, unitAmount: "0.000000000001" }, { upTo: "", unitAmount: "9".repeat(30) }] },
    });
    assert.equal(price?.version, 1);
    assert.equal(await healthz(tally.url), 200);
  });

  it("refuses the 100,001st customer with QUOTA_EXCEEDED, still replays an existing one, and lets exactly the quota through a race", async (t) => {
    const noisy = clientsFor(transportFor("grpc", tally.url, await createStoredKey(db, "admin", NOISY)));
    await assertRefused(
      noisy.customers.createCustomer({ requestId: "one-too-many", customer: { displayName: "One too many", currencyCode: "USD" } }),
      Code.ResourceExhausted,
      "QUOTA_EXCEEDED",
    );
    await assertRefused(
      noisy.catalog.createMeter({ requestId: "meter-too-many", meter: { key: "one-more", displayName: "x", unit: "x", aggregation: 1 } }),
      Code.ResourceExhausted,
      "QUOTA_EXCEEDED",
    );
    await assertRefused(
      noisy.catalog.createPrice({ requestId: "price-too-many", price: { meterKey: "meter-0", currencyCode: "USD", tiers: [{ unitAmount: "1" }] } }),
      Code.ResourceExhausted,
      "QUOTA_EXCEEDED",
    );
    // A retry of a customer created before the quota filled is still a replay.
    const replay = await noisy.customers.createCustomer({ requestId: "c7", customer: { externalId: "n-7", displayName: "Noisy customer 7", currencyCode: "USD" } });
    assert.deepEqual([replay.replayed, replay.customer?.id], [true, "cus_noisy7"]);
    assert.equal((await noisy.customers.getCustomer({ id: "n-99999" })).customer?.id, "cus_noisy99999");

    // A race at the edge: 10 places left, 40 concurrent creates on a server with a smaller quota.
    const raceDb = join(scratch.path, "race.db");
    const race = await startFaultServer(raceDb, { args: ["--max-customers-per-tenant", "10"] });
    try {
      const clients = keyedClients("connect-json-h2", race.url);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => clients.customers.createCustomer({ requestId: `race-${i}`, customer: { displayName: `Racer ${i}`, currencyCode: "USD" } })),
      );
      const created = outcomes.filter((outcome) => outcome.status === "fulfilled").length;
      t.diagnostic(`40 concurrent creates against a quota of 10: ${created} created`);
      assert.equal(created, 10);
      assert.equal((await clients.customers.listCustomers({ pageSize: 100 })).customers.length, 10);
    } finally {
      await killIfRunning(race);
    }
    // API keys are created by `tally keys create`, which takes --max-api-keys-per-tenant too.
    const store = openSqliteStore({ path: raceDb, quotas: { ...DEFAULT_TENANT_QUOTAS, apiKeys: 2 } });
    try {
      const keyring = createKeyring({ store, clock: systemClock });
      for (const expected of [false, false, true]) assert.equal(isFailure(await keyring.createKey({ role: "read", tenant: "small" })), expected);
      const refused = await keyring.createKey({ role: "read", tenant: "small" });
      assert.equal(isFailure(refused) && refused.reason, "QUOTA_EXCEEDED");
      assert.equal(isFailure(await keyring.createKey({ role: "read", tenant: "other" })), false);
    } finally {
      await store.close();
    }
  });

  it("keeps another tenant's calls fast while a tenant at every quota bills and searches (figures printed, not asserted)", async (t) => {
    const noisy = clientsFor(transportFor("grpc", tally.url, await createStoredKey(db, "admin", NOISY)));
    const quiet = keyedClients("grpc", tally.url);
    await quiet.usage.recordUsage({ requestId: "quiet-1", customerId, meterKey: "hosting", quantity: "1.5" });

    const bigBill: number[] = [];
    await worstEventLoopDelayMs(tally.url);
    const { bill } = await timed(() => noisy.billing.getCurrentBill({ customerId: "cus_noisy0" }), bigBill);
    assert.equal(bill?.lines.length, NOISY_METERS);
    assert.equal(bill?.lines[0]?.priceVersion, NOISY_PRICES / NOISY_METERS);
    for (let i = 0; i < 9; i++) await timed(() => noisy.billing.getCurrentBill({ customerId: "cus_noisy0" }), bigBill);
    t.diagnostic(`GetCurrentBill of 1,000 meters x 32 tiers (10,000 price versions in the tenant): ${figures(bigBill)}`);
    t.diagnostic(`the server's worst event-loop delay over those 10 bills: ${await worstEventLoopDelayMs(tally.url)} ms`);

    const searches: Record<string, number[]> = { "rare (zzz)": [], "common (oisy cust)": [], "short (q)": [] };
    const search = async (label: string, query: string) => {
      const page = await timed(() => noisy.customers.listCustomers({ query, pageSize: 50 }), searches[label]!);
      return page;
    };
    assert.equal((await search("rare (zzz)", "zzz")).customers.length, 0);
    assert.equal((await search("common (oisy cust)", "oisy cust")).customers.length, 50);
    const short = await search("short (q)", "q");
    assert.equal(short.customers.length, 0);
    assert.notEqual(short.nextPageToken, "", "a short search that found nothing in its window goes on");
    assert.deepEqual(
      (await noisy.customers.listCustomers({ query: "customer 99999", pageSize: 50 })).customers.map((customer) => customer.id),
      ["cus_noisy99999"],
    );

    const alone: number[] = [];
    for (let i = 0; i < 100; i++) await timed(() => quiet.billing.getCurrentBill({ customerId }), alone);
    const beside: number[] = [];
    const health: number[] = [];
    await worstEventLoopDelayMs(tally.url);
    let noising = true;
    const noise = Array.from({ length: 3 }, async (_, worker) => {
      for (let round = 0; noising; round++) {
        if (worker === 0) await timed(() => noisy.billing.getCurrentBill({ customerId: "cus_noisy0" }), bigBill);
        else if (worker === 1) await search("rare (zzz)", `zz${round % 10}`);
        else await search("short (q)", "q");
      }
    });
    for (let i = 0; i < 200; i++) {
      await timed(() => quiet.billing.getCurrentBill({ customerId }), beside);
      if (i % 10 === 0) await timed(async () => assert.equal(await healthz(tally.url), 200), health);
    }
    noising = false;
    await Promise.all(noise);
    t.diagnostic(`the server's worst event-loop delay while the noisy tenant billed and searched: ${await worstEventLoopDelayMs(tally.url)} ms`);
    t.diagnostic(`another tenant's GetCurrentBill alone: ${figures(alone)}`);
    t.diagnostic(`the same beside the noisy tenant's bills and searches: ${figures(beside)}`);
    t.diagnostic(`GET /healthz meanwhile: ${figures(health)}`);
    for (const [label, durations] of Object.entries(searches)) t.diagnostic(`noisy tenant's ListCustomers, ${label}: ${figures(durations)}`);
  });

  it("refuses impossible JSON timestamps and unknown JSON fields, naming the field, on unary POST, Connect GET and a stream", async () => {
    const record = (extra: string, requestId: string) =>
      `{"requestId":"${requestId}","customerId":"acme","meterKey":"hosting","quantity":"1",${extra}}`;
    const post = async (path: string, body: string) => {
      const response = await fetch(`${tally.url}${path}`, { method: "POST", headers: { ...CONNECT_HEADERS, "content-type": "application/json" }, body });
      return { status: response.status, ...connectStatus((await response.json()) as never) };
    };
    const cases: [string, string, string][] = [
      ['"eventTime":"2026-11-31T00:00:00Z"', "INVALID_FIELD", "event_time"],
      ['"eventTime":"2026-02-30T12:00:00Z"', "INVALID_FIELD", "event_time"],
      ['"eventTime":"2026-11-30T24:00:00Z"', "INVALID_FIELD", "event_time"],
      ['"eventTime":"2026-11-30T23:59:60Z"', "INVALID_FIELD", "event_time"],
      ['"eventTime":"2026-11-30T12:00:00+24:00"', "INVALID_FIELD", "event_time"],
      ['"evntTime":"2026-11-30T12:00:00Z"', "UNKNOWN_FIELD", "evntTime"],
      ['"attributes":{},"quantityy":"2"', "UNKNOWN_FIELD", "quantityy"],
    ];
    for (const [extra, reason, field] of cases) {
      const answer = await post("/billing.v1.UsageService/RecordUsage", record(extra, `strict-${field}`));
      assert.deepEqual(answer, { status: 400, code: "invalid_argument", reason, fields: [field] }, extra);
    }
    // Inside a batch, the path says which item.
    const batch = await post(
      "/billing.v1.UsageService/BatchRecordUsage",
      `{"requests":[${record("\"eventTime\":\"2026-11-01T00:00:00Z\"", "b0")},${record("\"eventTime\":\"2026-11-31T00:00:00Z\"", "b1")}]}`,
    );
    assert.deepEqual(batch, { status: 400, code: "invalid_argument", reason: "INVALID_FIELD", fields: ["requests[1].event_time"] });
    // A leap day that exists is accepted.
    const leap = await post("/billing.v1.UsageService/ListUsageRecords", `{"customerId":"acme","startTime":"2024-02-29T00:00:00Z","pageSize":1}`);
    assert.equal(leap.status, 200);

    // Connect GET (a read-only method): the message travels in the query.
    const get = async (message: string) => {
      const query = new URLSearchParams({ connect: "v1", encoding: "json", message });
      const response = await fetch(`${tally.url}/billing.v1.UsageService/ListUsageRecords?${query}`, { headers: { authorization: AUTHORIZATION } });
      return { status: response.status, ...connectStatus((await response.json()) as never) };
    };
    assert.deepEqual(await get(`{"customerId":"acme","endTime":"2026-04-31T00:00:00Z"}`), {
      status: 400,
      code: "invalid_argument",
      reason: "INVALID_FIELD",
      fields: ["end_time"],
    });
    assert.deepEqual(await get(`{"customerId":"acme","pageSise":5}`), { status: 400, code: "invalid_argument", reason: "UNKNOWN_FIELD", fields: ["pageSise"] });

    // A Connect JSON stream (client streaming needs HTTP/2): the refusal ends the stream.
    const stream = async (message: string) => {
      const session = http2.connect(tally.url);
      try {
        const bytes = await new Promise<Buffer>((resolve, reject) => {
          const request = session.request({
            ":method": "POST",
            ":path": "/billing.v1.UsageService/StreamUsage",
            ...CONNECT_HEADERS,
            "content-type": "application/connect+json",
          });
          const chunks: Buffer[] = [];
          request.on("data", (chunk: Buffer) => chunks.push(chunk));
          request.on("end", () => resolve(Buffer.concat(chunks)));
          request.on("error", reject);
          request.end(envelope(Buffer.from(message)));
        });
        let at = 0;
        let end: { error?: never } = {};
        while (at + 5 <= bytes.length) {
          const length = bytes.readUInt32BE(at + 1);
          if ((bytes[at]! & 0x02) !== 0) end = JSON.parse(bytes.subarray(at + 5, at + 5 + length).toString()) as { error?: never };
          at += 5 + length;
        }
        assert.ok(end.error !== undefined, `the stream ends with an error: ${bytes.toString()}`);
        return connectStatus(end.error);
      } finally {
        session.close();
      }
    };
    assert.deepEqual(await stream(`{"sequence":"1","requests":[${record("\"eventTime\":\"2026-11-31T00:00:00Z\"", "s0")}]}`), {
      code: "invalid_argument",
      reason: "INVALID_FIELD",
      fields: ["requests[0].event_time"],
    });
    assert.deepEqual(await stream(`{"sequence":"1","requets":[]}`), { code: "invalid_argument", reason: "UNKNOWN_FIELD", fields: ["requets"] });

    const { records } = await keyedClients("grpc", tally.url).usage.listUsageRecords({ customerId, pageSize: 100 });
    assert.deepEqual(records.filter((r) => r.requestId.startsWith("strict-") || /^[bs]\d$/.test(r.requestId)), [], "nothing refused was recorded");
  });

  it("ignores unknown JSON fields when --allow-unknown-json-fields asks for it, and still refuses impossible timestamps", async () => {
    const lenientDb = join(scratch.path, "lenient.db");
    const lenient = await startFaultServer(lenientDb, { args: ["--allow-unknown-json-fields"] });
    try {
      await createCatalogFixture(keyedClients("grpc", lenient.url));
      const post = async (body: string) => {
        const response = await fetch(`${lenient.url}/billing.v1.UsageService/RecordUsage`, {
          method: "POST",
          headers: { ...CONNECT_HEADERS, "content-type": "application/json" },
          body,
        });
        return response.status;
      };
      assert.equal(await post(`{"requestId":"fwd","customerId":"acme","meterKey":"hosting","quantity":"1","newerField":{"x":1}}`), 200);
      assert.equal(await post(`{"requestId":"fwd2","customerId":"acme","meterKey":"hosting","quantity":"1","eventTime":"2026-11-31T00:00:00Z"}`), 400);
    } finally {
      await killIfRunning(lenient);
    }
  });
});
