// What both entry points of the package (node.ts, browser.ts) export besides their own createBillingClient.
export type {
  BillingClient,
  BillingClientOptions,
  BillingProtocol,
  CreateAlertInput,
  GrantCreditInput,
  RetryEvent,
  SetUsageLimitInput,
  UsageEventInput,
} from "./billing-client.js";
export { BillingError } from "./billing-error.js";
export { DEFAULT_RETRY_OPTIONS, type RetryOptions } from "./retry-policy.js";
export type { UsageProducer, UsageProducerOptions } from "./usage-producer.js";
export type { WatchOptions } from "./resumable-watch.js";
