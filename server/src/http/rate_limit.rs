//! Rate limits: a token bucket per tablet on the signed routes (checked after the signature and
//! the enrollment, so only an enrolled tablet spends its own budget), a token bucket per client
//! address on the routes anyone may call that cost the server real work (enrollment and
//! sign-in), and a cap on the argon2id hashes sign-in runs at once (`Argon2Gate`).
//!
//! A refused request gets `429 Too Many Requests` with `Retry-After` in seconds and the usual
//! error shape, `{"error": {"code": "rate_limited", "message"}}`, whose message says when to try
//! again.
//!
//! Memory is bounded: each limiter tracks at most `max_keys` buckets. When the table is full,
//! buckets that have refilled (the same as never seen) are dropped, at most once a second; if it
//! is still full, every key seen for the first time shares one overflow bucket, so an attacker
//! rotating addresses slows the newcomers down with it but cannot grow the table. IPv6 clients
//! are counted per /64 network, the block one subscriber usually holds.
//!
//! This is in-house rather than `governor`/`tower_governor`: governor's keyed stores grow until
//! someone calls `retain_recent`, with no cap, and tower_governor trusts `X-Forwarded-For` from
//! anyone unless configured otherwise; what Baton needs (a hard bound, trusted proxies, the
//! error shape, a clock the tests set) is about as long as the glue would be.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::sync::now_ms;

/// How many keys (addresses or tablets) one limiter tracks at most.
pub const MAX_TRACKED_KEYS: usize = 10_000;

/// How often a full table may be swept for idle buckets.
const PRUNE_INTERVAL_MS: u64 = 1_000;

/// A sustained rate and the burst allowed above it. A rate of zero turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_minute: 0,
        burst: 0,
    };

    fn is_off(self) -> bool {
        self.per_minute == 0
    }

    fn capacity(self) -> f64 {
        f64::from(self.burst.max(1))
    }

    fn tokens_per_ms(self) -> f64 {
        f64::from(self.per_minute) / 60_000.0
    }
}

/// The limits of one server process, from the command line (`config::ServeArgs`).
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Signed requests per enrolled tablet.
    pub per_tablet: Rate,
    /// Enrollment and sign-in requests per client address.
    pub per_address: Rate,
    /// Proxies whose `X-Forwarded-For` is believed; everyone else's is ignored.
    pub trusted_proxies: Vec<IpNetwork>,
    /// Argon2id hashes sign-in may compute at once.
    pub sign_in_concurrency: usize,
    /// How long a sign-in waits for an argon2 slot before it is told to come back.
    pub sign_in_wait: Duration,
    /// Pushes queued or running per site before a new one is told to come back (0: no limit).
    pub max_queued_pushes_per_site: usize,
}

impl Default for RateLimitConfig {
    /// The command line's defaults: generous enough for a tablet catching up 10,000 events
    /// (20 pushes of 500, or 100 of 100, plus pulls) and for the load generator enrolling 50
    /// tablets from one address.
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            per_tablet: Rate {
                per_minute: DEFAULT_TABLET_PER_MINUTE,
                burst: DEFAULT_TABLET_BURST,
            },
            per_address: Rate {
                per_minute: DEFAULT_ADDRESS_PER_MINUTE,
                burst: DEFAULT_ADDRESS_BURST,
            },
            trusted_proxies: Vec::new(),
            sign_in_concurrency: default_sign_in_concurrency(),
            sign_in_wait: Duration::from_secs(2),
            max_queued_pushes_per_site: super::admission::DEFAULT_MAX_QUEUED_PUSHES,
        }
    }
}

pub const DEFAULT_TABLET_PER_MINUTE: u32 = 600;
pub const DEFAULT_TABLET_BURST: u32 = 300;
pub const DEFAULT_ADDRESS_PER_MINUTE: u32 = 60;
pub const DEFAULT_ADDRESS_BURST: u32 = 60;

/// One argon2id hash per core: more at once only queues them in the blocking pool.
pub fn default_sign_in_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The limiters and the argon2 gate one server process shares across its requests.
pub struct RateLimits {
    pub per_tablet: KeyedLimiter<String>,
    pub per_address: KeyedLimiter<IpAddr>,
    pub trusted_proxies: Vec<IpNetwork>,
    pub argon2: Argon2Gate,
    /// Admission control of pushes per site (`admission.rs`).
    pub pushes: super::admission::PushAdmission,
    /// The bound on pull answers held in memory per site (`admission.rs`).
    pub pulls: super::admission::PullGate,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> RateLimits {
        RateLimits {
            per_tablet: KeyedLimiter::new(config.per_tablet, MAX_TRACKED_KEYS),
            per_address: KeyedLimiter::new(config.per_address, MAX_TRACKED_KEYS),
            trusted_proxies: config.trusted_proxies.clone(),
            argon2: Argon2Gate::new(config.sign_in_concurrency, config.sign_in_wait),
            pushes: super::admission::PushAdmission::new(config.max_queued_pushes_per_site),
            pulls: super::admission::PullGate::new(super::admission::PULLS_AT_ONCE_PER_SITE),
        }
    }
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits::new(&RateLimitConfig::default())
    }
}

/// A refusal: how long until the bucket holds a token again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: u64,
}

impl Bucket {
    fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket {
            tokens: rate.capacity(),
            updated_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms) as f64;
        self.tokens = (self.tokens + elapsed_ms * rate.tokens_per_ms()).min(rate.capacity());
        self.updated_ms = self.updated_ms.max(now_ms);
    }

    fn take(&mut self, rate: Rate, now_ms: u64) -> Result<(), Refused> {
        self.refill(rate, now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let missing_ms = (1.0 - self.tokens) / rate.tokens_per_ms();
        Err(Refused {
            retry_after_secs: (missing_ms / 1_000.0).ceil().max(1.0) as u64,
        })
    }

    fn is_full_at(mut self, rate: Rate, now_ms: u64) -> bool {
        self.refill(rate, now_ms);
        self.tokens >= rate.capacity()
    }
}

struct Table<K> {
    buckets: HashMap<K, Bucket>,
    overflow: Bucket,
    last_prune_ms: u64,
}

/// Token buckets by key, at most `max_keys` of them.
pub struct KeyedLimiter<K> {
    rate: Rate,
    max_keys: usize,
    table: Mutex<Table<K>>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    pub fn new(rate: Rate, max_keys: usize) -> KeyedLimiter<K> {
        KeyedLimiter {
            rate,
            max_keys: max_keys.max(1),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                overflow: Bucket::full(rate, 0),
                last_prune_ms: 0,
            }),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes one token from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &K, now_ms: u64) -> Result<(), Refused> {
        if self.rate.is_off() {
            return Ok(());
        }
        let rate = self.rate;
        let mut table = self.table.lock().expect("never poisoned");
        let table = &mut *table;
        if let Some(bucket) = table.buckets.get_mut(key) {
            return bucket.take(rate, now_ms);
        }
        if table.buckets.len() >= self.max_keys
            && now_ms.saturating_sub(table.last_prune_ms) >= PRUNE_INTERVAL_MS
        {
            // A bucket that has refilled is indistinguishable from one never made.
            table
                .buckets
                .retain(|_, bucket| !bucket.is_full_at(rate, now_ms));
            table.last_prune_ms = now_ms;
        }
        if table.buckets.len() >= self.max_keys {
            return table.overflow.take(rate, now_ms);
        }
        table
            .buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(rate, now_ms))
            .take(rate, now_ms)
    }

    /// How many keys are tracked now.
    pub fn n_tracked(&self) -> usize {
        self.table.lock().expect("never poisoned").buckets.len()
    }
}

/// Bounds the argon2id work of sign-in: at most `permits` hashes at once; a sign-in that cannot
/// get a slot within `wait` is told the server is busy rather than queued without end.
pub struct Argon2Gate {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

impl Argon2Gate {
    pub fn new(permits: usize, wait: Duration) -> Argon2Gate {
        Argon2Gate {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// A slot for one hash, held until the permit is dropped. The permit is owned so that it
    /// moves into the blocking task: a client that hangs up does not stop the hash, and its
    /// slot stays taken until the hash is done.
    pub async fn acquire(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }
}

/// `503` with `Retry-After`: sign-in is saturated, not refused for the caller's own doing.
fn busy() -> ApiError {
    tracing::warn!("sign-in refused: every argon2 slot is busy");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "sign_in_busy",
        "The server is checking too many sign-ins at once; try again in a few seconds.",
    )
    .with_retry_after(1)
}

/// The `429` answer for a refusal.
pub fn too_many_requests(refused: Refused, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "Too many {what}; wait {} s (Retry-After) and try again. A tablet's sync retries by itself.",
            refused.retry_after_secs
        ),
    )
    .with_retry_after(refused.retry_after_secs)
}

/// The address requests from this caller are counted under: the peer's address, or, when the
/// peer is a trusted proxy, the nearest address in `X-Forwarded-For` that is not one. IPv6
/// addresses are cut to their /64 network. `None` only when the server runs without connection
/// information (router tests): such callers share one bucket.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpNetwork],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |address: IpAddr| {
        trusted_proxies
            .iter()
            .any(|network| network.contains(address))
    };
    let mut client = peer;
    if is_trusted(peer) {
        // Each proxy appends the address it saw, so read from the right and stop at the first
        // hop no trusted proxy vouches for; what lies left of it anyone could have written.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|hop| {
                hop.trim()
                    .parse::<IpAddr>()
                    .map(|address| address.to_canonical())
            })
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        for hop in forwarded.into_iter().rev() {
            client = hop;
            if !is_trusted(hop) {
                break;
            }
        }
    }
    Some(per_subscriber(client))
}

fn per_subscriber(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
    }
}

/// Route layer for the routes anyone may call: counts the request against its client address.
pub async fn limit_by_address(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let limits = &state.rate_limits;
    let client = client_address(peer, request.headers(), &limits.trusted_proxies);
    let client_key = client.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    if let Err(refused) = limits.per_address.check(&client_key, now_ms()) {
        tracing::info!(
            client = ?client,
            path = request.uri().path(),
            "rate limited by client address"
        );
        return too_many_requests(refused, "enrollment or sign-in requests from this address")
            .into_response();
    }
    next.run(request).await
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `fd00::/8`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix_len: u8,
}

impl IpNetwork {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix_len)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                prefix_matches(&network.octets(), &address.octets(), self.prefix_len)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], address: &[u8], prefix_len: u8) -> bool {
    let full_bytes = usize::from(prefix_len / 8);
    let rest_bits = prefix_len % 8;
    if network[..full_bytes] != address[..full_bytes] {
        return false;
    }
    if rest_bits == 0 {
        return true;
    }
    let mask = 0xff_u8 << (8 - rest_bits);
    network[full_bytes] & mask == address[full_bytes] & mask
}

impl std::str::FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<IpNetwork, String> {
        let (address_text, prefix_text) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address_text
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a CIDR network"))?;
        let address = address.to_canonical();
        let max_len = if address.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_text {
            None => max_len,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|length| *length <= max_len)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max_len}"))?,
        };
        Ok(IpNetwork {
            address,
            prefix_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_MINUTE_60_BURST_3: Rate = Rate {
        per_minute: 60,
        burst: 3,
    };

    #[test]
    fn a_bucket_allows_its_burst_then_one_request_per_refill() {
        let limiter = KeyedLimiter::new(PER_MINUTE_60_BURST_3, 10);
        let key = "T-1".to_owned();
        for _ in 0..3 {
            assert_eq!(limiter.check(&key, 1_000), Ok(()));
        }
        assert_eq!(
            limiter.check(&key, 1_000),
            Err(Refused {
                retry_after_secs: 1
            })
        );
        // One token a second: 999 ms later there is still none, at 1,000 ms there is one.
        assert!(limiter.check(&key, 1_999).is_err());
        assert_eq!(limiter.check(&key, 2_000), Ok(()));
        assert!(limiter.check(&key, 2_000).is_err());
        // Another key has its own bucket.
        assert_eq!(limiter.check(&"T-2".to_owned(), 2_000), Ok(()));
    }

    #[test]
    fn retry_after_counts_the_seconds_until_the_next_token() {
        let limiter = KeyedLimiter::new(
            Rate {
                per_minute: 6,
                burst: 1,
            },
            10,
        );
        assert_eq!(limiter.check(&1_u8, 0), Ok(()));
        assert_eq!(
            limiter.check(&1_u8, 0),
            Err(Refused {
                retry_after_secs: 10
            })
        );
        assert_eq!(
            limiter.check(&1_u8, 7_500),
            Err(Refused {
                retry_after_secs: 3
            })
        );
        assert_eq!(limiter.check(&1_u8, 10_000), Ok(()));
    }

    #[test]
    fn a_rate_of_zero_is_off() {
        let limiter = KeyedLimiter::new(Rate::OFF, 1);
        for key in 0..100_u32 {
            assert_eq!(limiter.check(&key, 0), Ok(()));
        }
        assert_eq!(limiter.n_tracked(), 0);
    }

    #[test]
    fn rotating_keys_never_grow_the_table_past_its_bound_and_idle_buckets_make_room() {
        let limiter = KeyedLimiter::new(PER_MINUTE_60_BURST_3, 100);
        // An attacker with a million addresses, one request each, within one millisecond.
        for key in 0..1_000_000_u32 {
            let _ = limiter.check(&key, 5_000);
        }
        assert_eq!(limiter.n_tracked(), 100);
        // Newcomers share the overflow bucket meanwhile: its burst, then refusals.
        let newcomers: Vec<bool> = (0..5_u32)
            .map(|key| limiter.check(&(2_000_000 + key), 5_000).is_ok())
            .collect();
        assert_eq!(newcomers, [false; 5], "the overflow bucket was drained too");
        // A second later the attacker's buckets have refilled, are swept, and a newcomer gets
        // a bucket of its own with its full burst.
        let newcomer = 3_000_000_u32;
        for _ in 0..3 {
            assert_eq!(limiter.check(&newcomer, 6_000), Ok(()));
        }
        assert!(limiter.check(&newcomer, 6_000).is_err());
        assert_eq!(limiter.n_tracked(), 1);
    }

    /// What the defaults must let through at once, from one tablet or one address: a tablet
    /// back after a shift offline with 10,000 events in its outbox pushes them in batches of
    /// 500 (the app's and the server's maximum) and pulls them back in pages of 500, with its
    /// roster, revocations, head and proofs around them; `cargo xtask bench` signs in twice
    /// and enrolls 50 tablets from 127.0.0.1 in a few seconds, and the Playwright tests sign in
    /// and enroll about 15 times each.
    #[test]
    fn the_defaults_let_a_10000_event_catch_up_and_the_load_generator_through() {
        let config = RateLimitConfig::default();
        let catch_up_requests = 10_000 / crate::http::sync::MAX_PUSH_EVENTS // pushes
            + 10_000 / 500 + 1 // pulls
            + 2 // roster, revocations
            + 1 + 20; // the head and an inclusion proof per push receipt page
        let tablet = KeyedLimiter::new(config.per_tablet, MAX_TRACKED_KEYS);
        for request_idx in 0..catch_up_requests {
            assert_eq!(
                tablet.check(&"T-1".to_owned(), 0),
                Ok(()),
                "request {request_idx} of a catch-up"
            );
        }
        let address = KeyedLimiter::new(config.per_address, MAX_TRACKED_KEYS);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for request_idx in 0..(2 + 50) {
            assert_eq!(
                address.check(&loopback, request_idx * 20),
                Ok(()),
                "enrollment or sign-in {request_idx} of the load generator"
            );
        }
        assert!(config.sign_in_concurrency >= 1);
    }

    fn networks(list: &[&str]) -> Vec<IpNetwork> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let headers = forwarded("203.0.113.66, 198.51.100.7");
        // No trusted proxy: the header is anyone's, the peer counts.
        assert_eq!(client_address(Some(peer), &headers, &[]), Some(peer));
        // Behind a trusted proxy: the hop it vouches for, not what the client wrote before it.
        let trusted = networks(&["127.0.0.1"]);
        assert_eq!(client_address(Some(peer), &headers, &trusted), Some(client));
        // A chain of trusted proxies is walked through.
        let chained = forwarded("203.0.113.66, 198.51.100.7, 10.1.2.3");
        let trusted = networks(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(client_address(Some(peer), &chained, &trusted), Some(client));
        // A peer that is not trusted cannot claim another address.
        let outsider: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            client_address(Some(outsider), &headers, &trusted),
            Some(outsider)
        );
        // A garbled header is ignored, not half-believed.
        let garbled = forwarded("198.51.100.7, not-an-address");
        assert_eq!(client_address(Some(peer), &garbled, &trusted), Some(peer));
    }

    #[test]
    fn ipv6_clients_count_per_64_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let headers = HeaderMap::new();
        assert_eq!(
            client_address(Some(one), &headers, &[]),
            client_address(Some(other), &headers, &[])
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            client_address(Some(mapped), &headers, &[]),
            Some("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn networks_parse_and_contain_what_they_should() {
        let network: IpNetwork = "10.20.0.0/14".parse().unwrap();
        assert!(network.contains("10.23.255.1".parse().unwrap()));
        assert!(!network.contains("10.24.0.1".parse().unwrap()));
        assert!(!network.contains("::1".parse().unwrap()));
        let single: IpNetwork = "::1".parse().unwrap();
        assert!(single.contains("::1".parse().unwrap()));
        assert!(!single.contains("::2".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("localhost".parse::<IpNetwork>().is_err());
    }

    #[tokio::test]
    async fn the_argon2_gate_turns_callers_away_when_every_slot_stays_busy() {
        let gate = Argon2Gate::new(1, Duration::from_millis(50));
        let held = gate.acquire().await.unwrap();
        let refused = gate.acquire().await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, "sign_in_busy");
        assert_eq!(refused.retry_after_secs, Some(1));
        drop(held);
        assert!(gate.acquire().await.is_ok());
    }
}
