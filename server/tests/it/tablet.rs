//! A simulated tablet and an in-process server on a real socket, for the sync tests: events are
//! built and signed by `baton-core` exactly as the PWA does, and requests are signed per
//! docs/PROTOCOL.md.

use std::sync::Arc;

use baton_core::body::{AuthMethod, Body, Checklist, DeviceCondition, PersonAuth};
use baton_core::event::{ChainHead, SignedEvent, UnsignedEvent};
use baton_core::hlc::Hlc;
use baton_core::ids::{DeviceId, SignerKey, StaffId, WardId};
use baton_core::request::{
    HEADER_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, RequestToSign,
};
use baton_server::http::static_files::StaticFiles;
use baton_server::http::{AppState, app};
use baton_server::seed::{self, DemoCredentials};
use baton_server::server_key::ServerKey;
use baton_server::storage::Storage;
use baton_server::sync::now_ms;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

/// The secret the test resource server presents to `/oauth/introspect`.
pub const INTROSPECTION_SECRET: &str = "resource-server-secret";

pub struct TestServer {
    pub base_url: String,
    pub state: AppState,
    pub credentials: Arc<DemoCredentials>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seeds the demo site into `storage` (when empty) and serves it on a free loopback port.
pub async fn serve(storage: Arc<dyn Storage>) -> TestServer {
    let (site, credentials) = seed::demo_site().unwrap();
    if storage.is_empty().await.unwrap() {
        storage.import_site(&site).await.unwrap();
    }
    serve_seeded(storage, Arc::new(credentials)).await
}

/// Serves an already seeded database: a second server process on the same data.
pub async fn serve_seeded(
    storage: Arc<dyn Storage>,
    credentials: Arc<DemoCredentials>,
) -> TestServer {
    serve_configured(storage, credentials, |_| {}).await
}

/// Seeds and serves with external revocation connectors configured by name.
pub async fn serve_with_connectors(
    storage: Arc<dyn Storage>,
    connectors: Vec<String>,
) -> TestServer {
    let (site, credentials) = seed::demo_site().unwrap();
    if storage.is_empty().await.unwrap() {
        storage.import_site(&site).await.unwrap();
    }
    serve_configured(storage, Arc::new(credentials), |state| {
        state.connectors = Arc::new(connectors);
    })
    .await
}

/// Seeds and serves with `configure` applied to the state before the router is built (the
/// built PWA, a metrics token).
pub async fn serve_custom(
    storage: Arc<dyn Storage>,
    configure: impl FnOnce(&mut AppState),
) -> TestServer {
    let (site, credentials) = seed::demo_site().unwrap();
    if storage.is_empty().await.unwrap() {
        storage.import_site(&site).await.unwrap();
    }
    serve_configured(storage, Arc::new(credentials), configure).await
}

async fn serve_configured(
    storage: Arc<dyn Storage>,
    credentials: Arc<DemoCredentials>,
    configure: impl FnOnce(&mut AppState),
) -> TestServer {
    let mut state = AppState::new(
        storage,
        StaticFiles::load(std::path::Path::new("/nonexistent-dist")),
        ServerKey::from_seed([9; 32]).unwrap(),
        false,
    );
    state.introspection_secret = Some(INTROSPECTION_SECRET.into());
    configure(&mut state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    // As `baton serve` does: the peer's address feeds the per-address rate limits.
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, service).await.unwrap();
    });
    TestServer {
        base_url,
        state,
        credentials,
        task,
    }
}

/// A signed-in manager's client: cookie and CSRF token.
pub struct Manager {
    pub client: reqwest::Client,
    pub csrf_token: String,
    pub base_url: String,
}

pub async fn sign_in_manager(server: &TestServer) -> Manager {
    sign_in_manager_at(&server.base_url, &server.credentials).await
}

/// Signs in to any running server, such as a `baton` process started by a test.
pub async fn sign_in_manager_at(base_url: &str, credentials: &DemoCredentials) -> Manager {
    sign_in_at(
        base_url,
        &credentials.manager_username,
        &credentials.manager_password,
    )
    .await
}

/// Adds an account of `role` at the demo site and signs it in.
pub async fn sign_in_new_account(
    server: &TestServer,
    username: &str,
    role: baton_server::storage::AccountRole,
) -> Manager {
    let password = seed::random_password();
    server
        .state
        .storage
        .create_account(&baton_server::storage::AccountRecord {
            username: username.to_owned(),
            password_hash: seed::hash_secret(&password).unwrap(),
            role,
            site_id: Some(seed::DEMO_SITE_ID.to_owned()),
        })
        .await
        .unwrap();
    sign_in_at(&server.base_url, username, &password).await
}

/// Signs in with any account's username and password.
pub async fn sign_in_at(base_url: &str, username: &str, password: &str) -> Manager {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    sign_in_with(client, base_url, username, password).await
}

/// Signs in through `client` (one that keeps cookies and trusts the server's certificate).
pub async fn sign_in_with(
    client: reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
) -> Manager {
    let response = client
        .post(format!("{base_url}/api/v1/auth/sign-in"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    Manager {
        client,
        csrf_token: session["csrf_token"].as_str().unwrap().to_owned(),
        base_url: base_url.to_owned(),
    }
}

impl Manager {
    pub async fn enrollment_code(&self, ward_id: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/enrollment-codes", self.base_url))
            .header("x-csrf-token", &self.csrf_token)
            .json(&json!({ "ward_id": ward_id }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["code"].as_str().unwrap().to_owned()
    }
}

pub struct SimTablet {
    pub signing_key: SigningKey,
    pub signer: SignerKey,
    pub tablet_id: String,
    pub enrollment: Value,
    head: Option<ChainHead>,
    clock: Hlc,
    client: reqwest::Client,
    base_url: String,
}

impl SimTablet {
    /// Enrolls a tablet whose key is derived from `seed_byte`.
    pub async fn enroll(server: &TestServer, manager: &Manager, seed_byte: u8) -> SimTablet {
        SimTablet::enroll_at(&server.base_url, manager, seed_byte).await
    }

    /// Enrolls a tablet with any running server.
    pub async fn enroll_at(base_url: &str, manager: &Manager, seed_byte: u8) -> SimTablet {
        SimTablet::enroll_at_ward(base_url, manager, "W-4E", seed_byte).await
    }

    /// Enrolls a tablet of `ward_id`, a ward of the manager's site.
    pub async fn enroll_at_ward(
        base_url: &str,
        manager: &Manager,
        ward_id: &str,
        seed_byte: u8,
    ) -> SimTablet {
        SimTablet::enroll_with_at_ward(
            base_url,
            reqwest::Client::new(),
            manager,
            ward_id,
            seed_byte,
        )
        .await
    }

    /// Enrolls a tablet that talks to `base_url` through `client` (one that trusts the server's
    /// certificate, or goes through a proxy).
    pub async fn enroll_with(
        base_url: &str,
        client: reqwest::Client,
        manager: &Manager,
        seed_byte: u8,
    ) -> SimTablet {
        SimTablet::enroll_with_at_ward(base_url, client, manager, "W-4E", seed_byte).await
    }

    async fn enroll_with_at_ward(
        base_url: &str,
        client: reqwest::Client,
        manager: &Manager,
        ward_id: &str,
        seed_byte: u8,
    ) -> SimTablet {
        let code = manager.enrollment_code(ward_id).await;
        let signing_key = SigningKey::from_bytes(&[seed_byte; 32]);
        let signer = SignerKey::from_signing_key(&signing_key);
        let response = client
            .post(format!("{base_url}/api/v1/enroll"))
            .json(&json!({ "code": code, "public_key": signer.to_hex(), "label": format!("tablet {seed_byte}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let enrollment: Value = response.json().await.unwrap();
        SimTablet {
            signing_key,
            signer,
            tablet_id: enrollment["tablet_id"].as_str().unwrap().to_owned(),
            enrollment,
            head: None,
            clock: Hlc::ZERO,
            client,
            base_url: base_url.to_owned(),
        }
    }

    /// The server this tablet talks to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A tablet whose key was never enrolled through the API: for tests where an insider puts
    /// it in the database by hand.
    pub fn unenrolled(base_url: &str, seed_byte: u8, tablet_id: &str) -> SimTablet {
        let signing_key = SigningKey::from_bytes(&[seed_byte; 32]);
        SimTablet {
            signer: SignerKey::from_signing_key(&signing_key),
            signing_key,
            tablet_id: tablet_id.to_owned(),
            enrollment: Value::Null,
            head: None,
            clock: Hlc::ZERO,
            client: reqwest::Client::new(),
            base_url: base_url.to_owned(),
        }
    }

    /// Builds and signs this tablet's next event, advancing its chain and clock.
    pub fn sign(&mut self, body: Body, wall_ms: u64) -> SignedEvent {
        let unsigned =
            UnsignedEvent::next(self.signer, self.head, self.clock, wall_ms, body).unwrap();
        let event = unsigned.sign(&self.signing_key).unwrap();
        self.head = Some(event.chain_head());
        self.clock = event.hlc();
        event
    }

    /// Sends a request signed by this tablet with a fresh nonce.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let nonce = hex::encode(rand_bytes());
        self.request_with(method, path, body, now_ms(), &nonce, &self.signing_key)
            .await
    }

    /// Sends a request with every signed part chosen by the test.
    pub async fn request_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        timestamp_ms: u64,
        nonce: &str,
        signing_key: &SigningKey,
    ) -> reqwest::Response {
        let signature = RequestToSign {
            method: method.as_str(),
            path_and_query: path,
            body: &body,
            timestamp_ms,
            nonce,
        }
        .sign(signing_key);
        self.client
            .request(method, format!("{}{path}", self.base_url))
            .header(HEADER_KEY, self.signer.to_hex())
            .header(HEADER_TIMESTAMP, timestamp_ms.to_string())
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, hex::encode(signature))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Pushes raw JSON events and returns the receipts. A `503` (the database briefly out of
    /// reach, as on a machine loaded by the whole test suite) is retried as a tablet retries
    /// it, a few times, and said on stderr; anything else must be a `200`.
    pub async fn push_json(&self, events: Vec<Value>) -> Vec<Value> {
        let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
        let mut attempt = 1;
        let response = loop {
            let response = self
                .request(reqwest::Method::POST, "/api/v1/sync/push", body.clone())
                .await;
            if response.status() != 503 || attempt == 5 {
                break response;
            }
            eprintln!(
                "push answered 503 ({}); retrying as a tablet would",
                response.text().await.unwrap_or_default()
            );
            tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
            attempt += 1;
        };
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        body["receipts"].as_array().unwrap().clone()
    }

    pub async fn push(&self, events: &[SignedEvent]) -> Vec<Value> {
        let values = events
            .iter()
            .map(|event| serde_json::from_slice(&event.to_json_bytes()).unwrap())
            .collect();
        self.push_json(values).await
    }

    /// Pulls every event of the site, page by page.
    pub async fn pull_all(&self, page_size: i64) -> Vec<SignedEvent> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let path = format!("/api/v1/sync/pull?after={after}&limit={page_size}");
            let response = self.request(reqwest::Method::GET, &path, Vec::new()).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            let page: Value = response.json().await.unwrap();
            for entry in page["events"].as_array().unwrap() {
                let bytes = serde_json::to_vec(&entry["event"]).unwrap();
                events.push(SignedEvent::from_json_bytes(&bytes).unwrap());
            }
            after = page["next_after"].as_i64().unwrap();
            if !page["more"].as_bool().unwrap() {
                return events;
            }
        }
    }
}

pub fn rand_bytes() -> [u8; 16] {
    use rand::RngCore;
    let mut bytes = [0_u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

pub fn nurse(staff: &str) -> PersonAuth {
    PersonAuth {
        staff: StaffId::new(staff).unwrap(),
        method: AuthMethod::BadgePin,
    }
}

pub fn check_out(device: &str, staff: &str) -> Body {
    Body::CheckOut {
        device: DeviceId::new(device).unwrap(),
        custodian: nurse(staff),
        ward: WardId::new("W-4E").unwrap(),
        shift: Some("day".to_owned()),
        expected_return_ms: None,
        purpose: None,
        issued_by: None,
    }
}

pub fn check_in(device: &str, staff: &str) -> Body {
    Body::CheckIn {
        device: DeviceId::new(device).unwrap(),
        returned_by: nurse(staff),
        ward: WardId::new("W-4E").unwrap(),
        checklist: Checklist {
            apps_signed_out: true,
            local_data_wiped: true,
            condition: DeviceCondition::Ok,
        },
        note: None,
    }
}

impl SimTablet {
    /// The same key with an empty chain: its next event reuses seq 1, a fork.
    pub fn fresh_chain(&self) -> SimTablet {
        SimTablet {
            head: None,
            clock: Hlc::ZERO,
            ..self.pointed_at(&self.base_url)
        }
    }

    /// The same tablet talking to `base_url` through `client` (a proxy with its own TLS
    /// certificate).
    pub fn through(&self, base_url: &str, client: reqwest::Client) -> SimTablet {
        SimTablet {
            client,
            ..self.pointed_at(base_url)
        }
    }

    /// The rotation of this tablet's key to the key of `seed_byte`, signed by both, naming the
    /// end of the current chain.
    pub fn key_rotation(
        &self,
        seed_byte: u8,
        at_ms: u64,
    ) -> baton_core::key_rotation::SignedKeyRotation {
        let next = SigningKey::from_bytes(&[seed_byte; 32]);
        baton_core::key_rotation::KeyRotation {
            signer: baton_core::key_rotation::RotatingSigner::Tablet,
            previous: self.signer,
            next: SignerKey::from_signing_key(&next),
            at_ms,
            last_event: self.head.map(|head| baton_core::key_rotation::ChainEnd {
                seq: head.seq,
                id: head.id,
            }),
        }
        .sign(&self.signing_key, &next)
        .unwrap()
    }

    /// This tablet after its rotation to the key of `seed_byte`: a new chain, the clock kept.
    pub fn with_key(&self, seed_byte: u8) -> SimTablet {
        let signing_key = SigningKey::from_bytes(&[seed_byte; 32]);
        SimTablet {
            signer: SignerKey::from_signing_key(&signing_key),
            signing_key,
            head: None,
            ..self.pointed_at(&self.base_url)
        }
    }

    /// The same tablet (key, chain, clock) talking to another server process.
    pub fn pointed_at(&self, base_url: &str) -> SimTablet {
        SimTablet {
            signing_key: self.signing_key.clone(),
            signer: self.signer,
            tablet_id: self.tablet_id.clone(),
            enrollment: self.enrollment.clone(),
            head: self.head,
            clock: self.clock,
            client: self.client.clone(),
            base_url: base_url.to_owned(),
        }
    }
}
