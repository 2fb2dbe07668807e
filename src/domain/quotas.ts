import { type Failure, failure } from "./failure.js";

/**
 * The most of each resource one tenant may create, so that no tenant can grow
 * the tables every other tenant's calls read. The store checks a quota in the
 * same transaction as the write it guards, so concurrent creates cannot pass
 * it together.
 */
export interface TenantQuotas {
  customers: number;
  meters: number;
  /** Price versions, of every meter and currency. */
  prices: number;
  /** API keys, revoked ones included (a revoked key keeps its row). */
  apiKeys: number;
}

/** A resource a tenant's quota counts. */
export type QuotaResource = keyof TenantQuotas;

/** The quotas of `tally serve` and `tally keys create` when no setting changes them (see src/config.ts). */
export const DEFAULT_TENANT_QUOTAS: Readonly<TenantQuotas> = {
  customers: 100_000,
  meters: 1_000,
  prices: 10_000,
  apiKeys: 1_000,
};

const NAMES: Record<QuotaResource, string> = { customers: "customers", meters: "meters", prices: "price versions", apiKeys: "API keys" };

/** QUOTA_EXCEEDED: the tenant already holds `limit` of `resource`; nothing was created. */
export function quotaExceeded(resource: QuotaResource, limit: number): Failure {
  return failure("QUOTA_EXCEEDED", `the tenant already has ${limit} ${NAMES[resource]}, its quota; nothing was created`);
}
