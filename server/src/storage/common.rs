//! The registry queries, written once for both backends.
//!
//! SQLite and PostgreSQL differ in their pool types, not in this SQL or in how these rows decode,
//! so a macro stamps the same `Storage` impl for each backend. What needs a backend's own dialect
//! (locking, sequences, notifications) is passed in as the macro's last argument, from that
//! backend's file.

/// Reads the ledger nodes at `positions` (a slice of `NodePosition`) of the site into `nodes`
/// (a `LedgerNodes`) through `executor`, in queries of at most `LEDGER_NODES_PER_QUERY`
/// positions: each position its own primary-key lookup, joined by UNION ALL (with the
/// positions OR-ed instead, SQLite scans every node of the site).
macro_rules! read_ledger_nodes {
    ($executor:expr, $site_id:expr, $positions:expr, $nodes:ident) => {{
        let site_id: &str = $site_id;
        for chunk in $positions.chunks(sql::LEDGER_NODES_PER_QUERY) {
            let mut builder = sqlx::QueryBuilder::<Db>::new("");
            for (position_idx, position) in chunk.iter().enumerate() {
                if position_idx > 0 {
                    builder.push(" UNION ALL ");
                }
                builder
                    .push(sql::LEDGER_NODES_LOOKUP)
                    .push_bind(site_id)
                    .push(" AND level = ")
                    .push_bind(position.level as i32)
                    .push(" AND node_index = ")
                    .push_bind(position.index as i64);
            }
            let rows: Vec<(i32, i64, String)> =
                builder.build_query_as().fetch_all($executor).await?;
            for (level, node_index, hash) in rows {
                if let Ok(hash) = LedgerHash::from_hex(&hash) {
                    $nodes.0.insert((level as u32, node_index as u64), hash);
                }
            }
        }
    }};
}

/// Appends `entries` (a slice of `&LedgerEntry`) to the site's ledger inside the open
/// transaction `tx`, which already holds the site's append lock, and evaluates to the first new
/// leaf index. Only the right edge of the tree is read (one row per set bit of the size); each
/// append writes its leaf and the perfect-subtree nodes it completes. With `canonical =`, the
/// entries are given as their canonical bytes (a `Vec<Vec<u8>>`), already written.
macro_rules! ledger_append {
    ($tx:ident, $site_id:expr, canonical = $canonical:expr, $now_ms:expr) => {{
        let site_id: &str = $site_id;
        let canonical: Vec<Vec<u8>> = $canonical;
        let (size,): (i64,) = sqlx::query_as(sql::LEDGER_SIZE)
            .bind(site_id)
            .fetch_one(&mut *$tx)
            .await?;
        // The right edge, one node per set bit of the size (at most 64, within one query's
        // `LEDGER_NODES_PER_QUERY`), read in one statement rather than one each.
        let mut frontier_nodes = LedgerNodes::default();
        let positions = baton_core::ledger::nodes_for_root(size as u64);
        read_ledger_nodes!(&mut *$tx, site_id, &positions, frontier_nodes);
        let mut frontier =
            baton_core::ledger::MerkleFrontier::from_store(&frontier_nodes, size as u64).map_err(
                |missing| StorageError::Ledger {
                    site_id: site_id.to_owned(),
                    reason: missing.to_string(),
                },
            )?;
        // Hash every leaf and collect the nodes they complete first, then write them in a few
        // multi-row statements.
        let mut completed = Vec::new();
        let mut leaves: Vec<(i64, String, String)> = Vec::with_capacity(canonical.len());
        let mut nodes: Vec<(i32, i64, String)> = Vec::new();
        for (offset, bytes) in canonical.into_iter().enumerate() {
            let leaf = baton_core::ledger::leaf_hash(&bytes);
            leaves.push((
                size + offset as i64,
                String::from_utf8(bytes).expect("canonical JSON is UTF-8"),
                leaf.to_hex(),
            ));
            completed.clear();
            frontier.append(leaf, &mut completed);
            nodes.extend(
                completed
                    .iter()
                    .map(|node| (node.level as i32, node.index as i64, node.hash.to_hex())),
            );
        }
        let appended_at_ms: i64 = $now_ms;
        for chunk in leaves.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_LEDGER_ENTRIES_HEAD);
            builder.push_values(chunk, |mut row, (leaf_index, json, hash)| {
                row.push_bind(site_id)
                    .push_bind(*leaf_index)
                    .push_bind(json.as_str())
                    .push_bind(hash.as_str())
                    .push_bind(appended_at_ms);
            });
            builder.build().execute(&mut *$tx).await?;
        }
        for chunk in nodes.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_LEDGER_NODES_HEAD);
            builder.push_values(chunk, |mut row, (level, index, hash)| {
                row.push_bind(site_id)
                    .push_bind(*level)
                    .push_bind(*index)
                    .push_bind(hash.as_str());
            });
            builder.build().execute(&mut *$tx).await?;
        }
        size
    }};
    ($tx:ident, $site_id:expr, $entries:expr, $now_ms:expr) => {{
        let site_id: &str = $site_id;
        let mut canonical: Vec<Vec<u8>> = Vec::with_capacity($entries.len());
        for entry in $entries.iter() {
            let entry: &LedgerEntry = entry;
            canonical.push(
                entry
                    .canonical_bytes()
                    .map_err(|error| StorageError::Ledger {
                        site_id: site_id.to_owned(),
                        reason: error.to_string(),
                    })?,
            );
        }
        ledger_append!($tx, site_id, canonical = canonical, $now_ms)
    }};
}

pub(super) use ledger_append;

/// Stores `events` (a slice of `NewEvent`) with their ledger leaves and `revocations` with one
/// delivery per connector, inside the open transaction `tx`, which already holds the site's
/// append lock; evaluates to where each event landed. Shared by tablet pushes and the
/// authority's own events, so both take exactly the same path.
macro_rules! append_locked {
    ($tx:ident, $site_id:expr, $events:expr, $revocations:expr, $connectors:expr) => {{
        let site_id: &str = $site_id;
        let events: &[NewEvent] = $events;
        let revocations: &[NewRevocation] = $revocations;
        let connectors: &[String] = $connectors;
        let mut appended = Vec::with_capacity(events.len());
        let mut new_entries = Vec::new();
        // One multi-row INSERT per chunk; RETURNING names the rows that were new.
        let mut inserted: std::collections::HashMap<String, i64> =
            std::collections::HashMap::with_capacity(events.len());
        for chunk in events.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_EVENTS_HEAD);
            builder.push_values(chunk, |mut row, event| {
                row.push_bind(site_id)
                    .push_bind(event.event_id.as_str())
                    .push_bind(event.signer.as_str())
                    .push_bind(event.seq)
                    .push_bind(event.tablet_id.as_deref())
                    .push_bind(event.event_json.as_str())
                    .push_bind(event.received_at_ms);
            });
            builder.push(sql::INSERT_EVENTS_TAIL);
            let rows: Vec<(String, i64)> = builder.build_query_as().fetch_all(&mut *$tx).await?;
            inserted.extend(rows);
        }
        for event in events {
            let server_seq = match inserted.remove(&event.event_id) {
                Some(server_seq) => {
                    // The event's entry, framed around its stored wire form rather than
                    // written again (`LedgerEntry::event_canonical_bytes`).
                    let entry = LedgerEntry::event_canonical_bytes(
                        event.event_json.as_bytes(),
                        server_seq as u64,
                        event.received_at_ms as u64,
                    )
                    .map_err(|error| StorageError::Ledger {
                        site_id: site_id.to_owned(),
                        reason: error.to_string(),
                    })?;
                    new_entries.push((appended.len(), entry));
                    server_seq
                }
                // Already stored (a duplicate, or the same event twice in one push).
                None => {
                    let (server_seq,): (i64,) = sqlx::query_as(sql::FIND_EVENT_SEQ)
                        .bind(&event.event_id)
                        .fetch_one(&mut *$tx)
                        .await?;
                    server_seq
                }
            };
            appended.push(AppendedEvent {
                server_seq,
                leaf_index: None,
            });
        }
        if !new_entries.is_empty() {
            let (positions, entries): (Vec<usize>, Vec<Vec<u8>>) = new_entries.into_iter().unzip();
            let first_leaf =
                ledger_append!($tx, site_id, canonical = entries, events[0].received_at_ms);
            for (offset, appended_idx) in positions.into_iter().enumerate() {
                appended[appended_idx].leaf_index = Some(first_leaf + offset as i64);
            }
        }
        let now_ms = events.first().map_or(0, |event| event.received_at_ms);
        // Revocations in a few multi-row statements: the new ones (a custody is revoked once;
        // RETURNING names those not recorded before), their deliveries, and the custody-bound
        // tokens they end.
        let mut seen = std::collections::HashSet::with_capacity(revocations.len());
        let unique: Vec<&NewRevocation> = revocations
            .iter()
            .filter(|revocation| {
                seen.insert((
                    &revocation.device_id,
                    &revocation.staff_id,
                    &revocation.opened_by,
                ))
            })
            .collect();
        let mut new_revocations: Vec<(i64, String, String, String)> = Vec::new();
        for chunk in unique.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_REVOCATIONS_HEAD);
            builder.push_values(chunk, |mut row, revocation| {
                row.push_bind(site_id)
                    .push_bind(revocation.device_id.as_str())
                    .push_bind(revocation.staff_id.as_str())
                    .push_bind(revocation.opened_by.as_str())
                    .push_bind(revocation.ended_by.as_deref())
                    .push_bind(revocation.reason.as_str())
                    .push_bind(now_ms);
            });
            builder.push(sql::INSERT_REVOCATIONS_TAIL);
            let rows: Vec<(i64, String, String, String)> =
                builder.build_query_as().fetch_all(&mut *$tx).await?;
            new_revocations.extend(rows);
        }
        // The site's own connectors (admin API) are read here, under the site's lock that
        // enabling and disabling one also take: a revocation gets a delivery to exactly the
        // connectors enabled when it commits, on every server process.
        let mut connectors: Vec<&str> = connectors.iter().map(String::as_str).collect();
        let site_connectors: Vec<(String,)> = if new_revocations.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(sql::ENABLED_SITE_CONNECTOR_NAMES)
                .bind(site_id)
                .bind(true)
                .fetch_all(&mut *$tx)
                .await?
        };
        for (name,) in &site_connectors {
            if !connectors.contains(&name.as_str()) {
                connectors.push(name);
            }
        }
        let connectors = &connectors;
        let deliveries: Vec<(i64, &str, &str)> = new_revocations
            .iter()
            .flat_map(|(revocation_id, ..)| {
                std::iter::once((
                    *revocation_id,
                    crate::revocation::BUILT_IN_CONNECTOR,
                    "confirmed",
                ))
                .chain(
                    connectors
                        .iter()
                        .map(move |connector| (*revocation_id, *connector, "pending")),
                )
            })
            .collect();
        for chunk in deliveries.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_DELIVERIES_HEAD);
            builder.push_values(chunk, |mut row, (revocation_id, connector, status)| {
                row.push_bind(*revocation_id)
                    .push_bind(*connector)
                    .push_bind(*status)
                    .push_bind(0_i64)
                    .push_bind(now_ms)
                    .push_bind(now_ms);
            });
            builder.build().execute(&mut *$tx).await?;
        }
        for chunk in new_revocations.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::REVOKE_CUSTODY_TOKENS_HEAD);
            builder.push_bind(now_ms);
            builder.push(" WHERE site_id = ");
            builder.push_bind(site_id);
            builder.push(
                " AND revoked_at_ms IS NULL AND (device_id, staff_id, opened_by) IN (VALUES ",
            );
            let mut custodies = builder.separated(", ");
            for (_, device_id, staff_id, opened_by) in chunk {
                custodies.push("(");
                custodies.push_bind_unseparated(device_id.as_str());
                custodies.push_unseparated(", ");
                custodies.push_bind_unseparated(staff_id.as_str());
                custodies.push_unseparated(", ");
                custodies.push_bind_unseparated(opened_by.as_str());
                custodies.push_unseparated(")");
            }
            builder.push(")");
            builder.build().execute(&mut *$tx).await?;
        }
        appended
    }};
}

pub(super) use append_locked;

/// Remembers `nonces` (a slice of `NewNonce`) inside the open transaction `tx`, after sweeping
/// the expired ones, and evaluates to whether each was new, in order. Of two equal nonces in
/// the slice only the first is new.
macro_rules! remember_nonces {
    ($tx:ident, $nonces:expr) => {{
        let nonces: &[NewNonce] = $nonces;
        // A nonce expires a request window after its request: those that expired before the
        // earliest of these requests was made are past every window.
        if let Some(earliest_expiry) = nonces.iter().map(|nonce| nonce.expires_at_ms).min() {
            let made_at_ms = earliest_expiry - crate::http::tablet_auth::REQUEST_WINDOW_MS as i64;
            sqlx::query(sql::DELETE_EXPIRED_NONCES)
                .bind(made_at_ms)
                .execute(&mut *$tx)
                .await?;
        }
        let mut new_ones: std::collections::HashSet<(String, String)> =
            std::collections::HashSet::new();
        for chunk in nonces.chunks(sql::ROWS_PER_INSERT) {
            let mut builder = sqlx::QueryBuilder::<Db>::new(sql::INSERT_NONCES_HEAD);
            builder.push_values(chunk, |mut row, nonce| {
                row.push_bind(nonce.tablet_id.as_str())
                    .push_bind(nonce.nonce.as_str())
                    .push_bind(nonce.expires_at_ms);
            });
            builder.push(sql::INSERT_NONCES_TAIL);
            let rows: Vec<(String, String)> = builder.build_query_as().fetch_all(&mut *$tx).await?;
            new_ones.extend(rows);
        }
        nonces
            .iter()
            .map(|nonce| new_ones.remove(&(nonce.tablet_id.clone(), nonce.nonce.clone())))
            .collect::<Vec<bool>>()
    }};
}

pub(super) use remember_nonces;

pub(super) use read_ledger_nodes;

/// One row of `site_connectors`, in `sql::LIST_SITE_CONNECTORS`'s column order.
pub(super) type SiteConnectorRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    i64,
    String,
    i64,
);

pub(super) fn site_connector_from_row(row: SiteConnectorRow) -> super::SiteConnectorRecord {
    let (
        site_id,
        name,
        kind,
        config_json,
        sealed_secret,
        enabled,
        created_by,
        created_at_ms,
        updated_by,
        updated_at_ms,
    ) = row;
    super::SiteConnectorRecord {
        site_id,
        name,
        kind,
        config_json,
        sealed_secret,
        enabled,
        created_by,
        created_at_ms,
        updated_by,
        updated_at_ms,
    }
}

macro_rules! storage_impl {
    ($storage:ty, $backend:expr, begin_write = $begin_write:expr, lock_site = $lock_site:expr, claim_deliveries = $claim_deliveries:expr, devices_with_open_access = $devices_with_open_access:expr, { $($backend_specific:item)* }) => {
        impl $storage {
            /// The rows of `query` (a revocation listing by site and limit) with their
            /// deliveries.
            async fn revocations_listed_by(&self, query: &'static str, site_id: &str, limit: i64) -> Result<Vec<RevocationRecord>, StorageError> {
            let rows: Vec<(i64, String, String, String, Option<String>, String, i64)> = sqlx::query_as(query)
                .bind(site_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
            let mut revocations = Vec::with_capacity(rows.len());
            for (revocation_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms) in rows {
                let deliveries: Vec<(String, String, i32, Option<String>, i64, Option<String>)> = sqlx::query_as(sql::LIST_DELIVERIES)
                    .bind(revocation_id)
                    .fetch_all(&self.pool)
                    .await?;
                revocations.push(RevocationRecord {
                    revocation_id,
                    device_id,
                    staff_id,
                    opened_by,
                    ended_by,
                    reason,
                    created_at_ms,
                    deliveries: deliveries
                        .into_iter()
                        .map(|(connector, status, attempts, last_error, updated_at_ms, detail)| DeliveryRecord {
                            connector,
                            status,
                            attempts: i64::from(attempts),
                            last_error,
                            updated_at_ms,
                            detail,
                        })
                        .collect(),
                });
            }
            Ok(revocations)
        }
        }

        #[async_trait::async_trait]
        impl Storage for $storage {
        fn backend(&self) -> Backend {
            $backend
        }

        $($backend_specific)*

        async fn ping(&self) -> Result<(), StorageError> {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        }

        async fn is_empty(&self) -> Result<bool, StorageError> {
            let (n_sites,): (i64,) = sqlx::query_as(sql::COUNT_SITES).fetch_one(&self.pool).await?;
            Ok(n_sites == 0)
        }

        async fn import_site(&self, site: &SiteSetup) -> Result<(), StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let (n_existing,): (i64,) = sqlx::query_as(sql::SITE_EXISTS)
                .bind(&site.site_id)
                .fetch_one(&mut *tx)
                .await?;
            if n_existing > 0 {
                return Err(StorageError::SiteExists(site.site_id.clone()));
            }
            sqlx::query(sql::INSERT_SITE)
                .bind(&site.site_id)
                .bind(&site.name)
                .bind(&site.config_json)
                .execute(&mut *tx)
                .await?;
            for ward in &site.wards {
                sqlx::query(sql::INSERT_WARD)
                    .bind(&ward.ward_id)
                    .bind(&ward.site_id)
                    .bind(&ward.name)
                    .execute(&mut *tx)
                    .await?;
            }
            for member in &site.staff {
                sqlx::query(sql::INSERT_STAFF)
                    .bind(&member.staff_id)
                    .bind(&member.site_id)
                    .bind(&member.display_name)
                    .bind(&member.role)
                    .bind(&member.badge_id)
                    .bind(&member.home_ward)
                    .bind(&member.pin_verifier)
                    .bind(member.active)
                    .execute(&mut *tx)
                    .await?;
            }
            for device in &site.devices {
                sqlx::query(sql::INSERT_DEVICE)
                    .bind(&device.device_id)
                    .bind(&device.site_id)
                    .bind(&device.asset_tag)
                    .bind(&device.kind)
                    .bind(&device.model)
                    .bind(&device.home_ward)
                    .bind(device.active)
                    .execute(&mut *tx)
                    .await?;
            }
            for account in &site.accounts {
                sqlx::query(sql::INSERT_ACCOUNT)
                    .bind(&account.username)
                    .bind(&account.password_hash)
                    .bind(account.role.as_str())
                    .bind(&account.site_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn list_wards(&self, site_id: &str) -> Result<Vec<WardRecord>, StorageError> {
            let rows: Vec<(String, String, String)> = sqlx::query_as(sql::SELECT_WARDS)
                .bind(site_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(ward_id, site_id, name)| WardRecord { ward_id, site_id, name })
                .collect())
        }

        async fn list_staff(&self, site_id: &str) -> Result<Vec<StaffRecord>, StorageError> {
            let rows: Vec<(String, String, String, String, String, String, String, bool)> =
                sqlx::query_as(sql::SELECT_STAFF)
                    .bind(site_id)
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(staff_id, site_id, display_name, role, badge_id, home_ward, pin_verifier, active)| {
                        StaffRecord {
                            staff_id,
                            site_id,
                            display_name,
                            role,
                            badge_id,
                            home_ward,
                            pin_verifier,
                            active,
                        }
                    },
                )
                .collect())
        }

        async fn list_devices(&self, site_id: &str) -> Result<Vec<DeviceRecord>, StorageError> {
            let rows: Vec<(String, String, String, String, String, String, bool)> =
                sqlx::query_as(sql::SELECT_DEVICES)
                    .bind(site_id)
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(device_id, site_id, asset_tag, kind, model, home_ward, active)| DeviceRecord {
                    device_id,
                    site_id,
                    asset_tag,
                    kind,
                    model,
                    home_ward,
                    active,
                })
                .collect())
        }

        async fn find_account(&self, username: &str) -> Result<Option<AccountRecord>, StorageError> {
            let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(sql::SELECT_ACCOUNT)
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.and_then(|(username, password_hash, role, site_id)| {
                // A role this build does not know is treated as no account at all: fail closed.
                AccountRole::parse(&role).map(|role| AccountRecord {
                    username,
                    password_hash,
                    role,
                    site_id,
                })
            }))
        }

        async fn summary(&self) -> Result<Summary, StorageError> {
            let (sites, wards, staff, devices, accounts): (i64, i64, i64, i64, i64) =
                sqlx::query_as(sql::SUMMARY).fetch_one(&self.pool).await?;
            Ok(Summary { sites, wards, staff, devices, accounts })
        }

        async fn site_config(&self, site_id: &str) -> Result<Option<String>, StorageError> {
            let row: Option<(String,)> = sqlx::query_as(sql::SITE_CONFIG)
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|(config_json,)| config_json))
        }

        async fn site_registry_version(&self, site_id: &str) -> Result<Option<i64>, StorageError> {
            let row: Option<(i64,)> = sqlx::query_as(sql::SITE_REGISTRY_VERSION)
                .bind(site_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|(version,)| version))
        }

        async fn create_enrollment_code(&self, code: &EnrollmentCode) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_ENROLLMENT_CODE)
                .bind(&code.code_hash)
                .bind(&code.site_id)
                .bind(&code.ward_id)
                .bind(&code.created_by)
                .bind(code.created_at_ms)
                .bind(code.expires_at_ms)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn redeem_enrollment_code(
            &self,
            code_hash: &str,
            now_ms: i64,
            tablet: &TabletRecord,
        ) -> Result<TabletRecord, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let usable: Option<(String, String)> = sqlx::query_as(sql::FIND_USABLE_CODE)
                .bind(code_hash)
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((site_id, ward_id)) = usable else {
                return Err(StorageError::EnrollmentCodeInvalid);
            };
            let existing: Option<(String,)> = sqlx::query_as(sql::FIND_TABLET_ID_BY_KEY)
                .bind(&tablet.public_key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((tablet_id,)) = existing {
                return Err(StorageError::KeyAlreadyEnrolled(tablet_id));
            }
            sqlx::query(sql::INSERT_TABLET)
                .bind(&tablet.tablet_id)
                .bind(&site_id)
                .bind(&ward_id)
                .bind(&tablet.public_key)
                .bind(&tablet.label)
                .bind(tablet.enrolled_at_ms)
                .execute(&mut *tx)
                .await?;
            // The `used_by IS NULL` guard makes a concurrent second redemption update nothing.
            let used = sqlx::query(sql::USE_CODE)
                .bind(&tablet.tablet_id)
                .bind(now_ms)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?;
            if used.rows_affected() != 1 {
                return Err(StorageError::EnrollmentCodeInvalid);
            }
            tx.commit().await?;
            Ok(TabletRecord { site_id, ward_id, revoked_from_ms: None, last_sync_ms: None, ..tablet.clone() })
        }

        async fn find_tablet_by_key(&self, public_key: &str) -> Result<Option<TabletRecord>, StorageError> {
            let query = format!("SELECT {} FROM tablets WHERE public_key = $1", sql::TABLET_COLUMNS);
            let row: Option<TabletRow> = sqlx::query_as(&query).bind(public_key).fetch_optional(&self.pool).await?;
            Ok(row.map(tablet_from_row))
        }

        async fn list_tablets(&self, site_id: &str) -> Result<Vec<TabletRecord>, StorageError> {
            let query = format!("SELECT {} FROM tablets WHERE site_id = $1 ORDER BY tablet_id", sql::TABLET_COLUMNS);
            let rows: Vec<TabletRow> = sqlx::query_as(&query).bind(site_id).fetch_all(&self.pool).await?;
            Ok(rows.into_iter().map(tablet_from_row).collect())
        }

        async fn decommission_tablet(
            &self,
            site_id: &str,
            tablet_id: &str,
            revoked_from_ms: i64,
        ) -> Result<bool, StorageError> {
            let changed = sqlx::query(sql::DECOMMISSION_TABLET)
                .bind(revoked_from_ms)
                .bind(tablet_id)
                .bind(site_id)
                .execute(&self.writer)
                .await?;
            Ok(changed.rows_affected() == 1)
        }

        async fn record_tablet_sync(&self, tablet_id: &str, now_ms: i64) -> Result<(), StorageError> {
            sqlx::query(sql::UPDATE_TABLET_SYNC).bind(now_ms).bind(tablet_id).execute(&self.writer).await?;
            Ok(())
        }

        async fn remember_nonce(
            &self,
            tablet_id: &str,
            nonce: &str,
            expires_at_ms: i64,
            now_ms: i64,
        ) -> Result<bool, StorageError> {
            // One statement, committed on its own: every signed request writes its nonce, so
            // this holds the writer as briefly as it can. Expired nonces are swept every
            // `NONCE_SWEEP_EVERY` requests; one not yet swept only refuses its own reuse.
            if self.nonce_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % super::NONCE_SWEEP_EVERY == 0 {
                sqlx::query(sql::DELETE_EXPIRED_NONCES).bind(now_ms).execute(&self.writer).await?;
            }
            let inserted = sqlx::query(sql::INSERT_NONCE)
                .bind(tablet_id)
                .bind(nonce)
                .bind(expires_at_ms)
                .execute(&self.writer)
                .await?;
            Ok(inserted.rows_affected() == 1)
        }

        async fn append_events(
            &self,
            site_id: &str,
            events: &[NewEvent],
            revocations: &[NewRevocation],
            connectors: &[String],
            contacts: &[(String, i64)],
            nonces: &[NewNonce],
        ) -> Result<AppendedEvents, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let (site_latest_before,): (i64,) = sqlx::query_as(sql::LATEST_EVENT_SEQ)
                .bind(site_id)
                .fetch_one(&mut *tx)
                .await?;
            let appended = append_locked!(tx, site_id, events, revocations, connectors);
            for (tablet_id, now_ms) in contacts {
                sqlx::query(sql::UPDATE_TABLET_SYNC).bind(*now_ms).bind(tablet_id).execute(&mut *tx).await?;
            }
            let fresh_nonces = remember_nonces!(tx, nonces);
            tx.commit().await?;
            Ok(AppendedEvents { events: appended, site_latest_before, fresh_nonces })
        }

        async fn append_authority_event(
            &self,
            site_id: &str,
            event: &NewEvent,
            precondition: &AuthorityPrecondition,
            revocations: &[NewRevocation],
            connectors: &[String],
        ) -> Result<AppendedEvent, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            // Under the lock nobody else appends to this site: what is read here stays true
            // until the commit.
            let (latest_server_seq,): (i64,) = sqlx::query_as(sql::LATEST_EVENT_SEQ)
                .bind(site_id)
                .fetch_one(&mut *tx)
                .await?;
            let chain_head: Option<(String,)> = sqlx::query_as(sql::AUTHORITY_CHAIN_HEAD)
                .bind(site_id)
                .bind(&event.signer)
                .fetch_optional(&mut *tx)
                .await?;
            if latest_server_seq != precondition.latest_server_seq
                || chain_head.map(|(event_id,)| event_id) != precondition.chain_head
            {
                return Err(StorageError::Stale { site_id: site_id.to_owned() });
            }
            let appended = append_locked!(tx, site_id, std::slice::from_ref(event), revocations, connectors);
            tx.commit().await?;
            Ok(appended[0])
        }

        async fn add_exception_review(
            &self,
            site_id: &str,
            review: &ExceptionReviewRecord,
            entry: &LedgerEntry,
        ) -> Result<i64, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            sqlx::query(sql::INSERT_EXCEPTION_REVIEW)
                .bind(site_id)
                .bind(&review.exception_key)
                .bind(&review.device_id)
                .bind(&review.kind)
                .bind(&review.state)
                .bind(&review.by)
                .bind(review.at_ms)
                .bind(&review.note)
                .execute(&mut *tx)
                .await?;
            let leaf_index = ledger_append!(tx, site_id, &[entry], review.at_ms);
            tx.commit().await?;
            Ok(leaf_index)
        }

        async fn list_site_connectors(&self, site_id: &str) -> Result<Vec<SiteConnectorRecord>, StorageError> {
            let rows: Vec<SiteConnectorRow> = sqlx::query_as(sql::LIST_SITE_CONNECTORS)
                .bind(site_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.into_iter().map(site_connector_from_row).collect())
        }

        async fn find_site_connector(&self, site_id: &str, name: &str) -> Result<Option<SiteConnectorRecord>, StorageError> {
            let row: Option<SiteConnectorRow> = sqlx::query_as(sql::FIND_SITE_CONNECTOR)
                .bind(site_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(site_connector_from_row))
        }

        async fn create_site_connector(
            &self,
            connector: &SiteConnectorRecord,
            max_per_site: i64,
            entry: &LedgerEntry,
        ) -> Result<(), StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(&connector.site_id).execute(&mut *tx).await?;
            }
            let existing: Option<SiteConnectorRow> = sqlx::query_as(sql::FIND_SITE_CONNECTOR)
                .bind(&connector.site_id)
                .bind(&connector.name)
                .fetch_optional(&mut *tx)
                .await?;
            if existing.is_some() {
                return Err(StorageError::Conflict(format!("the connector name {:?}", connector.name)));
            }
            let (n_connectors,): (i64,) = sqlx::query_as(sql::COUNT_SITE_CONNECTORS)
                .bind(&connector.site_id)
                .fetch_one(&mut *tx)
                .await?;
            if n_connectors >= max_per_site {
                return Err(StorageError::TooManyConnectors { limit: max_per_site });
            }
            sqlx::query(sql::INSERT_SITE_CONNECTOR)
                .bind(&connector.site_id)
                .bind(&connector.name)
                .bind(&connector.kind)
                .bind(&connector.config_json)
                .bind(&connector.sealed_secret)
                .bind(connector.enabled)
                .bind(&connector.created_by)
                .bind(connector.created_at_ms)
                .bind(&connector.updated_by)
                .bind(connector.updated_at_ms)
                .execute(&mut *tx)
                .await
                .map_err(|error| super::conflict_or(error, &format!("the connector name {:?}", connector.name)))?;
            ledger_append!(tx, &connector.site_id, &[entry], connector.updated_at_ms);
            tx.commit().await?;
            Ok(())
        }

        async fn replace_site_connector(
            &self,
            connector: &SiteConnectorRecord,
            entry: &LedgerEntry,
        ) -> Result<bool, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(&connector.site_id).execute(&mut *tx).await?;
            }
            let replaced = sqlx::query(sql::REPLACE_SITE_CONNECTOR)
                .bind(&connector.kind)
                .bind(&connector.config_json)
                .bind(&connector.sealed_secret)
                .bind(&connector.updated_by)
                .bind(connector.updated_at_ms)
                .bind(&connector.site_id)
                .bind(&connector.name)
                .execute(&mut *tx)
                .await?;
            if replaced.rows_affected() == 0 {
                return Ok(false);
            }
            ledger_append!(tx, &connector.site_id, &[entry], connector.updated_at_ms);
            tx.commit().await?;
            Ok(true)
        }

        async fn set_site_connector_enabled(
            &self,
            site_id: &str,
            name: &str,
            enabled: bool,
            by: &str,
            now_ms: i64,
            mut action: serde_json::Value,
        ) -> Result<Option<ConnectorSwitched>, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let existing: Option<SiteConnectorRow> = sqlx::query_as(sql::FIND_SITE_CONNECTOR)
                .bind(site_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(existing) = existing else {
                return Ok(None);
            };
            if existing.5 == enabled {
                return Ok(Some(ConnectorSwitched { changed: false, cancelled_revocation_ids: Vec::new() }));
            }
            sqlx::query(sql::SET_SITE_CONNECTOR_ENABLED)
                .bind(enabled)
                .bind(by)
                .bind(now_ms)
                .bind(site_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let mut cancelled_revocation_ids: Vec<i64> = Vec::new();
            if !enabled {
                let rows: Vec<(i64,)> = sqlx::query_as(sql::CANCEL_CONNECTOR_DELIVERIES)
                    .bind(format!("connector disabled by {by}"))
                    .bind(now_ms)
                    .bind(name)
                    .bind(site_id)
                    .fetch_all(&mut *tx)
                    .await?;
                cancelled_revocation_ids = rows.into_iter().map(|(revocation_id,)| revocation_id).collect();
                cancelled_revocation_ids.sort_unstable();
                action["cancelled_revocation_ids"] = serde_json::json!(cancelled_revocation_ids);
            }
            let entry = crate::ledger::governance_entry(action, by, now_ms as u64);
            ledger_append!(tx, site_id, &[&entry], now_ms);
            tx.commit().await?;
            Ok(Some(ConnectorSwitched { changed: true, cancelled_revocation_ids }))
        }

        async fn list_exception_reviews(&self, site_id: &str) -> Result<Vec<ExceptionReviewRecord>, StorageError> {
            let rows: Vec<(String, String, String, String, String, i64, Option<String>)> =
                sqlx::query_as(sql::LIST_EXCEPTION_REVIEWS)
                    .bind(site_id)
                    .fetch_all(&self.pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|(exception_key, device_id, kind, state, by, at_ms, note)| ExceptionReviewRecord {
                    exception_key,
                    device_id,
                    kind,
                    state,
                    by,
                    at_ms,
                    note,
                })
                .collect())
        }

        async fn revocations_created_between(
            &self,
            site_id: &str,
            from_ms: i64,
            to_ms: i64,
        ) -> Result<Vec<RevocationRecord>, StorageError> {
            #[allow(clippy::type_complexity, reason = "one row of a join, destructured at once")]
            let rows: Vec<(
                i64,
                String,
                String,
                String,
                Option<String>,
                String,
                i64,
                Option<String>,
                Option<String>,
                Option<i32>,
                Option<String>,
                Option<i64>,
                Option<String>,
            )> = sqlx::query_as(sql::REVOCATIONS_CREATED_BETWEEN)
                .bind(site_id)
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(&self.pool)
                .await?;
            let mut revocations: Vec<RevocationRecord> = Vec::new();
            for (revocation_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms, connector, status, attempts, last_error, updated_at_ms, detail) in rows {
                if revocations.last().is_none_or(|last| last.revocation_id != revocation_id) {
                    revocations.push(RevocationRecord {
                        revocation_id,
                        device_id,
                        staff_id,
                        opened_by,
                        ended_by,
                        reason,
                        created_at_ms,
                        deliveries: Vec::new(),
                    });
                }
                if let (Some(connector), Some(status), Some(attempts), Some(updated_at_ms)) = (connector, status, attempts, updated_at_ms) {
                    revocations
                        .last_mut()
                        .expect("pushed just above")
                        .deliveries
                        .push(DeliveryRecord { connector, status, attempts: i64::from(attempts), last_error, updated_at_ms, detail });
                }
            }
            Ok(revocations)
        }

        async fn devices_with_open_access(&self, site_id: &str) -> Result<Vec<String>, StorageError> {
            let rows: Vec<(String,)> = sqlx::query_as($devices_with_open_access)
                .bind(site_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.into_iter().map(|(device_id,)| device_id).collect())
        }

        async fn list_revocations(&self, site_id: &str, limit: i64) -> Result<Vec<RevocationRecord>, StorageError> {
            self.revocations_listed_by(sql::LIST_REVOCATIONS, site_id, limit).await
        }

        async fn failed_revocations(&self, site_id: &str, limit: i64) -> Result<Vec<RevocationRecord>, StorageError> {
            self.revocations_listed_by(sql::LIST_FAILED_REVOCATIONS, site_id, limit).await
        }

        async fn claim_due_deliveries(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<DueDelivery>, StorageError> {
            let claimed: Vec<(i64, String, i32)> = sqlx::query_as($claim_deliveries)
                .bind(lease_until_ms)
                .bind(now_ms)
                .bind(limit)
                .fetch_all(&self.writer)
                .await?;
            let mut due = Vec::with_capacity(claimed.len());
            for (revocation_id, connector, attempts) in claimed {
                let (site_id, device_id, staff_id, opened_by, ended_by, reason, created_at_ms): (
                    String,
                    String,
                    String,
                    String,
                    Option<String>,
                    String,
                    i64,
                ) = sqlx::query_as(sql::DUE_DELIVERY_DETAILS).bind(revocation_id).fetch_one(&self.pool).await?;
                due.push(DueDelivery {
                    revocation_id,
                    connector,
                    attempts: i64::from(attempts),
                    site_id,
                    device_id,
                    staff_id,
                    opened_by,
                    ended_by,
                    reason,
                    created_at_ms,
                });
            }
            Ok(due)
        }

        async fn finish_delivery(
            &self,
            revocation_id: i64,
            connector: &str,
            outcome: &DeliveryOutcome,
            now_ms: i64,
        ) -> Result<bool, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let site: Option<(String,)> = sqlx::query_as(sql::REVOCATION_SITE)
                .bind(revocation_id)
                .fetch_optional(&mut *tx)
                .await?;
            let lock_site: Option<&str> = $lock_site;
            if let (Some(lock_site), Some((site_id,))) = (lock_site, &site) {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let (live_tokens,): (i64,) = sqlx::query_as(sql::COUNT_LIVE_EXTERNAL_TOKENS_OF_REVOCATION)
                .bind(revocation_id)
                .bind(connector)
                .fetch_one(&mut *tx)
                .await?;
            let reopened = matches!(outcome, DeliveryOutcome::Confirmed { .. }) && live_tokens > 0;
            let (status, next_attempt_at_ms, error, detail) = match outcome {
                DeliveryOutcome::Confirmed { .. } if reopened => (
                    "pending",
                    now_ms,
                    Some("an external token was registered while this delivery ran; revoking it too"),
                    None,
                ),
                DeliveryOutcome::Confirmed { detail } => ("confirmed", now_ms, None, detail.as_deref()),
                DeliveryOutcome::Retry { next_attempt_at_ms, error } => ("pending", *next_attempt_at_ms, Some(error.as_str()), None),
                DeliveryOutcome::Failed { error } => ("failed", now_ms, Some(error.as_str()), None),
            };
            sqlx::query(sql::FINISH_DELIVERY)
                .bind(status)
                .bind(next_attempt_at_ms)
                .bind(error)
                .bind(now_ms)
                .bind(revocation_id)
                .bind(connector)
                .bind(detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(!reopened)
        }

        async fn register_external_token(
            &self,
            token: &NewExternalToken,
            max_per_custody: i64,
        ) -> Result<ExternalTokenRegistered, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(&token.site_id).execute(&mut *tx).await?;
            }
            let revocation: Option<(i64,)> = sqlx::query_as(sql::FIND_CUSTODY_REVOCATION)
                .bind(&token.site_id)
                .bind(&token.device_id)
                .bind(&token.staff_id)
                .bind(&token.opened_by)
                .fetch_optional(&mut *tx)
                .await?;
            let revocation_id = revocation.map(|(revocation_id,)| revocation_id);
            let existing: Option<(i64,)> = sqlx::query_as(sql::FIND_EXTERNAL_TOKEN)
                .bind(&token.site_id)
                .bind(&token.connector)
                .bind(&token.token_sha256)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((token_id,)) = existing {
                return Ok(ExternalTokenRegistered { token_id, newly_stored: false, revocation_id });
            }
            let (n_tokens,): (i64,) = sqlx::query_as(sql::COUNT_CUSTODY_EXTERNAL_TOKENS)
                .bind(&token.site_id)
                .bind(&token.device_id)
                .bind(&token.staff_id)
                .bind(&token.opened_by)
                .fetch_one(&mut *tx)
                .await?;
            if n_tokens >= max_per_custody {
                return Err(StorageError::TooManyExternalTokens { limit: max_per_custody });
            }
            let (token_id,): (i64,) = sqlx::query_as(sql::INSERT_EXTERNAL_TOKEN)
                .bind(&token.site_id)
                .bind(&token.device_id)
                .bind(&token.staff_id)
                .bind(&token.opened_by)
                .bind(&token.connector)
                .bind(&token.token_type_hint)
                .bind(&token.token_sha256)
                .bind(&token.sealed)
                .bind(token.registered_at_ms)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(revocation_id) = revocation_id {
                sqlx::query(sql::ENSURE_DELIVERY)
                    .bind(revocation_id)
                    .bind(&token.connector)
                    .bind(token.registered_at_ms)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(sql::REOPEN_DELIVERY)
                    .bind(token.registered_at_ms)
                    .bind("an external token was registered after the custody ended")
                    .bind(revocation_id)
                    .bind(&token.connector)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(ExternalTokenRegistered { token_id, newly_stored: true, revocation_id })
        }

        async fn external_tokens_of(&self, revocation_id: i64, connector: &str) -> Result<Vec<ExternalTokenRow>, StorageError> {
            let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(sql::EXTERNAL_TOKENS_OF_REVOCATION)
                .bind(revocation_id)
                .bind(connector)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(token_id, token_type_hint, sealed)| ExternalTokenRow { token_id, token_type_hint, sealed })
                .collect())
        }

        async fn mark_external_token_revoked(&self, token_id: i64, now_ms: i64) -> Result<(), StorageError> {
            sqlx::query(sql::MARK_EXTERNAL_TOKEN_REVOKED)
                .bind(now_ms)
                .bind(token_id)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn insert_access_token(&self, token: &AccessTokenRecord) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_ACCESS_TOKEN)
                .bind(&token.token_hash)
                .bind(&token.site_id)
                .bind(&token.device_id)
                .bind(&token.staff_id)
                .bind(&token.opened_by)
                .bind(token.issued_at_ms)
                .bind(token.expires_at_ms)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn find_access_token(&self, token_hash: &str) -> Result<Option<AccessTokenRecord>, StorageError> {
            let row: Option<(String, String, String, String, String, i64, i64, Option<i64>)> =
                sqlx::query_as(sql::FIND_ACCESS_TOKEN).bind(token_hash).fetch_optional(&self.pool).await?;
            Ok(row.map(|(token_hash, site_id, device_id, staff_id, opened_by, issued_at_ms, expires_at_ms, revoked_at_ms)| {
                AccessTokenRecord { token_hash, site_id, device_id, staff_id, opened_by, issued_at_ms, expires_at_ms, revoked_at_ms }
            }))
        }

        async fn append_governance(&self, site_id: &str, entry: &LedgerEntry, now_ms: i64) -> Result<i64, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let leaf_index = ledger_append!(tx, site_id, &[entry], now_ms);
            tx.commit().await?;
            Ok(leaf_index)
        }

        async fn ledger_size(&self, site_id: &str) -> Result<i64, StorageError> {
            let (size,): (i64,) = sqlx::query_as(sql::LEDGER_SIZE).bind(site_id).fetch_one(&self.pool).await?;
            Ok(size)
        }

        async fn ledger_nodes(&self, site_id: &str, positions: &[NodePosition]) -> Result<LedgerNodes, StorageError> {
            // One round trip for the whole proof (O(log n) positions, a few dozen at most)
            // rather than one per node: on PostgreSQL each round trip costs more than the
            // lookup. Each position is its own primary-key lookup, joined by UNION ALL: with
            // the positions OR-ed instead, SQLite scans every node of the site.
            let mut nodes = LedgerNodes::default();
            read_ledger_nodes!(&self.pool, site_id, positions, nodes);
            Ok(nodes)
        }

        async fn ledger_entries(&self, site_id: &str, from_index: i64, limit: i64) -> Result<Vec<LedgerRow>, StorageError> {
            let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(sql::LEDGER_ENTRIES)
                .bind(site_id)
                .bind(from_index)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(leaf_index, entry_json, leaf_hash, appended_at_ms)| LedgerRow { leaf_index, entry_json, leaf_hash, appended_at_ms })
                .collect())
        }

        async fn store_tree_head(&self, site_id: &str, tree_size: i64, timestamp_ms: i64, head_json: &str) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_TREE_HEAD)
                .bind(site_id)
                .bind(tree_size)
                .bind(timestamp_ms)
                .bind(head_json)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn latest_tree_head(&self, site_id: &str) -> Result<Option<String>, StorageError> {
            let row: Option<(String,)> = sqlx::query_as(sql::LATEST_TREE_HEAD).bind(site_id).fetch_optional(&self.pool).await?;
            Ok(row.map(|(head_json,)| head_json))
        }

        async fn rotate_tablet_key(
            &self,
            rotation: &TabletKeyRotation<'_>,
            entry: &LedgerEntry,
            now_ms: i64,
        ) -> Result<i64, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(rotation.site_id).execute(&mut *tx).await?;
            }
            let enrolled: Option<(String,)> = sqlx::query_as(sql::FIND_TABLET_ID_BY_KEY)
                .bind(rotation.next_key)
                .fetch_optional(&mut *tx)
                .await?;
            let retired: Option<(String,)> = sqlx::query_as(sql::FIND_RETIRED_TABLET_KEY)
                .bind(rotation.next_key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((tablet_id,)) = enrolled.or(retired) {
                return Err(StorageError::KeyAlreadyEnrolled(tablet_id));
            }
            let changed = sqlx::query(sql::ROTATE_TABLET_KEY)
                .bind(rotation.next_key)
                .bind(rotation.tablet_id)
                .bind(rotation.site_id)
                .bind(rotation.previous_key)
                .execute(&mut *tx)
                .await?;
            if changed.rows_affected() != 1 {
                return Err(StorageError::Conflict(
                    "the tablet no longer holds this key, or it was decommissioned".to_owned(),
                ));
            }
            sqlx::query(sql::INSERT_RETIRED_TABLET_KEY)
                .bind(rotation.previous_key)
                .bind(rotation.tablet_id)
                .bind(rotation.site_id)
                .bind(rotation.last_seq)
                .bind(now_ms)
                .bind(rotation.rotation_json)
                .execute(&mut *tx)
                .await?;
            let leaf_index = ledger_append!(tx, rotation.site_id, &[entry], now_ms);
            tx.commit().await?;
            Ok(leaf_index)
        }

        async fn retired_tablet_keys(&self, site_id: &str) -> Result<Vec<RetiredTabletKey>, StorageError> {
            let rows: Vec<(String, String, i64, i64)> =
                sqlx::query_as(sql::RETIRED_TABLET_KEYS).bind(site_id).fetch_all(&self.pool).await?;
            Ok(rows
                .into_iter()
                .map(|(public_key, tablet_id, last_seq, retired_at_ms)| RetiredTabletKey {
                    public_key,
                    tablet_id,
                    last_seq,
                    retired_at_ms,
                })
                .collect())
        }

        async fn find_retired_tablet_key(&self, public_key: &str) -> Result<Option<String>, StorageError> {
            let row: Option<(String,)> =
                sqlx::query_as(sql::FIND_RETIRED_TABLET_KEY).bind(public_key).fetch_optional(&self.pool).await?;
            Ok(row.map(|(tablet_id,)| tablet_id))
        }

        async fn server_key_rotations(&self) -> Result<Vec<String>, StorageError> {
            let rows: Vec<(String,)> = sqlx::query_as(sql::SERVER_KEY_ROTATIONS).fetch_all(&self.pool).await?;
            Ok(rows.into_iter().map(|(rotation_json,)| rotation_json).collect())
        }

        async fn record_server_key_rotation(
            &self,
            position: i64,
            previous_key: &str,
            next_key: &str,
            at_ms: i64,
            rotation_json: &str,
        ) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_SERVER_KEY_ROTATION)
                .bind(position)
                .bind(previous_key)
                .bind(next_key)
                .bind(at_ms)
                .bind(rotation_json)
                .execute(&self.writer)
                .await
                .map_err(|error| super::conflict_or(error, "that place in the server key history"))?;
            Ok(())
        }

        async fn syslog_cursor(&self, site_id: &str) -> Result<i64, StorageError> {
            let row: Option<(i64,)> = sqlx::query_as(sql::SYSLOG_CURSOR).bind(site_id).fetch_optional(&self.pool).await?;
            Ok(row.map_or(0, |(next_index,)| next_index))
        }

        async fn set_syslog_cursor(&self, site_id: &str, next_index: i64) -> Result<(), StorageError> {
            sqlx::query(sql::SET_SYSLOG_CURSOR).bind(site_id).bind(next_index).execute(&self.writer).await?;
            Ok(())
        }

        async fn open_deliveries(&self) -> Result<Vec<OpenDeliveries>, StorageError> {
            let rows: Vec<(String, String, i64, i64)> =
                sqlx::query_as(sql::OPEN_DELIVERIES).fetch_all(&self.pool).await?;
            Ok(rows
                .into_iter()
                .map(|(site_id, status, count, oldest_created_at_ms)| OpenDeliveries {
                    site_id,
                    status,
                    count,
                    oldest_created_at_ms,
                })
                .collect())
        }

        async fn list_site_ids(&self) -> Result<Vec<String>, StorageError> {
            let rows: Vec<(String,)> = sqlx::query_as(sql::SITE_IDS).fetch_all(&self.pool).await?;
            Ok(rows.into_iter().map(|(site_id,)| site_id).collect())
        }

        async fn events_since(
            &self,
            site_id: &str,
            after_seq: i64,
            limit: i64,
        ) -> Result<Vec<StoredEvent>, StorageError> {
            let rows: Vec<(i64, String, Option<String>, String, i64)> = sqlx::query_as(sql::EVENTS_SINCE)
                .bind(site_id)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                .map(|(server_seq, event_id, tablet_id, event_json, received_at_ms)| StoredEvent {
                    server_seq,
                    event_id,
                    tablet_id,
                    event_json,
                    received_at_ms,
                })
                .collect())
        }

        async fn latest_event_seq(&self, site_id: &str) -> Result<i64, StorageError> {
            let (latest,): (i64,) = sqlx::query_as(sql::LATEST_EVENT_SEQ).bind(site_id).fetch_one(&self.pool).await?;
            Ok(latest)
        }

        async fn create_account(&self, account: &AccountRecord) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_ACCOUNT)
                .bind(&account.username)
                .bind(&account.password_hash)
                .bind(account.role.as_str())
                .bind(&account.site_id)
                .execute(&self.writer)
                .await
                .map_err(|error| super::conflict_or(error, &format!("the username {:?}", account.username)))?;
            Ok(())
        }

        async fn list_site_accounts(&self, site_id: &str) -> Result<Vec<AccountListing>, StorageError> {
            let rows: Vec<(String, String, Option<String>, Option<i64>)> = sqlx::query_as(sql::LIST_SITE_ACCOUNTS)
                .bind(site_id)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .into_iter()
                // A role this build does not know is left out, as `find_account` ignores it.
                .filter_map(|(username, role, site_id, disabled_at_ms)| {
                    AccountRole::parse(&role).map(|role| AccountListing { username, role, site_id, disabled_at_ms })
                })
                .collect())
        }

        async fn create_site_account(&self, account: &AccountRecord, entry: &LedgerEntry, now_ms: i64) -> Result<(), StorageError> {
            let Some(site_id) = account.site_id.as_deref() else {
                return Err(StorageError::Conflict("an account without a site has no site ledger".to_owned()));
            };
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            sqlx::query(sql::INSERT_ACCOUNT)
                .bind(&account.username)
                .bind(&account.password_hash)
                .bind(account.role.as_str())
                .bind(site_id)
                .execute(&mut *tx)
                .await
                .map_err(|error| super::conflict_or(error, &format!("the username {:?}", account.username)))?;
            ledger_append!(tx, site_id, &[entry], now_ms);
            tx.commit().await?;
            Ok(())
        }

        async fn set_account_disabled(
            &self,
            site_id: &str,
            username: &str,
            disabled: bool,
            by: &str,
            now_ms: i64,
            mut action: serde_json::Value,
        ) -> Result<Option<AccountChanged>, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let existing: Option<(Option<i64>,)> = sqlx::query_as(sql::FIND_SITE_ACCOUNT_DISABLED)
                .bind(site_id)
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((disabled_at_ms,)) = existing else {
                return Ok(None);
            };
            if disabled_at_ms.is_some() == disabled {
                return Ok(Some(AccountChanged { changed: false, sessions_ended: 0 }));
            }
            sqlx::query(sql::SET_ACCOUNT_DISABLED)
                .bind(disabled.then_some(now_ms))
                .bind(site_id)
                .bind(username)
                .execute(&mut *tx)
                .await?;
            let mut sessions_ended = 0;
            if disabled {
                sessions_ended = sqlx::query(sql::DELETE_ACCOUNT_SESSIONS)
                    .bind(username)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                action["sessions_ended"] = serde_json::json!(sessions_ended);
            }
            let entry = crate::ledger::governance_entry(action, by, now_ms as u64);
            ledger_append!(tx, site_id, &[&entry], now_ms);
            tx.commit().await?;
            Ok(Some(AccountChanged { changed: true, sessions_ended }))
        }

        async fn reset_account_password(
            &self,
            site_id: &str,
            username: &str,
            password_hash: &str,
            keep_session_hash: Option<&str>,
            by: &str,
            now_ms: i64,
            mut action: serde_json::Value,
        ) -> Result<Option<AccountChanged>, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let updated = sqlx::query(sql::SET_ACCOUNT_PASSWORD)
                .bind(password_hash)
                .bind(site_id)
                .bind(username)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Ok(None);
            }
            let sessions_ended = match keep_session_hash {
                Some(keep) => sqlx::query(sql::DELETE_OTHER_ACCOUNT_SESSIONS).bind(username).bind(keep),
                None => sqlx::query(sql::DELETE_ACCOUNT_SESSIONS).bind(username),
            }
            .execute(&mut *tx)
            .await?
            .rows_affected();
            action["sessions_ended"] = serde_json::json!(sessions_ended);
            let entry = crate::ledger::governance_entry(action, by, now_ms as u64);
            ledger_append!(tx, site_id, &[&entry], now_ms);
            tx.commit().await?;
            Ok(Some(AccountChanged { changed: true, sessions_ended }))
        }

        async fn update_site_config(
            &self,
            site_id: &str,
            previous_json: &str,
            config_json: &str,
            entry: &LedgerEntry,
            now_ms: i64,
        ) -> Result<bool, StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let lock_site: Option<&str> = $lock_site;
            if let Some(lock_site) = lock_site {
                sqlx::query(lock_site).bind(site_id).execute(&mut *tx).await?;
            }
            let updated = sqlx::query(sql::UPDATE_SITE_CONFIG)
                .bind(config_json)
                .bind(site_id)
                .bind(previous_json)
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Ok(false);
            }
            ledger_append!(tx, site_id, &[entry], now_ms);
            tx.commit().await?;
            Ok(true)
        }

        async fn upsert_staff(&self, site_id: &str, staff: &[StaffUpsert]) -> Result<(usize, usize), StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let (mut created, mut updated) = (0, 0);
            for member in staff {
                let owner: Option<(String,)> = sqlx::query_as(sql::STAFF_SITE)
                    .bind(&member.staff_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                match owner {
                    Some((owner_site,)) if owner_site != site_id => {
                        return Err(StorageError::Conflict(format!("staff id {} belongs to another site", member.staff_id)));
                    }
                    Some(_) => {
                        sqlx::query(sql::UPDATE_STAFF)
                            .bind(&member.display_name)
                            .bind(&member.role)
                            .bind(&member.badge_id)
                            .bind(&member.home_ward)
                            .bind(&member.pin_verifier)
                            .bind(member.active)
                            .bind(&member.staff_id)
                            .bind(site_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(super::conflict_or_badge(&member.badge_id))?;
                        updated += 1;
                    }
                    None => {
                        let Some(pin_verifier) = &member.pin_verifier else {
                            return Err(StorageError::Conflict(format!("new staff {} needs a PIN", member.staff_id)));
                        };
                        sqlx::query(sql::INSERT_STAFF)
                            .bind(&member.staff_id)
                            .bind(site_id)
                            .bind(&member.display_name)
                            .bind(&member.role)
                            .bind(&member.badge_id)
                            .bind(&member.home_ward)
                            .bind(pin_verifier)
                            .bind(member.active)
                            .execute(&mut *tx)
                            .await
                            .map_err(super::conflict_or_badge(&member.badge_id))?;
                        created += 1;
                    }
                }
            }
            tx.commit().await?;
            Ok((created, updated))
        }

        async fn upsert_devices(&self, site_id: &str, devices: &[DeviceRecord]) -> Result<(usize, usize), StorageError> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let (mut created, mut updated) = (0, 0);
            for device in devices {
                let owner: Option<(String,)> = sqlx::query_as(sql::DEVICE_SITE)
                    .bind(&device.device_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let tag_in_use = |error| super::conflict_or(error, &format!("the asset tag {:?}", device.asset_tag));
                match owner {
                    Some((owner_site,)) if owner_site != site_id => {
                        return Err(StorageError::Conflict(format!("device id {} belongs to another site", device.device_id)));
                    }
                    Some(_) => {
                        sqlx::query(sql::UPDATE_DEVICE)
                            .bind(&device.asset_tag)
                            .bind(&device.kind)
                            .bind(&device.model)
                            .bind(&device.home_ward)
                            .bind(device.active)
                            .bind(&device.device_id)
                            .bind(site_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(tag_in_use)?;
                        updated += 1;
                    }
                    None => {
                        sqlx::query(sql::INSERT_DEVICE)
                            .bind(&device.device_id)
                            .bind(site_id)
                            .bind(&device.asset_tag)
                            .bind(&device.kind)
                            .bind(&device.model)
                            .bind(&device.home_ward)
                            .bind(device.active)
                            .execute(&mut *tx)
                            .await
                            .map_err(tag_in_use)?;
                        created += 1;
                    }
                }
            }
            tx.commit().await?;
            Ok((created, updated))
        }

        async fn set_staff_active(&self, site_id: &str, staff_id: &str, active: bool) -> Result<bool, StorageError> {
            let changed = sqlx::query(sql::SET_STAFF_ACTIVE)
                .bind(active)
                .bind(staff_id)
                .bind(site_id)
                .execute(&self.writer)
                .await?;
            Ok(changed.rows_affected() == 1)
        }

        async fn create_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
            sqlx::query(sql::INSERT_SESSION)
                .bind(&session.session_hash)
                .bind(&session.username)
                .bind(&session.csrf_hash)
                .bind(session.created_at_ms)
                .bind(session.expires_at_ms)
                .execute(&self.writer)
                .await?;
            Ok(())
        }

        async fn find_session(&self, session_hash: &str, now_ms: i64) -> Result<Option<SessionRecord>, StorageError> {
            let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(sql::FIND_SESSION)
                .bind(session_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(|(session_hash, username, csrf_hash, created_at_ms, expires_at_ms)| SessionRecord {
                session_hash,
                username,
                csrf_hash,
                created_at_ms,
                expires_at_ms,
            }))
        }

        async fn delete_session(&self, session_hash: &str) -> Result<(), StorageError> {
            sqlx::query(sql::DELETE_SESSION).bind(session_hash).execute(&self.writer).await?;
            Ok(())
        }
        }
    };
}

/// A `tablets` row in `sql::TABLET_COLUMNS` order.
pub(super) type TabletRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

pub(super) fn tablet_from_row(row: TabletRow) -> super::TabletRecord {
    let (
        tablet_id,
        site_id,
        ward_id,
        public_key,
        label,
        enrolled_at_ms,
        revoked_from_ms,
        last_sync_ms,
    ) = row;
    super::TabletRecord {
        tablet_id,
        site_id,
        ward_id,
        public_key,
        label,
        enrolled_at_ms,
        revoked_from_ms,
        last_sync_ms,
    }
}

pub(super) use storage_impl;
