import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { type Access, accessFor } from "../../api/access-policy.js";
import { callerPrincipal, callerScope } from "../../api/caller-scope.js";
import { failureToConnectError } from "../../api/failure-status.js";
import { type Principal, roleGrants } from "../../domain/api-key.js";
import type { Keyring } from "../../domain/keyring.js";
import { createStreamEnd, untilEnded } from "./call-end.js";

/** How calls are authenticated. */
export interface AuthenticationOptions {
  keyring: Keyring;
  /** Serve reflection without a key. Default false. */
  publicReflection?: boolean;
  /** Type names of services served without a key (the conformance runner's). Default none. */
  publicServices?: string[];
  /** How often an open stream's key is verified again, in ms; a revoked key's streams end within it. Required. */
  keyRecheckIntervalMs: number;
}

/**
 * Every call but health needs `authorization: Bearer <key>`: without a valid
 * key it is UNAUTHENTICATED, with a key whose role lacks the method's
 * permission PERMISSION_DENIED. The key's tenant becomes the call's scope, so
 * a caller cannot name another tenant. A stream's key is verified again
 * every keyRecheckIntervalMs against the store, and the stream ends
 * UNAUTHENTICATED once the key is revoked.
 */
export function createAuthentication({ keyring, publicReflection = false, publicServices = [], keyRecheckIntervalMs }: AuthenticationOptions): Interceptor {
  const publicServiceNames = new Set(publicServices);
  // Not an async function: a call with a key verified moments ago (the
  // keyring recalls it) passes through without a promise of its own.
  return (next) => (request) => {
    const access = accessFor(request.method);
    if (access === "public" || (publicReflection && isReflection(request.service.typeName)) || publicServiceNames.has(request.service.typeName)) return next(request);
    const key = bearerToken(request.header.get("authorization"));
    if (key === undefined) {
      return Promise.reject(
        failureToConnectError({
          reason: "API_KEY_MISSING",
          message: 'this call needs an API key: send the header "authorization: Bearer <key>"',
          fieldViolations: [],
        }),
      );
    }
    if (request.stream) return keyring.authenticate(key).then((principal) => admitStream(request, key, principal, access, next));
    const recalled = keyring.recall(key);
    if (recalled !== undefined) return admit(request, recalled, access, next);
    return keyring.authenticate(key).then((principal) => admit(request, principal, access, next));
  };

  /** A stream runs as the key's principal while the store still knows the key: it ends UNAUTHENTICATED once the key is revoked. */
  function admitStream(
    request: StreamRequest,
    key: string,
    principal: Principal | undefined,
    access: Exclude<Access, "public">,
    next: (request: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>,
  ): Promise<StreamResponse> {
    const { ended, end } = createStreamEnd();
    const recheck = setInterval(() => {
      keyring.authenticate(key, true).then(
        (still) => {
          if (still === undefined) end(failureToConnectError({ reason: "API_KEY_INVALID", message: "the API key was revoked while the stream was open", fieldViolations: [] }));
        },
        () => undefined, // the store could not say: the key stays trusted until the next check
      );
    }, keyRecheckIntervalMs);
    const finish = () => clearInterval(recheck);
    return admit(request, principal, access, next).then(
      (response) => ({ ...response, message: untilEnded((response as StreamResponse).message, ended, finish) }) as StreamResponse,
      (error: unknown) => {
        finish();
        return Promise.reject(error);
      },
    );
  }
}

/** Whether a service is gRPC reflection (v1 or v1alpha), which --public-reflection serves without a key. */
function isReflection(serviceTypeName: string): boolean {
  return serviceTypeName.startsWith("grpc.reflection.");
}

/** Runs the call as the key's principal, if there is one and its role may call the method. */
function admit<T>(request: UnaryRequest | StreamRequest, principal: Principal | undefined, access: Exclude<Access, "public">, next: (request: UnaryRequest | StreamRequest) => Promise<T>): Promise<T> {
  if (principal === undefined) {
    return Promise.reject(failureToConnectError({ reason: "API_KEY_INVALID", message: "the API key is not valid (unknown or revoked)", fieldViolations: [] }));
  }
  if (access !== "any-key" && !roleGrants(principal.role, access)) {
    return Promise.reject(
      failureToConnectError({
        reason: "ROLE_NOT_PERMITTED",
        message: `${request.method.name} needs a key with the ${access} role (or admin); this key has the ${principal.role} role`,
        fieldViolations: [],
      }),
    );
  }
  request.contextValues.set(callerScope, principal.tenant);
  request.contextValues.set(callerPrincipal, principal);
  return next(request);
}

/** The credential of an `authorization: Bearer <credential>` header (scheme in any case); undefined for anything else. */
export function bearerToken(header: string | null): string | undefined {
  // Read by hand rather than by a regular expression, whose match array cost
  // more than the rest of a call's authentication.
  if (header === null || header.length < 8) return undefined;
  for (let at = 0; at < BEARER.length; at++) {
    if ((header.charCodeAt(at) | 0x20) !== BEARER.charCodeAt(at)) return undefined;
  }
  let start = BEARER.length;
  if (header.charCodeAt(start) !== SPACE) return undefined;
  while (header.charCodeAt(start) === SPACE) start++;
  let end = header.length;
  while (end > start && header.charCodeAt(end - 1) === SPACE) end--;
  if (end === start) return undefined;
  const token = start === 0 && end === header.length ? header : header.slice(start, end);
  return WHITESPACE.test(token) ? undefined : token;
}

const BEARER = "bearer";
const SPACE = 0x20;
const WHITESPACE = /\s/;
