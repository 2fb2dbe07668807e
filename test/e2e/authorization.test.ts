import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AccessService, Role as RoleEnum } from "../../gen/ts/billing/v1/access_service_pb.js";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/ts/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/ts/grpc/reflection/v1/reflection_pb.js";
import type { Role } from "../../src/domain/api-key.js";
import { openStore } from "../../src/main.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { systemClock } from "../../src/domain/clock.js";
import { createCatalogFixture } from "../support/catalog-fixture.js";
import { clientsFor, PROTOCOLS, type TallyClients, transportFor } from "../support/clients.js";
import { assertRefused } from "../support/errors.js";
import { startTestTally, type TestTally } from "../support/test-tally.js";

const SERVICES: DescService[] = [CustomerService, CatalogService, UsageService, BillingService, AccessService];

/**
 * Every billing.v1 method, called with an empty request over `protocol` with
 * `apiKey` ("" for none); the code it got. (Over HTTP/1.1 the bidirectional
 * StreamUsage cannot be called at all, so it is left out there.)
 */
async function callEveryMethod(tally: TestTally, protocol: (typeof PROTOCOLS)[number], apiKey: string): Promise<Map<string, Code | "ok">> {
  const transport = transportFor(protocol, tally.url, apiKey);
  const codes = new Map<string, Code | "ok">();
  for (const service of SERVICES) {
    const client = createClient(service, transport) as unknown as Record<string, (input: unknown) => unknown>;
    for (const method of service.methods) {
      if (method.methodKind === "bidi_streaming" && protocol.endsWith("-h1")) continue;
      codes.set(`${service.name}/${method.name}`, await codeOf(client, method));
    }
  }
  return codes;
}

async function codeOf(client: Record<string, (input: unknown) => unknown>, method: DescMethod): Promise<Code | "ok"> {
  try {
    if (method.methodKind === "bidi_streaming") {
      async function* one() {
        yield { sequence: 1n, requests: [] };
      }
      for await (const _ of client[method.localName]!(one()) as AsyncIterable<unknown>) break;
    } else if (method.methodKind === "server_streaming") {
      // A watch that was let in follows live and may send nothing: the client ends it (Canceled).
      const watch = (client[method.localName] as (input: unknown, options: unknown) => AsyncIterable<unknown>)({}, { signal: AbortSignal.timeout(300) });
      for await (const _ of watch) break;
    } else {
      await client[method.localName]!({});
    }
    return "ok";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

/** Which roles may call each method (admin may call all). */
const ALLOWED: Record<string, Role[]> = {
  "CustomerService/CreateCustomer": ["admin"],
  "CustomerService/GetCustomer": ["read", "admin"],
  "CustomerService/ListCustomers": ["read", "admin"],
  "CatalogService/CreateMeter": ["admin"],
  "CatalogService/GetMeter": ["read", "admin"],
  "CatalogService/ListMeters": ["read", "admin"],
  "CatalogService/CreatePrice": ["admin"],
  "CatalogService/ListPrices": ["read", "admin"],
  "UsageService/RecordUsage": ["ingest", "admin"],
  "UsageService/BatchRecordUsage": ["ingest", "admin"],
  "UsageService/StreamUsage": ["ingest", "admin"],
  "UsageService/GetUsageRecord": ["read", "admin"],
  "UsageService/ListUsageRecords": ["read", "admin"],
  "UsageService/GetDailyUsage": ["read", "admin"],
  "UsageService/VoidUsage": ["admin"],
  "UsageService/SetUsageLimit": ["admin"],
  "UsageService/GetUsageAllowance": ["read", "admin"],
  "UsageService/WatchUsage": ["read", "admin"],
  "BillingService/GetCurrentBill": ["read", "admin"],
  "BillingService/GetBill": ["read", "admin"],
  "BillingService/ListBills": ["read", "admin"],
  "BillingService/GrantCredit": ["admin"],
  "BillingService/ListCreditGrants": ["read", "admin"],
  "BillingService/CreateAlert": ["admin"],
  "BillingService/WatchAlerts": ["read", "admin"],
  "AccessService/GetCaller": ["ingest", "read", "admin"],
};

describe("API keys and roles", () => {
  let tally: TestTally;
  const keys = {} as Record<Role, string>;
  before(async () => {
    tally = await startTestTally();
    for (const role of ["ingest", "read", "admin"] as const) keys[role] = await tally.createKey(role);
  });
  after(() => tally.stop());

  it("refuses every call but health without a key, on every protocol, while health answers", async () => {
    for (const protocol of PROTOCOLS) {
      const codes = await callEveryMethod(tally, protocol, "");
      assert.equal(codes.size, Object.keys(ALLOWED).length - (protocol.endsWith("-h1") ? 1 : 0), "every method is in the table");
      for (const [method, code] of codes) assert.equal(code, Code.Unauthenticated, `${protocol} ${method}`);
    }
    const health = createClient(Health, createGrpcTransport({ baseUrl: tally.url }));
    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${tally.url}/metrics`)).status, 200);
  });

  it("refuses a malformed, unknown or revoked key with UNAUTHENTICATED", async () => {
    const customers = (apiKey: string) => clientsFor(transportFor("connect-json-h1", tally.url, apiKey)).customers;
    await assertRefused(customers("not-a-key").listCustomers({}), Code.Unauthenticated, "API_KEY_INVALID");
    const forged = keys.admin.slice(0, -4) + (keys.admin.endsWith("AAAA") ? "BBBB" : "AAAA");
    await assertRefused(customers(forged).listCustomers({}), Code.Unauthenticated, "API_KEY_INVALID");

    const doomed = await tally.createKey("read");
    const store = await openStore(tally.db);
    const keyring = createKeyring({ store, clock: systemClock });
    const [stored] = (await keyring.listKeys()).filter((key) => doomed.includes(key.id));
    await keyring.revokeKey(stored!.id);
    await store.close();
    await assertRefused(customers(doomed).listCustomers({}), Code.Unauthenticated, "API_KEY_INVALID");
  });

  it("lets each role call exactly its methods, refusing the rest with PERMISSION_DENIED", async () => {
    for (const role of ["ingest", "read", "admin"] as const) {
      for (const protocol of ["grpc", "connect-json-h1"] as const) {
        const codes = await callEveryMethod(tally, protocol, keys[role]);
        for (const [method, code] of codes) {
          if (ALLOWED[method]!.includes(role)) {
            assert.ok(code !== Code.PermissionDenied && code !== Code.Unauthenticated, `${role} may call ${method} (${protocol}), got ${String(code)}`);
          } else {
            assert.equal(code, Code.PermissionDenied, `${role} may not call ${method} (${protocol})`);
          }
        }
      }
    }
  });

  it("tells any valid key its id, tenant and role (GetCaller), on every protocol, and nothing without one", async () => {
    const roles = { ingest: RoleEnum.INGEST, read: RoleEnum.READ, admin: RoleEnum.ADMIN };
    for (const protocol of PROTOCOLS) {
      for (const role of ["ingest", "read", "admin"] as const) {
        const caller = await tally.clients(protocol, keys[role]).access.getCaller({});
        assert.deepEqual([caller.tenant, caller.role], ["default", roles[role]], `${protocol} ${role}`);
        assert.ok(keys[role].includes(`_${caller.keyId}_`), `${protocol} ${role}: key id ${caller.keyId}`);
      }
    }
    const otherTenant = await tally.createKey("read", "tenant-b");
    assert.deepEqual((await tally.clients("connect-json-h1", otherTenant).access.getCaller({})).tenant, "tenant-b");
    await assertRefused(tally.clients("grpc", "").access.getCaller({}), Code.Unauthenticated, "API_KEY_MISSING");
    await assertRefused(tally.clients("grpc", "not-a-key").access.getCaller({}), Code.Unauthenticated, "API_KEY_INVALID");
  });

  it("needs a key for reflection", async () => {
    const reflection = (apiKey?: string) =>
      createClient(ServerReflection, createGrpcTransport({ baseUrl: tally.url, interceptors: apiKey === undefined ? [] : [(next) => (request) => (request.header.set("authorization", `Bearer ${apiKey}`), next(request))] }));
    const listServices = async (apiKey?: string) => {
      async function* ask() {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      }
      for await (const response of reflection(apiKey).serverReflectionInfo(ask())) {
        return response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((service) => service.name) : [];
      }
      return [];
    };
    await assert.rejects(listServices(), (error) => ConnectError.from(error).code === Code.Unauthenticated);
    assert.ok((await listServices(keys.ingest)).includes("billing.v1.UsageService"), "any role may reflect");
  });
});

describe("reflection with --public-reflection", () => {
  it("answers without a key while the billing services still need one", async () => {
    const tally = await startTestTally({ publicReflection: true });
    try {
      async function* ask() {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      }
      const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: tally.url }));
      let names: string[] = [];
      for await (const response of client.serverReflectionInfo(ask())) {
        if (response.messageResponse.case === "listServicesResponse") names = response.messageResponse.value.service.map((service) => service.name);
        break;
      }
      assert.ok(names.includes("billing.v1.BillingService"));
      assert.ok(names.includes("billing.v1.AccessService"));
      await assertRefused(tally.clients("grpc", "").billing.getCurrentBill({ customerId: "acme" }), Code.Unauthenticated, "API_KEY_MISSING");
      // GetCaller is any key's, not anyone's: public reflection does not open it.
      await assertRefused(tally.clients("grpc", "").access.getCaller({}), Code.Unauthenticated, "API_KEY_MISSING");
    } finally {
      await tally.stop();
    }
  });
});

describe("tenants", () => {
  let tally: TestTally;
  let a: TallyClients;
  let b: TallyClients;
  before(async () => {
    tally = await startTestTally();
    a = tally.clients("grpc", await tally.createKey("admin", "tenant-a"));
    b = tally.clients("connect-json-h1", await tally.createKey("admin", "tenant-b"));
  });
  after(() => tally.stop());

  it("keeps each tenant's customers, usage and bills to itself, and lets both use the same ids", async () => {
    // The same fixture (same request ids, same external_id, same meter keys) in both tenants: no collision.
    const { customerId: customerA } = await createCatalogFixture(a);
    const { customerId: customerB } = await createCatalogFixture(b);
    assert.notEqual(customerA, customerB);

    const recordA = await a.usage.recordUsage({ requestId: "shared-id", customerId: "acme", meterKey: "hosting", quantity: "10" });
    const recordB = await b.usage.recordUsage({ requestId: "shared-id", customerId: "acme", meterKey: "hosting", quantity: "2000" });
    assert.equal(recordA.replayed, false);
    assert.equal(recordB.replayed, false, "B's request_id is its own, not A's");
    assert.notEqual(recordA.record!.id, recordB.record!.id);

    // A cannot see B's record or customer, by id or external id.
    await assertRefused(a.usage.getUsageRecord({ id: recordB.record!.id }), Code.NotFound, "USAGE_RECORD_NOT_FOUND");
    await assertRefused(a.customers.getCustomer({ id: customerB }), Code.NotFound, "CUSTOMER_NOT_FOUND");
    await assertRefused(b.billing.getCurrentBill({ customerId: customerA }), Code.NotFound, "CUSTOMER_NOT_FOUND");
    const listedByA = await a.usage.listUsageRecords({ customerId: "acme" });
    assert.deepEqual(
      listedByA.records.map((record) => record.id),
      [recordA.record!.id],
    );

    // Each tenant's bill holds its own usage only: 10 × 0.0125 and 2000 × 0.0125.
    assert.equal((await a.billing.getCurrentBill({ customerId: "acme" })).bill!.total, "0.12");
    assert.equal((await b.billing.getCurrentBill({ customerId: "acme" })).bill!.total, "25.00");

    // A replay in A stays A's record; B's retry stays B's.
    assert.equal((await a.usage.recordUsage({ requestId: "shared-id", customerId: "acme", meterKey: "hosting", quantity: "10" })).record!.id, recordA.record!.id);
    await assertRefused(
      b.usage.recordUsage({ requestId: "shared-id", customerId: "acme", meterKey: "hosting", quantity: "10" }),
      Code.AlreadyExists,
      "REQUEST_ID_REUSED",
    );
  });

  it("takes the tenant from the key, whatever the request says", async () => {
    // The bootstrap key is the default tenant's: it sees neither tenant's customers.
    const defaultTenant = tally.clients();
    await assertRefused(defaultTenant.customers.getCustomer({ id: "acme" }), Code.NotFound, "CUSTOMER_NOT_FOUND");
    assert.equal((await defaultTenant.customers.listCustomers({})).customers.length, 0);
  });
});
