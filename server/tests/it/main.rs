//! The server's one integration-test binary: storage against real SQLite and real PostgreSQL, the
//! router without a socket, and the `baton` binary as a black box.

mod access;
mod backup;
mod binary;
mod bundle_example;
mod busy_pulls;
mod connectors;
mod dashboard_actions;
mod disk_faults;
mod faults;
mod hostile;
mod http;
mod key_rotation;
mod ledger;
mod metrics;
mod operations_doc;
mod postgres_disk_faults;
mod proxy;
mod rate_limits;
mod registry;
mod reports;
mod revocation;
mod site_admin;
mod site_connectors;
mod sites;
mod storage;
mod support;
mod sync;
mod tablet;
mod threat_model;
mod tls;
mod token_revocation;
mod upgrade;
