import { hash, randomBytes, timingSafeEqual } from "node:crypto";
import { DEFAULT_SCOPE, type Scope } from "./store.js";

/** What a key may do: `ingest` records usage, `read` reads everything of its tenant, `admin` does everything. */
export type Role = "ingest" | "read" | "admin";
export const ROLES: readonly Role[] = ["ingest", "read", "admin"];

/** What an RPC needs from its caller's role. */
export type Permission = "ingest" | "read" | "admin";

/** Whether a role may make a call that needs `permission`. */
export function roleGrants(role: Role, permission: Permission): boolean {
  return role === "admin" || role === permission;
}

/** An API key as the operator sees it; the secret is never kept. */
export interface ApiKey {
  /** The public part of the key, e.g. "k7d3f0c2a9b1e4f56" (also inside the key itself). */
  id: string;
  /** The tenant the key's calls act in: it scopes every read and every request_id. */
  tenant: Scope;
  role: Role;
  /** A label for people, e.g. "checkout-service ingest". */
  name: string;
  /** Epoch ms. */
  createTime: number;
  /** Epoch ms; null while the key is valid. */
  revokeTime: number | null;
}

/** A key as the store keeps it: SHA-256 of the whole key, never the key. */
export interface StoredApiKey extends ApiKey {
  secretHash: Uint8Array;
}

/** Who is calling: what a verified key grants. */
export interface Principal {
  keyId: string;
  tenant: Scope;
  role: Role;
}

const KEY_PREFIX = "tally_";
const KEY_PATTERN = /^tally_(k[0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

/** A tenant name: 1–64 letters, digits, ".", "_" or "-". */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A new key: "tally_<id>_<secret>", where the secret is 256 random bits. Keys
 * are random, not chosen by people, so one SHA-256 is the right hash: a slow
 * password hash protects guessable secrets and only costs time per call here.
 */
export function newApiKey(
  fields: { tenant?: Scope; role: Role; name?: string },
  now: number,
): { key: string; stored: StoredApiKey } {
  const id = `k${randomBytes(8).toString("hex")}`;
  const key = `${KEY_PREFIX}${id}_${randomBytes(32).toString("base64url")}`;
  return {
    key,
    stored: {
      id,
      tenant: fields.tenant ?? DEFAULT_SCOPE,
      role: fields.role,
      name: fields.name ?? "",
      createTime: now,
      revokeTime: null,
      secretHash: hashApiKey(key),
    },
  };
}

/** SHA-256 of the whole key (one-shot: every call hashes its key, and a Hash object per call costs more than the hash). */
export function hashApiKey(key: string): Uint8Array {
  return hash("sha256", key, "buffer");
}

/** The id inside a key made by newApiKey; undefined for anything else. */
export function apiKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/** Whether two key hashes are equal, in time that does not depend on where they differ. */
export function sameKeyHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

