import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "../domain/api-key.js";
import { DEFAULT_SCOPE, type Scope } from "../domain/store.js";

/**
 * The caller's scope (tenant) for the current call. Handlers read it from the
 * call's context values; the authentication interceptor sets it from the
 * caller's API key, never from the request.
 */
export const callerScope = createContextKey<Scope>(DEFAULT_SCOPE, { description: "the caller's tenant" });

/** The verified key of the current call; undefined for public calls. */
export const callerPrincipal = createContextKey<Principal | undefined>(undefined, { description: "the caller's API key" });
