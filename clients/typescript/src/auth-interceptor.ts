import type { Interceptor } from "@connectrpc/connect";

/** `authorization: Bearer <apiKey>` on every call, when there is a key. */
export function authInterceptors(apiKey: string | undefined): Interceptor[] {
  if (apiKey === undefined || apiKey === "") return [];
  return [
    (next) => (request) => {
      request.header.set("authorization", `Bearer ${apiKey}`);
      return next(request);
    },
  ];
}
