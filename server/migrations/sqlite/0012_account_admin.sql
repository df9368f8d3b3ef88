-- Accounts administered from the dashboard (docs/PROTOCOL.md §5.7): an admin disables an
-- account instead of deleting it, so the ledger's entries that name it keep naming a row. A
-- disabled account (`disabled_at_ms` set) cannot sign in and none of its sessions is honoured;
-- they are deleted in the transaction that disables it.
ALTER TABLE accounts ADD COLUMN disabled_at_ms BIGINT;

-- Sessions are ended per account (disable, password reset).
CREATE INDEX sessions_by_username ON sessions (username);
