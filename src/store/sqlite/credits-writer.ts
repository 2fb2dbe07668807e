import type Database from "better-sqlite3";
import { allocateCredits, amountsDue } from "../../domain/credits.js";
import { Decimal } from "../../domain/decimal.js";
import { type Row, toCreditGrant } from "../store-rows.js";
import type { CorrectionReply, CreateReply, CreditsWriteOp, RevisionMessage, UsageEventReply, VoidReply, WriteOp } from "./write-messages.js";

/** Thrown to roll back a correction's savepoint when its usage write did not record: carries that write's reply. */
class NoRevision extends Error {
  constructor(readonly reply: CorrectionReply) {
    super("the correction recorded nothing");
  }
}

/** The usage writes a correction is made of, as the writer runs them (totals through the group's overlay). */
export interface UsageWrites {
  recordUsage(op: Extract<WriteOp, { kind: "usage" }>): UsageEventReply[];
  voidUsage(op: Extract<WriteOp, { kind: "void" }>): VoidReply;
}

/**
 * The writer thread's writes of credits and bill revisions (issue 19). The
 * writer is the only connection that writes and runs one write at a time, so
 * what a write reads cannot change before it writes: revision 1 is stored
 * once, credits are consumed once, and a correction writes only while no
 * revision of its period is pending.
 */
export function createCreditsWriter(db: Database.Database, usage: UsageWrites) {
  const prepare = (sql: string) => db.prepare(sql);
  const statements = {
    grantByRequestId: prepare(`SELECT * FROM credit_grants WHERE tenant_id = ? AND request_id = ?`),
    insertGrant: prepare(
      `INSERT INTO credit_grants (tenant_id, id, customer_id, amount, currency_code, expire_time, reason, remaining_amount, create_time, request_id)
       VALUES (@tenant, @id, @customerId, @amount, @currencyCode, @expireTime, @reason, @amount, @createTime, @requestId)`,
    ),
    usableGrants: prepare(`SELECT * FROM credit_grants WHERE tenant_id = ? AND customer_id = ? AND remaining_amount <> '0'`),
    consume: prepare(`UPDATE credit_grants SET remaining_amount = ? WHERE tenant_id = ? AND id = ?`),
    insertUse: prepare(`INSERT INTO credit_uses (tenant_id, grant_id, customer_id, period, amount) VALUES (?, ?, ?, ?, ?)`),
    revision: prepare(`SELECT * FROM bill_revisions WHERE tenant_id = ? AND customer_id = ? AND period = ? AND revision = ?`),
    latestRevision: prepare(
      `SELECT coalesce(max(revision), 0) AS revision, max(CASE WHEN bill IS NULL THEN revision END) AS pending
       FROM bill_revisions WHERE tenant_id = ? AND customer_id = ? AND period = ?`,
    ),
    insertRevision: prepare(
      `INSERT INTO bill_revisions (tenant_id, customer_id, period, revision, total, credits_applied, amount_due, bill, create_time)
       VALUES (@tenant, @customerId, @period, @revision, @total, @creditsApplied, @amountDue, @document, @createTime)`,
    ),
    insertPendingRevision: prepare(
      `INSERT INTO bill_revisions (tenant_id, customer_id, period, revision, create_time) VALUES (?, ?, ?, ?, ?)`,
    ),
    writeRevision: prepare(
      `UPDATE bill_revisions SET total = @total, credits_applied = @creditsApplied, amount_due = @amountDue, bill = @document, create_time = @createTime
       WHERE tenant_id = @tenant AND customer_id = @customerId AND period = @period AND revision = @revision AND bill IS NULL`,
    ),
  };

  /** Inserts a revision and answers its row. */
  function insertRevision(scope: string, revision: RevisionMessage): Row {
    statements.insertRevision.run({ tenant: scope, ...revision });
    return statements.revision.get(scope, revision.customerId, revision.period, revision.revision) as Row;
  }

  function finalizeBill(op: Extract<CreditsWriteOp, { kind: "finalize-bill" }>): Row {
    const { scope, revision } = op;
    const existing = statements.revision.get(scope, revision.customerId, revision.period, 1) as Row | undefined;
    if (existing !== undefined) return existing;
    const grants = (statements.usableGrants.all(scope, revision.customerId) as Row[]).map(toCreditGrant);
    const { applied, uses } = allocateCredits(Decimal.parse(revision.total)!, grants, revision.period);
    for (const use of uses) {
      const grant = grants.find((candidate) => candidate.id === use.grantId)!;
      statements.consume.run(grant.remainingAmount.sub(use.amount).toString(), scope, grant.id);
      statements.insertUse.run(scope, grant.id, revision.customerId, revision.period, use.amount.toString());
    }
    return insertRevision(scope, { ...revision, revision: 1, ...amountsDue(revision.total, applied, op.currencyCode) });
  }

  /**
   * The pending revision goes in first, then the usage write, in a savepoint
   * of their own: a write that does not record (a replay, a refusal, a record
   * already voided) rolls the revision back. (The usage write changes the
   * group's running totals only when it records, so nothing of the group's
   * totals needs undoing.)
   */
  const correctInSavepoint = db.transaction((op: Extract<CreditsWriteOp, { kind: "correction" }>, revision: number): CorrectionReply => {
    statements.insertPendingRevision.run(op.scope, op.customerId, op.period, revision, op.createTime);
    if (op.event !== undefined) {
      const [reply] = usage.recordUsage({ kind: "usage", scope: op.scope, atomic: false, events: [op.event] });
      if (reply !== null) throw new NoRevision({ kind: "event", reply: reply!, revision: 0 });
      return { kind: "event", reply, revision };
    }
    const reply = usage.voidUsage({ kind: "void", scope: op.scope, ...op.void! });
    if (reply.kind !== "voided") throw new NoRevision({ kind: "void", reply, revision: 0 });
    return { kind: "void", reply, revision };
  });

  function correct(op: Extract<CreditsWriteOp, { kind: "correction" }>): CorrectionReply {
    const latest = statements.latestRevision.get(op.scope, op.customerId, op.period) as { revision: number; pending: number | null };
    if (latest.revision === 0) throw new Error(`a correction of ${op.period} before its revision 1 was stored`);
    if (latest.pending !== null) return { kind: "pending", revision: latest.pending };
    try {
      return correctInSavepoint(op, latest.revision + 1);
    } catch (error) {
      if (error instanceof NoRevision) return error.reply;
      throw error;
    }
  }

  return {
    write(op: CreditsWriteOp): CreateReply | Row | CorrectionReply | null {
      switch (op.kind) {
        case "credit-grant": {
          const existing = statements.grantByRequestId.get(op.scope, op.requestId) as Row | undefined;
          if (existing !== undefined) return { kind: "exists", row: existing };
          statements.insertGrant.run({ tenant: op.scope, requestId: op.requestId, ...op.grant });
          return { kind: "created" };
        }
        case "finalize-bill":
          return finalizeBill(op);
        case "correction":
          return correct(op);
        case "write-revision":
          statements.writeRevision.run({ tenant: op.scope, ...op.revision });
          return null;
      }
    },
  };
}
