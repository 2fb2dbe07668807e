import type { DescMethod } from "@bufbuild/protobuf";

const names = new WeakMap<DescMethod, string>();

/**
 * A method's full name, "billing.v1.UsageService/RecordUsage", as the access
 * policy, the metrics and the call log know it; made once per method rather
 * than joined again on every call.
 */
export function fullMethodName(method: DescMethod): string {
  let name = names.get(method);
  if (name === undefined) {
    name = `${method.parent.typeName}/${method.name}`;
    names.set(method, name);
  }
  return name;
}
