/**
 * A price series' highest version effective in a period, through the unique
 * index (tenant_id, meter_key, currency_code, dimension_key, customer_id,
 * version), newest first. Bills (the readers' connection) and bill-total
 * alerts (the writer's, in the write) read prices through it alike.
 * Parameters: tenant, meter key, currency, dimension key, customer id, period.
 */
export const EFFECTIVE_PRICE_SQL = `SELECT * FROM prices
  WHERE tenant_id = ? AND meter_key = ? AND currency_code = ? AND dimension_key = ? AND customer_id = ? AND effective_period <= ?
  ORDER BY version DESC LIMIT 1`;
