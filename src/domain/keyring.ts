import { type ApiKey, apiKeyId, hashApiKey, newApiKey, type Principal, type Role, sameKeyHash } from "./api-key.js";
import type { Clock } from "./clock.js";
import { type Failure, failure } from "./failure.js";
import { quotaExceeded } from "./quotas.js";
import { DEFAULT_SCOPE, type Scope, type Store } from "./store.js";

/** A key given by configuration rather than stored: held in memory, for this process only. */
export interface ConfiguredKey {
  key: string;
  role: Role;
  /** Default: the default tenant. */
  tenant?: Scope;
  /** Shown in logs, e.g. "bootstrap". */
  name: string;
}

/** What the keyring needs. */
export interface KeyringOptions {
  store: Store;
  clock: Clock;
  /** Keys from configuration (TALLY_BOOTSTRAP_KEY, the demo's keys). Default none. */
  configuredKeys?: ConfiguredKey[];
  /**
   * How long a verified stored key is trusted without reading the store again,
   * in ms: a revocation takes effect within this time. Default TRUST_VERIFIED_MS.
   */
  trustVerifiedMs?: number;
}

/** How long a verified stored key is trusted by default, in ms: a running server refuses a revoked key within it. */
export const TRUST_VERIFIED_MS = 5_000;

/** The most verified keys remembered at once; past it the memory starts afresh. */
const MAX_REMEMBERED_KEYS = 10_000;

/** The use cases of API keys. */
export type Keyring = ReturnType<typeof createKeyring>;

/** Issues, lists, revokes and verifies API keys. */
export function createKeyring({ store, clock, configuredKeys = [], trustVerifiedMs = TRUST_VERIFIED_MS }: KeyringOptions) {
  const configured = configuredKeys.map((configuredKey, index) => ({
    hash: hashApiKey(configuredKey.key),
    principal: { keyId: `configured-${index}`, tenant: configuredKey.tenant ?? DEFAULT_SCOPE, role: configuredKey.role },
  }));
  // Keys that verified, until when they are trusted without a look at the
  // store: configured keys for good, stored keys for trustVerifiedMs (so a
  // revocation takes effect within it). Only keys that verified get in, and
  // past MAX_REMEMBERED_KEYS it starts afresh.
  const recentlyVerified = new Map<string, { principal: Principal; until: number }>();
  function remember(key: string, principal: Principal, until: number): Principal {
    if (recentlyVerified.size >= MAX_REMEMBERED_KEYS) recentlyVerified.clear();
    recentlyVerified.set(key, { principal, until });
    return principal;
  }

  function recall(key: string): Principal | undefined {
    const recent = recentlyVerified.get(key);
    return recent !== undefined && recent.until > clock.now() ? recent.principal : undefined;
  }

  return {
    /** A new key; the key itself is returned once and never stored. QUOTA_EXCEEDED when the tenant has its most keys. */
    async createKey(fields: { role: Role; tenant?: Scope; name?: string }): Promise<{ key: string; apiKey: ApiKey } | Failure> {
      const { key, stored } = newApiKey(fields, clock.now());
      const outcome = await store.createApiKey(stored);
      if (outcome.kind === "over-quota") return quotaExceeded("apiKeys", outcome.limit);
      const { secretHash: _, ...apiKey } = stored;
      return { key, apiKey };
    },

    /** Every stored key of every tenant, oldest first. */
    listKeys(): Promise<ApiKey[]> {
      return store.listApiKeys();
    },

    /** Revokes a key; revoking a revoked key changes nothing. */
    async revokeKey(id: string): Promise<ApiKey | Failure> {
      return (await store.revokeApiKey(id, clock.now())) ?? failure("API_KEY_NOT_FOUND", `no API key has id "${id}"`, "id");
    },

    /**
     * Who a key that verified moments ago is, known by the key itself (a map
     * lookup, not a SHA-256); undefined when the key must be verified again
     * (or never verified): then call authenticate.
     */
    recall,

    /**
     * Who a presented key is; undefined when it is no valid key. A key
     * verified within the trust window is not looked up again, unless
     * `fresh` asks for the store's word now (an open stream re-checking its
     * key); a key found revoked is forgotten, so unary calls are refused too.
     */
    async authenticate(key: string, fresh = false): Promise<Principal | undefined> {
      const recalled = recall(key);
      if (recalled !== undefined && (!fresh || recentlyVerified.get(key)!.until === Number.POSITIVE_INFINITY)) return recalled;
      const now = clock.now();

      const hash = hashApiKey(key);
      let match: Principal | undefined;
      for (const candidate of configured) if (sameKeyHash(hash, candidate.hash)) match = candidate.principal;
      if (match !== undefined) return remember(key, match, Number.POSITIVE_INFINITY);

      const id = apiKeyId(key);
      if (id === undefined) return undefined;
      const stored = await store.findApiKey(id);
      if (stored === undefined || stored.revokeTime !== null || !sameKeyHash(hash, stored.secretHash)) {
        recentlyVerified.delete(key);
        return undefined;
      }
      return remember(key, { keyId: stored.id, tenant: stored.tenant, role: stored.role }, now + trustVerifiedMs);
    },
  };
}
