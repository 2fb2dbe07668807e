import { type GetCallerResponse, Role } from "../../gen/ts/billing/v1/access_service_pb.js";

/**
 * What the signed-in key may do, from GetCaller's answer. The dashboard
 * offers an action only where the key's role permits it (the server's
 * access policy, src/api/access-policy.ts, decides; this only mirrors it, so
 * a key is never shown a button whose call would be PERMISSION_DENIED).
 */
export interface CallerAccess {
  keyId: string;
  tenant: string;
  /** "ingest", "read" or "admin". */
  role: string;
  /** Customers, meters, prices, usage and bills: read and admin keys. */
  canRead: boolean;
  /** RecordUsage: ingest and admin keys. */
  canRecord: boolean;
  /** VoidUsage, CreateMeter, CreatePrice: admin keys. */
  canAdminister: boolean;
}

const ROLE_NAMES: Record<Role, string> = {
  [Role.UNSPECIFIED]: "unknown",
  [Role.INGEST]: "ingest",
  [Role.READ]: "read",
  [Role.ADMIN]: "admin",
};

export function callerAccess(caller: GetCallerResponse): CallerAccess {
  return {
    keyId: caller.keyId,
    tenant: caller.tenant,
    role: ROLE_NAMES[caller.role] ?? "unknown",
    canRead: caller.role === Role.READ || caller.role === Role.ADMIN,
    canRecord: caller.role === Role.INGEST || caller.role === Role.ADMIN,
    canAdminister: caller.role === Role.ADMIN,
  };
}
