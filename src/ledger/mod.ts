export { LossLedger, type LossLedgerOptions, type LossReason, type RefusalReason } from "./loss_ledger.ts";
