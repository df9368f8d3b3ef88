//! The server's replica of each site: the core `Replica` (event log and custody fold) kept in
//! memory and caught up from storage before every use.
//!
//! Storage is the truth. Each site's replica remembers the last `server_seq` it has folded and,
//! under the site's lock, first reads whatever other server processes appended since. Several
//! stateless replicas on one PostgreSQL thus agree: the log is a grow-only set whose admission
//! and fold do not depend on arrival order.
//!
//! `authority` signs the events a manager orders on the dashboard with the server's key and
//! stores them through the same path as pushed events.

pub mod authority;
mod site_replica;

pub use site_replica::{SiteGuard, SiteReplica, SiteReplicas, SyncError, Verifier};

/// Milliseconds since the Unix epoch: the one clock read of the sync path, passed into `core`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}
