import type { Interceptor } from "@connectrpc/connect";
import { accessFor } from "../api/access-policy.js";
import { callerPrincipal, callerScope } from "../api/caller-scope.js";
import { failureToConnectError } from "../api/failure-status.js";
import { roleGrants } from "../domain/api-key.js";
import type { Keyring } from "../domain/keyring.js";

/** How calls are authenticated. */
export interface AuthenticationOptions {
  keyring: Keyring;
  /** Serve reflection without a key. Default false. */
  publicReflection?: boolean;
}

/**
 * Every call but health needs `authorization: Bearer <key>`: without a valid
 * key it is UNAUTHENTICATED, with a key whose role lacks the method's
 * permission PERMISSION_DENIED. The key's tenant becomes the call's scope, so
 * a caller cannot name another tenant.
 */
export function createAuthentication({ keyring, publicReflection = false }: AuthenticationOptions): Interceptor {
  return (next) => async (request) => {
    const access = accessFor(request.method);
    if (access === "public" || (access === "any-key" && publicReflection)) return next(request);
    const key = bearerToken(request.header.get("authorization"));
    if (key === undefined) {
      throw failureToConnectError({
        reason: "API_KEY_MISSING",
        message: 'this call needs an API key: send the header "authorization: Bearer <key>"',
        fieldViolations: [],
      });
    }
    const principal = await keyring.authenticate(key);
    if (principal === undefined) {
      throw failureToConnectError({ reason: "API_KEY_INVALID", message: "the API key is not valid (unknown or revoked)", fieldViolations: [] });
    }
    if (access !== "any-key" && !roleGrants(principal.role, access)) {
      throw failureToConnectError({
        reason: "ROLE_NOT_PERMITTED",
        message: `${request.method.name} needs a key with the ${access} role (or admin); this key has the ${principal.role} role`,
        fieldViolations: [],
      });
    }
    request.contextValues.set(callerScope, principal.tenant);
    request.contextValues.set(callerPrincipal, principal);
    return next(request);
  };
}

/** The credential of an `authorization: Bearer <credential>` header; undefined for anything else. */
export function bearerToken(header: string | null): string | undefined {
  if (header === null) return undefined;
  return /^Bearer +([^\s]+) *$/i.exec(header)?.[1];
}
