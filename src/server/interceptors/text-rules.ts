import type { Interceptor } from "@connectrpc/connect";
import { failure } from "../../domain/failure.js";
import { failureToConnectError } from "../../api/failure-status.js";
import { fieldPath } from "../../api/request-validation.js";

/**
 * No text field of any request may hold the NUL character (U+0000): it is
 * almost always a caller's bug (a C string's terminator), and PostgreSQL's
 * TEXT cannot store it, so refusing it here keeps both stores alike. Checked
 * once for every message, unary or streamed, before any handler runs.
 */
export function createTextRules(): Interceptor {
  // Not an async function: a unary call passes through without a promise of its own.
  return (next) => (request) => {
    if (!request.stream) {
      try {
        refuseNul(request.message);
      } catch (error) {
        return Promise.reject(error);
      }
      return next(request);
    }
    const messages = request.message;
    return next({
      ...request,
      message: (async function* () {
        for await (const message of messages) {
          refuseNul(message);
          yield message;
        }
      })(),
    });
  };
}

function refuseNul(message: unknown): void {
  if (!holdsNul(message)) return;
  const field = fieldPath("", nulPath(message, []) ?? []);
  // A status already: this runs outside the error boundary.
  throw failureToConnectError(failure("INVALID_FIELD", `${field}: must not contain the NUL character (U+0000)`, field));
}

/** Whether any string (or map key) in a decoded message holds U+0000; allocation-free for the common case. */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsNul(item)) return true;
    return false;
  }
  for (const key in value) {
    if (key.includes("\u0000") || holdsNul((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** Where the first U+0000 is, as a path of field names (oneofs by their case) and indexes. */
function nulPath(value: unknown, path: (string | number)[]): (string | number)[] | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = nulPath(value[index], [...path, index]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const oneofCase = typeof record.case === "string" && "value" in record ? record.case : undefined;
  for (const key in record) {
    if (key === "$typeName" || (oneofCase !== undefined && key === "case")) continue;
    const name = oneofCase !== undefined && key === "value" ? oneofCase : key;
    if (key.includes("\u0000")) return [...path, name];
    const found = nulPath(record[key], [...path, name]);
    if (found !== undefined) return found;
  }
  return undefined;
}
