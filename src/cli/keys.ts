import { existsSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { databaseOption, databaseUrlFallback, maxApiKeysPerTenantOption } from "../config.js";
import { ROLES, type Role, TENANT_PATTERN } from "../domain/api-key.js";
import { systemClock } from "../domain/clock.js";
import { isFailure } from "../domain/failure.js";
import { createKeyring, type Keyring, TRUST_VERIFIED_MS } from "../domain/keyring.js";
import { DEFAULT_TENANT_QUOTAS, type TenantQuotas } from "../domain/quotas.js";
import { DEFAULT_SCOPE } from "../domain/store.js";
import { isPostgresUrl, openStore, withoutPassword } from "../main.js";
import { databaseStartupError, StartupError } from "../startup-error.js";

/** `tally keys create|list|revoke`: API keys, straight in the database (a running server sees a new key at once). */
export function registerKeysCommand(program: Command): void {
  const keys = program.command("keys").description("create, list and revoke API keys");
  const dbOption = () => databaseOption("the database of the server (also TALLY_DATABASE_URL)");
  keys.hook("preAction", databaseUrlFallback);

  keys
    .command("create")
    .description("create a key and print it (its last line is the key alone; it is never shown again)")
    .addOption(dbOption())
    .addOption(new Option("--role <role>", "what the key may do").choices(ROLES).makeOptionMandatory())
    .addOption(new Option("--tenant <tenant>", "the tenant the key acts in").default(DEFAULT_SCOPE).argParser(tenant))
    .option("--name <name>", "a label for people", "")
    .addOption(maxApiKeysPerTenantOption())
    .option("--create", "create the SQLite database if it does not exist yet (else a --db that does not exist is refused: a typo would make a new, empty database)", false)
    .action(async (options: { db: string; role: Role; tenant: string; name: string; maxApiKeysPerTenant: number; create: boolean }) => {
      const created = await withKeyring(
        options.db,
        (keyring) => keyring.createKey({ role: options.role, tenant: options.tenant, name: options.name }),
        { ...DEFAULT_TENANT_QUOTAS, apiKeys: options.maxApiKeysPerTenant },
        options.create,
      );
      if (isFailure(created)) {
        process.stderr.write(`${created.message}\n`);
        process.exitCode = 1;
        return;
      }
      const { key, apiKey } = created;
      process.stdout.write(
        `Created API key ${apiKey.id}: role ${apiKey.role}, tenant ${apiKey.tenant}${apiKey.name === "" ? "" : `, name "${apiKey.name}"`}.\n` +
          `Send it as "authorization: Bearer <key>". It is shown only this once:\n${key}\n`,
      );
    });

  keys
    .command("list")
    .description("list every key (never the keys themselves)")
    .addOption(dbOption())
    .action(async (options: { db: string }) => {
      const all = await withKeyring(options.db, (keyring) => keyring.listKeys());
      const rows = [["ID", "ROLE", "TENANT", "CREATED", "REVOKED", "NAME"]];
      for (const key of all) {
        rows.push([
          key.id,
          key.role,
          key.tenant,
          new Date(key.createTime).toISOString(),
          key.revokeTime === null ? "-" : new Date(key.revokeTime).toISOString(),
          key.name,
        ]);
      }
      const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
      for (const row of rows) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()}\n`);
    });

  keys
    .command("revoke")
    .description(`revoke a key by its id; a running server refuses it within ${TRUST_VERIFIED_MS / 1000} seconds`)
    .argument("<id>", "the key's id, as `tally keys list` shows it")
    .addOption(dbOption())
    .action(async (id: string, options: { db: string }) => {
      const revoked = await withKeyring(options.db, (keyring) => keyring.revokeKey(id));
      if (isFailure(revoked)) {
        process.stderr.write(`${revoked.message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`Revoked API key ${revoked.id} (role ${revoked.role}, tenant ${revoked.tenant}).\n`);
    });
}

/**
 * Opens the database, hands `use` a keyring on it, and closes it again. A
 * SQLite file that does not exist is refused unless `create`: keys go into
 * the database a server uses, never into a new one a typo made.
 */
async function withKeyring<T>(db: string, use: (keyring: Keyring) => Promise<T>, quotas?: TenantQuotas, create = false): Promise<T> {
  if (!create && !isPostgresUrl(db) && !existsSync(db)) {
    throw new StartupError(`no database at "${db}"; check --db (TALLY_DB or TALLY_DATABASE_URL), or pass --create to make a new one`);
  }
  let store;
  try {
    store = await openStore(db, { quotas });
  } catch (error) {
    throw databaseStartupError(withoutPassword(db), error);
  }
  try {
    return await use(createKeyring({ store, clock: systemClock }));
  } finally {
    await store.close();
  }
}

function tenant(text: string): string {
  if (!TENANT_PATTERN.test(text)) throw new InvalidArgumentError(`"${text}" is not a tenant: 1 to 64 letters, digits, ".", "_" or "-"`);
  return text;
}
