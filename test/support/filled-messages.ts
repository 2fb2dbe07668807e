import { create, type DescField, type DescMessage, isFieldSet, type MessageShape, ScalarType } from "@bufbuild/protobuf";

/**
 * Messages of any schema with every field set to a value that is not its
 * default, found by walking the descriptors, so a field added to the
 * contract is filled without anyone touching the test: scalars at their
 * edges (negative int32s, the int64 extremes, non-ASCII and astral text),
 * enums at their last value, nested messages (timestamps included), two
 * elements in every repeated field and two entries in every map. A oneof
 * can hold one member at a time: `variant` picks which, so running the
 * variants 0 to `oneofVariants(desc) - 1` sets every member once.
 */
export function filledMessage<Desc extends DescMessage>(desc: Desc, variant = 0): MessageShape<Desc> {
  return create(desc, initOf(desc, variant, 0) as never);
}

/** How many variants set every member of every oneof in `desc` (and the messages it holds) at least once. */
export function oneofVariants(desc: DescMessage, seen = new Set<string>()): number {
  if (seen.has(desc.typeName)) return 1;
  seen.add(desc.typeName);
  let most = 1;
  for (const oneof of desc.oneofs) most = Math.max(most, oneof.fields.length);
  for (const field of desc.fields) {
    const nested = field.fieldKind === "message" ? field.message : field.fieldKind === "list" || field.fieldKind === "map" ? messageOf(field) : undefined;
    if (nested !== undefined) most = Math.max(most, oneofVariants(nested, seen));
  }
  return most;
}

/** The fields of `message` (and of the messages it holds) that are not set: empty when it is filled. */
export function unsetFields(desc: DescMessage, message: MessageShape<DescMessage>, path = desc.typeName): string[] {
  const unset: string[] = [];
  for (const field of desc.fields) {
    if (!isFieldSet(message, field)) {
      if (field.oneof === undefined || field.oneof.fields.every((member) => !isFieldSet(message, member))) unset.push(`${path}.${field.name}`);
      continue;
    }
    if (field.fieldKind === "message" && field.oneof === undefined) {
      const value = (message as unknown as Record<string, MessageShape<DescMessage>>)[field.localName]!;
      unset.push(...unsetFields(field.message, value, `${path}.${field.name}`));
    }
  }
  return unset;
}

const MAX_DEPTH = 6;

function initOf(desc: DescMessage, variant: number, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > MAX_DEPTH) return init;
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const field = member.fields[variant % member.fields.length]!;
      init[member.localName] = { case: field.localName, value: valueOf(field, variant, depth) };
    } else {
      init[member.localName] = valueOf(member, variant, depth);
    }
  }
  return init;
}

function valueOf(field: DescField, variant: number, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, variant);
    case "enum":
      return field.enum.values[field.enum.values.length - 1]!.number;
    case "message":
      return initOf(field.message, variant, depth + 1);
    case "list":
      if (field.listKind === "scalar") return [scalarValue(field.scalar, variant), scalarValue(field.scalar, variant + 1)];
      if (field.listKind === "enum") return [field.enum.values[field.enum.values.length - 1]!.number, field.enum.values[1 % field.enum.values.length]!.number];
      return [initOf(field.message, variant, depth + 1), initOf(field.message, variant + 1, depth + 1)];
    case "map": {
      const value = (offset: number) =>
        field.mapKind === "scalar"
          ? scalarValue(field.scalar, variant + offset)
          : field.mapKind === "enum"
            ? field.enum.values[field.enum.values.length - 1]!.number
            : initOf(field.message, variant + offset, depth + 1);
      return { [String(mapKey(field.mapKey, 0))]: value(0), [String(mapKey(field.mapKey, 1))]: value(1) };
    }
  }
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  if (field.fieldKind === "map" && field.mapKind === "message") return field.message;
  return undefined;
}

const TEXTS = ["naïve €, 😀 and \u2028", "plain ascii", "ÿ\u0080 latin-1 edges"];

function scalarValue(type: ScalarType, variant: number): unknown {
  const pick = <T>(values: T[]): T => values[variant % values.length]!;
  switch (type) {
    case ScalarType.STRING:
      return pick(TEXTS);
    case ScalarType.BYTES:
      return pick([new Uint8Array([0, 255, 128, 1]), new Uint8Array([7])]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.INT32:
    case ScalarType.SFIXED32:
    case ScalarType.SINT32:
      return pick([-1, 2147483647, -2147483648]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick([4294967295, 1]);
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return pick([-9223372036854775808n, 9223372036854775807n, -1n, 1_767_225_600n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick([18446744073709551615n, 1n]);
    case ScalarType.DOUBLE:
      return pick([-1.5e300, 0.1]);
    case ScalarType.FLOAT:
      return pick([3.5, -0.25]);
  }
}

function mapKey(type: ScalarType, index: number): string | number | bigint | boolean {
  if (type === ScalarType.STRING) return ["région", "k"][index]!;
  if (type === ScalarType.BOOL) return index === 0;
  return scalarValue(type, index) as number | bigint;
}
