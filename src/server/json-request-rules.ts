import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { failureToConnectError } from "../api/failure-status.js";
import type { FailureReason, FieldViolation } from "../domain/failure.js";

/**
 * Rules for Connect JSON requests that protobuf-es's JSON reader does not
 * keep, checked on the request's JSON text before that reader sees it:
 *
 * - a key the message does not define is refused (UNKNOWN_FIELD) unless the
 *   server allows unknown fields: `{"evntTime": ...}` would otherwise be
 *   ignored and the event billed at receipt time;
 * - a google.protobuf.Timestamp must name an instant that exists: protobuf-es
 *   hands the text to Date.parse, which rolls "2026-11-31T00:00:00Z", Feb 30
 *   and hour 24 over into the next day (INVALID_FIELD).
 *
 * Both are refused with the field's path ("requests[2].event_time",
 * "evntTime") in a BadRequest violation. connect-node offers no hook between
 * the bytes and the message but the JSON options' textDecoder, so the check
 * is a decoder, one per method (it must know the request's message): every
 * JSON request passes through it (unary POST, Connect GET's message
 * parameter, each message of a stream), and binary requests never do.
 */

/** Most violations listed in one refusal; past it, checking stops. */
const MAX_VIOLATIONS = 20;

/** Deepest message nesting checked; the billing messages nest 3 deep, and protobuf-es refuses past 100. */
const MAX_DEPTH = 32;

/** The JSON options' textDecoder for `input` requests: strict UTF-8 (RFC 8259), then the rules above. */
export function jsonRequestDecoder(input: DescMessage, options: { allowUnknownFields: boolean }): { decode(data?: Uint8Array): string } {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  return {
    decode(data?: Uint8Array): string {
      const text = utf8.decode(data);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return text; // protobuf-es refuses what does not parse, with its own message
      }
      const violations: (FieldViolation & { reason: FailureReason })[] = [];
      checkMessage(input, json, "", violations, options.allowUnknownFields, 0);
      if (violations.length === 0) return text;
      const first = violations[0]!;
      throw failureToConnectError({
        reason: first.reason,
        message: `invalid ${first.field}: ${first.description}${violations.length > 1 ? ` (and ${violations.length - 1} more)` : ""}`,
        fieldViolations: violations.map(({ field, description }) => ({ field, description })),
      });
    },
  };
}

type Violations = (FieldViolation & { reason: FailureReason })[];

function checkMessage(desc: DescMessage, json: unknown, path: string, violations: Violations, allowUnknown: boolean, depth: number): void {
  if (!isObject(json) || depth > MAX_DEPTH) return; // anything but an object is protobuf-es's to refuse
  const fields = fieldsByJsonKey(desc);
  for (const key in json) {
    if (violations.length >= MAX_VIOLATIONS) return;
    const field = fields.get(key);
    if (field === undefined) {
      if (!allowUnknown) {
        violations.push({ field: join(path, key), description: `${desc.typeName} has no field "${key}"`, reason: "UNKNOWN_FIELD" });
      }
      continue;
    }
    const value = json[key];
    const fieldPath = join(path, field.name);
    if (field.fieldKind === "message") {
      checkValue(field.message, value, fieldPath, violations, allowUnknown, depth);
    } else if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
      for (let index = 0; index < value.length && violations.length < MAX_VIOLATIONS; index++) {
        checkValue(field.message, value[index], `${fieldPath}[${index}]`, violations, allowUnknown, depth);
      }
    } else if (field.fieldKind === "map" && field.mapKind === "message" && isObject(value)) {
      for (const mapKey in value) checkValue(field.message, value[mapKey], `${fieldPath}["${mapKey}"]`, violations, allowUnknown, depth);
    }
  }
}

function checkValue(desc: DescMessage, value: unknown, path: string, violations: Violations, allowUnknown: boolean, depth: number): void {
  if (desc.typeName === "google.protobuf.Timestamp") {
    if (typeof value === "string" && !isExistingInstant(value)) {
      violations.push({ field: path, description: `"${value.slice(0, 64)}" is not a date and time that exists (RFC 3339)`, reason: "INVALID_FIELD" });
    }
    return;
  }
  // Other well-known types have JSON forms of their own (Any, Struct, Duration, wrappers): protobuf-es's to read.
  if (desc.typeName.startsWith("google.protobuf.")) return;
  checkMessage(desc, value, path, violations, allowUnknown, depth + 1);
}

/** RFC 3339 as protobuf's JSON writes a Timestamp; another shape is left to protobuf-es to refuse. */
const RFC_3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Whether an RFC 3339 text names a real calendar day and a time of day (no hour 24, no Feb 30, no leap second). */
function isExistingInstant(text: string): boolean {
  const match = RFC_3339.exec(text);
  if (match === null) return true;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (hour > 23 || minute > 59 || second > 59) return false;
  if (match[7] !== undefined && (Number(match[7]) > 23 || Number(match[8]) > 59)) return false;
  return true;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const FIELDS_BY_JSON_KEY = new WeakMap<DescMessage, Map<string, DescField>>();

/** A message's fields by the keys protobuf's JSON accepts for them: the JSON name and the proto name. */
function fieldsByJsonKey(desc: DescMessage): Map<string, DescField> {
  let fields = FIELDS_BY_JSON_KEY.get(desc);
  if (fields === undefined) {
    fields = new Map();
    for (const field of desc.fields) fields.set(field.jsonName, field).set(field.name, field);
    FIELDS_BY_JSON_KEY.set(desc, fields);
  }
  return fields;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function join(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}
