-- Each stored event paid for two indexes that only the server's own authority events use.
-- `events_by_signer` (signer, seq) served no query: every lookup by signer also names the site.
-- `events_by_site_signer` finds the head of the authority's chain; tablets' events, which are
-- all but a few of the rows, have a tablet and are left out of it. Ingest writes one index
-- fewer per event, and one entry fewer in the other (BENCHMARKS.md, ingest).
DROP INDEX events_by_signer;
DROP INDEX events_by_site_signer;
CREATE INDEX events_authority_chain ON events (site_id, signer, seq) WHERE tablet_id IS NULL;
