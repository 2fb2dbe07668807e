import type { ServiceImpl } from "@connectrpc/connect";
import { AccessService, Role as RoleEnum } from "../../gen/ts/billing/v1/access_service_pb.js";
import type { Role } from "../domain/api-key.js";
import { callerPrincipal } from "./caller-scope.js";
import { failureToConnectError } from "./failure-status.js";

const ROLES: Record<Role, RoleEnum> = { ingest: RoleEnum.INGEST, read: RoleEnum.READ, admin: RoleEnum.ADMIN };

/** billing.v1.AccessService: what the call's own key is, read from the call's context (the key was verified already). */
export function createAccessHandler(): ServiceImpl<typeof AccessService> {
  return {
    getCaller(_request, context) {
      const principal = context.values.get(callerPrincipal);
      // The access policy makes every call here carry a verified key; a call without one is a wiring fault.
      if (principal === undefined) throw failureToConnectError({ reason: "API_KEY_MISSING", message: "GetCaller describes the call's API key, and this call has none", fieldViolations: [] });
      return { keyId: principal.keyId, tenant: principal.tenant, role: ROLES[principal.role] };
    },
  };
}
