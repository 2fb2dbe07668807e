import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { AccessService } from "../../gen/ts/billing/v1/access_service_pb.js";
import { BillingService } from "../../gen/ts/billing/v1/billing_service_pb.js";
import { CatalogService } from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { CustomerService } from "../../gen/ts/billing/v1/customer_service_pb.js";
import { UsageService } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { type Permission, type Principal, roleGrants } from "../domain/api-key.js";
import { failureToConnectError } from "./failure-status.js";
import { fullMethodName } from "./method-name.js";

/**
 * What a call needs: `public` (no key: health), `any-key` (a valid key of any
 * role: reflection, AccessService), or a permission of the caller's role.
 */
export type Access = "public" | "any-key" | Permission;

/** One entry per method, so a new RPC does not compile until it is given its permission. */
type MethodPermissions<S extends { method: Record<string, unknown> }> = Record<keyof S["method"], Permission>;

const CUSTOMERS: MethodPermissions<typeof CustomerService> = { createCustomer: "admin", getCustomer: "read", listCustomers: "read" };
const CATALOG: MethodPermissions<typeof CatalogService> = {
  createMeter: "admin",
  getMeter: "read",
  listMeters: "read",
  createPrice: "admin",
  listPrices: "read",
};
const USAGE: MethodPermissions<typeof UsageService> = {
  recordUsage: "ingest",
  batchRecordUsage: "ingest",
  streamUsage: "ingest",
  getUsageRecord: "read",
  listUsageRecords: "read",
  getDailyUsage: "read",
  // A void corrects the ledger: an operator's act, not a producer's.
  voidUsage: "admin",
  setUsageLimit: "admin",
  getUsageAllowance: "read",
  watchUsage: "read",
};
const BILLING: MethodPermissions<typeof BillingService> = {
  getCurrentBill: "read",
  getBill: "read",
  listBills: "read",
  grantCredit: "admin",
  listCreditGrants: "read",
  createAlert: "admin",
  watchAlerts: "read",
};

const PERMISSIONS = new Map<string, Permission>();
function add<S extends DescService>(service: S, permissions: Record<string, Permission>): void {
  for (const method of service.methods) PERMISSIONS.set(fullMethodName(method), permissions[method.localName]!);
}
add(CustomerService, CUSTOMERS);
add(CatalogService, CATALOG);
add(UsageService, USAGE);
add(BillingService, BILLING);

/**
 * The access a method needs. Health is public, reflection and AccessService
 * need a key of any role (reflection none if the server makes it public),
 * and anything not listed needs admin: a method
 * added without a decision is closed, not open.
 */
export function accessFor(method: DescMethod): Access {
  const serviceTypeName = method.parent.typeName;
  if (serviceTypeName === "grpc.health.v1.Health") return "public";
  if (serviceTypeName.startsWith("grpc.reflection.")) return "any-key";
  // Any key may ask what it is: the dashboard asks, to offer only what the key's role may do.
  if (serviceTypeName === AccessService.typeName) return "any-key";
  return PERMISSIONS.get(fullMethodName(method)) ?? "admin";
}

/**
 * Fields that ask for more than their method's permission: `correction` on
 * RecordUsage and VoidUsage writes into a finalized period, an admin's act
 * (DESIGN.md), while RecordUsage itself is an ingest key's.
 */
const FIELD_PERMISSIONS = { correction: "admin" } as const satisfies Record<string, Permission>;

/** Refuses the call (PERMISSION_DENIED, ROLE_NOT_PERMITTED) unless the caller's role grants what the field needs. */
export function checkFieldAccess(principal: Principal | undefined, field: keyof typeof FIELD_PERMISSIONS): void {
  const needed = FIELD_PERMISSIONS[field];
  if (principal !== undefined && roleGrants(principal.role, needed)) return;
  throw failureToConnectError({
    reason: "ROLE_NOT_PERMITTED",
    message: `${field}: true needs a key with the ${needed} role; this key has the ${principal?.role ?? "no"} role`,
    fieldViolations: [{ field, description: `needs the ${needed} role` }],
  });
}
