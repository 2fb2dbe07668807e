import { z } from "zod";
import { UsageRecordView } from "../../gen/ts/billing/v1/usage_service_pb.js";
import { Decimal } from "../domain/decimal.js";
import { ATTRIBUTE_KEY_PATTERN, MAX_METER_DIMENSIONS, MAX_METER_PRECISION } from "../domain/meter.js";
import { MAX_TOTAL_INTEGER_DIGITS } from "../domain/usage-record.js";
import { aggregationOf, pricingModelOf, storedPrecision } from "./proto-mapping.js";
import {
  attributes,
  billingPeriod,
  currencyCode,
  customerReference,
  optionalPriceDecimal,
  priceDecimal,
  meterKey,
  pageSize,
  precision,
  requestId,
  timestamp,
} from "./request-validation.js";

/**
 * The rules of every billing.v1 request message, one schema per message, each
 * declared here and nowhere else: a handler checks its request with
 * `validate(schema, request)` and reads the parsed result. Field rules shared
 * between messages are in request-validation.ts; rules that need stored data
 * (a meter's precision, time rules, uniqueness) belong to the domain. Two
 * rules apply to every message and live in the interceptor chain instead:
 * no NUL characters in any text (text-rules.ts) and the most requests a batch
 * or stream message may carry, the server's --max-batch-size (call-limits.ts).
 * Schemas are built once: zod compiles each one on its first use.
 */

// billing.v1.CustomerService

export const createCustomerRequest = z.object({
  requestId,
  customer: z.object(
    {
      externalId: z.string().max(128, "at most 128 characters"),
      displayName: z.string().min(1, "is required").max(256, "at most 256 characters"),
      currencyCode,
    },
    { error: "is required" },
  ),
});

export const getCustomerRequest = z.object({ id: customerReference });

export const listCustomersRequest = z.object({
  pageSize: pageSize(50, 1000),
  pageToken: z.string(),
  query: z.string().max(128, "at most 128 characters"),
});

// billing.v1.CatalogService

/** An attribute key a meter names (a dimension, its unique attribute) or a price's dimension_values key. */
const attributeKey = z
  .string()
  .regex(ATTRIBUTE_KEY_PATTERN, "must be an attribute key: a letter, then at most 63 letters, digits, '_', '-' or '.'");

export const createMeterRequest = z.object({
  requestId,
  meter: z.object(
    {
      key: meterKey,
      displayName: z.string().min(1, "is required").max(256, "at most 256 characters"),
      unit: z.string().min(1, "is required").max(64, "at most 64 characters"),
      aggregation: z.number().transform((value, context) => {
        const aggregation = aggregationOf(value);
        if (aggregation === undefined) {
          context.addIssue({
            code: "custom",
            message: "must be AGGREGATION_SUM, AGGREGATION_COUNT, AGGREGATION_MAX, AGGREGATION_UNIQUE_COUNT or AGGREGATION_LATEST",
          });
          return z.NEVER;
        }
        return aggregation;
      }),
      precision,
      wholeUnits: z.boolean(),
      uniqueAttribute: z.union([z.literal(""), attributeKey]),
      dimensions: z
        .array(attributeKey)
        .max(MAX_METER_DIMENSIONS, `at most ${MAX_METER_DIMENSIONS} dimensions`)
        .refine((keys) => new Set(keys).size === keys.length, "names a dimension twice"),
    },
    { error: "is required" },
  )
    .superRefine((meter, context) => {
      if (meter.wholeUnits && meter.precision > 0) {
        context.addIssue({ code: "custom", path: ["precision"], message: "must be 0 or unset when whole_units is true: whole units allow no digits after the point" });
      }
      if (meter.aggregation === "unique_count" && meter.uniqueAttribute === "") {
        context.addIssue({ code: "custom", path: ["uniqueAttribute"], message: "is required with AGGREGATION_UNIQUE_COUNT: the attribute whose distinct values are counted" });
      }
      if (meter.aggregation !== "unique_count" && meter.uniqueAttribute !== "") {
        context.addIssue({ code: "custom", path: ["uniqueAttribute"], message: "is only for AGGREGATION_UNIQUE_COUNT" });
      }
    })
    .transform(({ precision, wholeUnits, ...meter }) => ({ ...meter, precision: storedPrecision(precision, wholeUnits) })),
});

const priceTier = z.object({
  upTo: optionalPriceDecimal("up_to"),
  unitAmount: priceDecimal("unit_amount"),
  flatAmount: optionalPriceDecimal("flat_amount"),
});

export const createPriceRequest = z.object({
  requestId,
  price: z.object(
    {
      meterKey,
      currencyCode,
      model: z.number().transform((value, context) => {
        const model = pricingModelOf(value);
        if (model === undefined) {
          context.addIssue({ code: "custom", message: "must be PRICING_MODEL_GRADUATED, PRICING_MODEL_VOLUME or PRICING_MODEL_PACKAGE" });
          return z.NEVER;
        }
        return model;
      }),
      tiers: z.array(priceTier),
      packageSize: optionalPriceDecimal("package_size"),
      effectivePeriod: z.union([z.literal(""), billingPeriod]),
      dimensionValues: z
        .record(attributeKey, z.string().max(256, "dimension values are at most 256 characters"))
        .refine((map) => Object.keys(map).length <= MAX_METER_DIMENSIONS, `at most ${MAX_METER_DIMENSIONS} dimension values`),
      customerId: z.union([z.literal(""), customerReference]),
    },
    { error: "is required" },
  ),
});

export const getMeterRequest = z.object({ key: meterKey });

export const listMetersRequest = z.object({ pageSize: pageSize(50, 1000), pageToken: z.string() });

export const listPricesRequest = listMetersRequest.extend({ meterKey: z.union([z.literal(""), meterKey]) });

// billing.v1.UsageService

/** A batch's record view; unset (or a number this server does not know) is refused, UNSPECIFIED means FULL. */
const recordView = z
  .enum(UsageRecordView)
  .transform((view) => (view === UsageRecordView.UNSPECIFIED ? UsageRecordView.FULL : view));

/** A RecordUsageRequest: the call's own, and each item of a batch or stream message (checked one by one, so each fails alone). */
export const recordUsageRequest = z.object({
  requestId,
  customerId: customerReference,
  meterKey: z.string().min(1, "is required").max(63, "at most 63 characters"),
  quantity: z.string().max(64, "at most 64 characters"),
  eventTime: timestamp.optional(),
  attributes,
  correction: z.boolean().optional(),
});

/** The batch itself; its items are RecordUsageRequests (recordUsageRequest). */
export const batchRecordUsageRequest = z.object({
  requests: z
    .array(z.unknown())
    .min(1, "needs at least one request"),
  atomic: z.boolean(),
  view: recordView,
});

/** One message of a stream; its items are RecordUsageRequests (recordUsageRequest). */
export const streamUsageRequest = z.object({
  requests: z
    .array(z.unknown())
    .min(1, "needs at least one request"),
  sequence: z.bigint(),
  view: recordView,
});

export const getUsageRecordRequest = z.object({ id: z.string().min(1, "is required").max(128, "at most 128 characters") });

export const getDailyUsageRequest = z.object({ customerId: customerReference, period: z.union([z.literal(""), billingPeriod]), attributes });

export const listUsageRecordsRequest = z.object({
  customerId: customerReference,
  meterKey: z.string().max(63, "at most 63 characters"),
  startTime: timestamp.optional(),
  endTime: timestamp.optional(),
  pageSize: pageSize(50, 1000),
  pageToken: z.string(),
  attributes,
});

export const voidUsageRequest = z.object({
  requestId,
  reason: z.string().min(1, "a reason is required").max(512, "at most 512 characters"),
  correction: z.boolean(),
});

/**
 * A usage limit: "" removes it; else a non-negative decimal within what a
 * running total may reach (MAX_TOTAL_INTEGER_DIGITS before the point) and a
 * meter's finest precision (MAX_METER_PRECISION after it), checked on the text.
 */
const USAGE_LIMIT = new RegExp(`^\\d{1,${MAX_TOTAL_INTEGER_DIGITS}}(?:\\.\\d{1,${MAX_METER_PRECISION}})?$`);
const usageLimit = z
  .string()
  .refine(
    (text) => text === "" || USAGE_LIMIT.test(text),
    `must be a non-negative decimal string such as "100" or "2.5", with at most ${MAX_TOTAL_INTEGER_DIGITS} digits before the point and ${MAX_METER_PRECISION} after, or "" to remove the limit`,
  )
  .transform((text) => (text === "" ? null : Decimal.parse(text)!));

export const setUsageLimitRequest = z.object({
  requestId,
  limit: z.object({ customerId: customerReference, meterKey, limit: usageLimit }, { error: "is required" }),
});

export const getUsageAllowanceRequest = z.object({ customerId: customerReference, meterKey });

// billing.v1.BillingService

export const getCurrentBillRequest = z.object({ customerId: customerReference });

export const getBillRequest = z.object({
  customerId: customerReference,
  period: billingPeriod,
  revision: z.number().int().min(0, "must be 0 (the latest) or a revision number"),
});

export const listBillsRequest = z.object({ customerId: customerReference, pageSize: pageSize(12, 120), pageToken: z.string() });

// The usage feed and alerts (issue 19)

/** An after_cursor: opaque, so only its length is checked here (feed-cursor.ts decodes it). */
const afterCursor = z.string().max(256, "at most 256 characters");

export const watchUsageRequest = z.object({ afterCursor, customerId: z.union([z.literal(""), customerReference]) });

export const watchAlertsRequest = z.object({ afterCursor });

export const createAlertRequest = z.object({
  requestId,
  alert: z.object(
    {
      customerId: customerReference,
      meterKey: z.union([z.literal(""), meterKey]),
      // Every watched value starts at 0, so a threshold of 0 would never be reached.
      threshold: priceDecimal("threshold").refine((threshold) => !threshold.isZero(), "must be greater than 0"),
    },
    { error: "is required" },
  ),
});

/** A credit amount: greater than 0, at most 18 digits before the point and 9 after (the currency's minor unit is the domain's rule). */
const creditAmount = z
  .string()
  .regex(/^\d{1,18}(?:\.\d{1,9})?$/, 'must be a decimal string greater than 0 such as "25.00"')
  .transform((text) => Decimal.parse(text)!)
  .refine((amount) => !amount.isZero(), "must be greater than 0");

export const grantCreditRequest = z.object({
  requestId,
  grant: z.object(
    {
      customerId: customerReference,
      amount: creditAmount,
      currencyCode: z.union([z.literal(""), currencyCode]),
      expireTime: timestamp.optional(),
      reason: z.string().max(512, "at most 512 characters"),
    },
    { error: "is required" },
  ),
});

export const listCreditGrantsRequest = z.object({ customerId: customerReference, pageSize: pageSize(50, 1000), pageToken: z.string() });
