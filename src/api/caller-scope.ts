import { createContextKey } from "@connectrpc/connect";
import { DEFAULT_SCOPE, type Scope } from "../domain/store.js";

/**
 * The caller's scope (tenant) for the current call. Handlers read it from the
 * call's context values; an authenticating interceptor sets it. Until API keys
 * exist every caller is in the default scope.
 */
export const callerScope = createContextKey<Scope>(DEFAULT_SCOPE, { description: "the caller's tenant" });
