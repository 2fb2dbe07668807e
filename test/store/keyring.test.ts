import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Store } from "../../src/domain/store.js";
import { valueOrThrow } from "../../src/domain/failure.js";
import { createKeyring } from "../../src/domain/keyring.js";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { scratchDirectory } from "../support/tally-process.js";

// The keyring remembers keys that verified, so most calls cost a map lookup;
// what it remembers must never outlive a revocation by more than the trust
// window, nor let a different secret through.
describe("the keyring's memory of verified keys", () => {
  const scratch = scratchDirectory();
  let store: Store;
  let now = Date.UTC(2026, 10, 21, 12, 0, 0);
  const clock = { now: () => now };

  before(() => {
    store = openSqliteStore({ path: join(scratch.path, "keys.db") });
  });
  after(async () => {
    await store.close();
    scratch.cleanup();
  });

  it("trusts a verified stored key for the trust window after its revocation, and refuses it after", async () => {
    const keyring = createKeyring({ store, clock, trustVerifiedMs: 5_000 });
    const { key, apiKey } = valueOrThrow(await keyring.createKey({ role: "ingest", tenant: "acme" }));
    assert.deepEqual(await keyring.authenticate(key), { keyId: apiKey.id, tenant: "acme", role: "ingest" });
    await keyring.revokeKey(apiKey.id);
    now += 4_999;
    assert.equal((await keyring.authenticate(key))?.keyId, apiKey.id);
    now += 2;
    assert.equal(await keyring.authenticate(key), undefined);
    now += 60_000;
    assert.equal(await keyring.authenticate(key), undefined);
  });

  it("never lets another secret with a remembered key's id through", async () => {
    const keyring = createKeyring({ store, clock });
    const { key } = valueOrThrow(await keyring.createKey({ role: "admin" }));
    assert.ok(await keyring.authenticate(key));
    const forged = key.slice(0, -4) + (key.endsWith("AAAA") ? "BBBB" : "AAAA");
    assert.equal(await keyring.authenticate(forged), undefined);
    assert.ok(await keyring.authenticate(key));
  });

  it("keeps a configured key for good, and refuses what is not a key", async () => {
    const keyring = createKeyring({ store, clock, configuredKeys: [{ key: "configured-secret", role: "admin", name: "bootstrap" }] });
    assert.equal((await keyring.authenticate("configured-secret"))?.role, "admin");
    now += 365 * 24 * 3600 * 1000;
    assert.equal((await keyring.authenticate("configured-secret"))?.role, "admin");
    assert.equal(await keyring.authenticate("configured-secreT"), undefined);
    assert.equal(await keyring.authenticate(""), undefined);
  });
});
