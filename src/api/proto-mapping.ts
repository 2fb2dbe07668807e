import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Bill as BillMessage,
  type BillLine as BillLineMessage,
  BillStatus,
  type CreditGrant as CreditGrantMessage,
  CreditGrantSchema,
} from "../../gen/ts/billing/v1/billing_service_pb.js";
import {
  Aggregation as AggregationEnum,
  type Meter as MeterMessage,
  MeterSchema,
  type Price as PriceMessage,
  PriceSchema,
  PriceTierSchema,
  PricingModel as PricingModelEnum,
} from "../../gen/ts/billing/v1/catalog_service_pb.js";
import { type Customer as CustomerMessage, CustomerSchema } from "../../gen/ts/billing/v1/customer_service_pb.js";
import {
  type UsageLimit as UsageLimitMessage,
  UsageLimitSchema,
  type UsageRecord as UsageRecordMessage,
} from "../../gen/ts/billing/v1/usage_service_pb.js";
import type { Bill, BillLine } from "../domain/bill.js";
import type { CreditGrant } from "../domain/credits.js";
import type { Customer } from "../domain/customer.js";
import { mapInSlices } from "../domain/event-loop-slices.js";
import { type Aggregation, MAX_METER_PRECISION, type Meter } from "../domain/meter.js";
import { roundToMinorUnit } from "../domain/money.js";
import type { Price, PricingModel } from "../domain/price.js";
import type { UsageLimitSetting } from "../domain/usage-limits.js";
import type { UsageRecord } from "../domain/usage-record.js";

/** Domain values to proto messages. Decimals travel as strings, times as Timestamps. */

export function customerMessage(customer: Customer): CustomerMessage {
  return create(CustomerSchema, {
    id: customer.id,
    externalId: customer.externalId,
    displayName: customer.displayName,
    currencyCode: customer.currencyCode,
    createTime: timestampFromMs(customer.createTime),
  });
}

const AGGREGATIONS: Record<Aggregation, AggregationEnum> = {
  sum: AggregationEnum.SUM,
  count: AggregationEnum.COUNT,
  max: AggregationEnum.MAX,
  unique_count: AggregationEnum.UNIQUE_COUNT,
  latest: AggregationEnum.LATEST,
};

/** The domain aggregation of a proto enum value; undefined for UNSPECIFIED or unknown numbers. */
export function aggregationOf(value: AggregationEnum): Aggregation | undefined {
  return (Object.keys(AGGREGATIONS) as Aggregation[]).find((name) => AGGREGATIONS[name] === value);
}

export function meterMessage(meter: Meter): MeterMessage {
  return create(MeterSchema, {
    key: meter.key,
    displayName: meter.displayName,
    unit: meter.unit,
    aggregation: AGGREGATIONS[meter.aggregation],
    precision: meter.precision,
    wholeUnits: meter.precision === 0,
    createTime: timestampFromMs(meter.createTime),
    uniqueAttribute: meter.uniqueAttribute,
    dimensions: meter.dimensions,
  });
}

/**
 * The digits after the point a new meter allows, from what the API was sent:
 * whole_units means none; precision 0 or unset (proto3 cannot tell them
 * apart) means the most, 9; else precision. Stored as that one number, so a
 * meter stored with precision 0 before whole_units existed is a whole-units
 * meter with no migration, and meterMessage reports it with whole_units.
 */
export function storedPrecision(precision: number, wholeUnits: boolean): number {
  if (wholeUnits) return 0;
  return precision === 0 ? MAX_METER_PRECISION : precision;
}

const PRICING_MODELS: Record<PricingModel, PricingModelEnum> = {
  graduated: PricingModelEnum.GRADUATED,
  volume: PricingModelEnum.VOLUME,
  package: PricingModelEnum.PACKAGE,
};

/** The domain pricing model of a proto enum value (UNSPECIFIED is graduated); undefined for unknown numbers. */
export function pricingModelOf(value: PricingModelEnum): PricingModel | undefined {
  if (value === PricingModelEnum.UNSPECIFIED) return "graduated";
  return (Object.keys(PRICING_MODELS) as PricingModel[]).find((name) => PRICING_MODELS[name] === value);
}

export function priceMessage(price: Price): PriceMessage {
  return create(PriceSchema, {
    id: price.id,
    meterKey: price.meterKey,
    currencyCode: price.currencyCode,
    tiers: price.tiers.map((tier) =>
      create(PriceTierSchema, {
        upTo: tier.upTo?.toString() ?? "",
        unitAmount: tier.unitAmount.toString(),
        flatAmount: tier.flatAmount?.toString() ?? "",
      }),
    ),
    effectivePeriod: price.effectivePeriod,
    version: price.version,
    createTime: timestampFromMs(price.createTime),
    model: PRICING_MODELS[price.model],
    packageSize: price.packageSize?.toString() ?? "",
    dimensionValues: price.dimensionValues,
    customerId: price.customerId,
  });
}

/**
 * A usage record as a message. Built as a typed literal rather than through
 * create(): the reflective create of a record and its timestamps cost ~4 µs,
 * a few percent of a unary RecordUsage, and the generated type still checks
 * every field (a test compares it with create()'s message).
 */
export function usageRecordMessage(record: UsageRecord): UsageRecordMessage {
  return {
    $typeName: "billing.v1.UsageRecord",
    id: record.id,
    requestId: record.requestId,
    customerId: record.customerId,
    meterKey: record.meterKey,
    quantity: record.quantity.toString(),
    eventTime: timestampMessage(record.eventTime),
    createTime: timestampMessage(record.createTime),
    period: record.period,
    voided: record.voided,
    attributes: record.attributes,
    voidReason: record.voidReason,
    voidTime: record.voidTime === null ? undefined : timestampMessage(record.voidTime),
  };
}

/** USAGE_RECORD_VIEW_BASIC: a record's id, request id and period, every other field unset. */
export function basicUsageRecordMessage(record: UsageRecord): UsageRecordMessage {
  return {
    $typeName: "billing.v1.UsageRecord",
    id: record.id,
    requestId: record.requestId,
    customerId: "",
    meterKey: "",
    quantity: "",
    eventTime: undefined,
    createTime: undefined,
    period: record.period,
    voided: false,
    attributes: {},
    voidReason: "",
    voidTime: undefined,
  };
}

/** What timestampFromMs makes (whole seconds down, the rest as nanos), without create(). */
function timestampMessage(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** A bill as a message: a typed literal, as usageRecordMessage is (a test compares it with create()'s message). */
export async function billMessage(bill: Bill): Promise<BillMessage> {
  // A thousand 32-tier lines take tens of ms to map: in slices, as the bill was priced.
  const lines = await mapInSlices(bill.lines, billLineMessage);
  return {
    $typeName: "billing.v1.Bill",
    customerId: bill.customerId,
    period: bill.period,
    status: bill.status === "finalized" ? BillStatus.FINALIZED : BillStatus.DRAFT,
    currencyCode: bill.currencyCode,
    lines,
    total: bill.total,
    asOfTime: timestampMessage(bill.asOfTime),
    startTime: timestampMessage(bill.startTime),
    endTime: timestampMessage(bill.endTime),
    finalizeTime: timestampMessage(bill.finalizeTime),
    creditsApplied: bill.creditsApplied,
    amountDue: bill.amountDue,
    revision: bill.revision,
  };
}

function billLineMessage(line: BillLine): BillLineMessage {
  return {
    $typeName: "billing.v1.BillLine",
    meterKey: line.meterKey,
    quantity: line.quantity.toString(),
    amount: line.amount,
    priceVersion: line.priceVersion,
    tiers: line.tiers.map((tier) => ({
      $typeName: "billing.v1.BillLineTier",
      upTo: tier.upTo?.toString() ?? "",
      quantity: tier.quantity.toString(),
      unitAmount: tier.unitAmount.toString(),
      amount: tier.amount.toString(),
      flatAmount: tier.flatAmount?.toString() ?? "",
      packages: tier.packages?.toString() ?? "",
    })),
    displayName: line.displayName,
    unit: line.unit,
    priceId: line.priceId,
    dimensions: line.dimensions,
  };
}

/** A usage limit as stored; a removed one has limit "". */
export function usageLimitMessage(setting: UsageLimitSetting): UsageLimitMessage {
  return create(UsageLimitSchema, {
    customerId: setting.customerId,
    meterKey: setting.meterKey,
    limit: setting.limit?.toString() ?? "",
    updateTime: timestampFromMs(setting.updateTime),
  });
}

export function creditGrantMessage(grant: CreditGrant): CreditGrantMessage {
  return create(CreditGrantSchema, {
    id: grant.id,
    customerId: grant.customerId,
    amount: roundToMinorUnit(grant.amount, grant.currencyCode),
    currencyCode: grant.currencyCode,
    expireTime: grant.expireTime === null ? undefined : timestampFromMs(grant.expireTime),
    reason: grant.reason,
    remainingAmount: roundToMinorUnit(grant.remainingAmount, grant.currencyCode),
    createTime: timestampFromMs(grant.createTime),
  });
}
