//! OAuth 2.0 Token Revocation (RFC 7009) against a real revocation endpoint started by the
//! test: apps register their tokens with their custody-bound Baton token, the custody's end
//! revokes them (refresh tokens first) with client authentication, the ciphertext is deleted
//! once revoked, and the token's plaintext is never in the database file nor in the logs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use baton_server::connectors::{ClientAuthMethod, ConnectorConfig};
use baton_server::delivery_worker;
use baton_server::storage::{RevocationRecord, Storage};
use baton_server::token_vault::TokenVault;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::connectors::{fast_policy, signer, wait_for};
use crate::support;
use crate::tablet::{self, SimTablet, TestServer, check_in, check_out};

const CLIENT_ID: &str = "baton:ward-devices";
const CLIENT_SECRET: &str = "s3cret with spaces & symbols";

/// A scripted answer: status, `Retry-After`, body.
type ScriptedAnswer = (u16, Option<&'static str>, &'static str);

/// One request the endpoint received, as it understood it.
#[derive(Debug, Clone)]
struct Call {
    token: String,
    token_type_hint: String,
    authenticated: bool,
    at: Instant,
}

/// An RFC 7009 revocation endpoint: checks the client's authentication (the configured
/// method only) and the form body, answers from a script first and 200 after, and records the
/// tokens it revoked, each once.
#[derive(Clone)]
struct AuthorizationServer {
    auth_method: ClientAuthMethod,
    script: Arc<Mutex<VecDeque<ScriptedAnswer>>>,
    calls: Arc<Mutex<Vec<Call>>>,
    revoked: Arc<Mutex<Vec<(String, String)>>>,
}

impl AuthorizationServer {
    fn new(auth_method: ClientAuthMethod) -> AuthorizationServer {
        AuthorizationServer {
            auth_method,
            script: Arc::default(),
            calls: Arc::default(),
            revoked: Arc::default(),
        }
    }

    fn scripted(self, answers: &[ScriptedAnswer]) -> Self {
        self.script.lock().unwrap().extend(answers.iter().copied());
        self
    }

    fn revoked(&self) -> Vec<(String, String)> {
        self.revoked.lock().unwrap().clone()
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// Percent-decoding of one form-urlencoded value, written here rather than shared with the
/// server so that the test checks the server's encoding independently.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                decoded.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).unwrap()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

async fn revoke(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let basic = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|credentials| {
            let (id, secret) = credentials.split_once(':')?;
            Some((form_decode(id), form_decode(secret)))
        });
    let in_form = field("client_id").zip(field("client_secret"));
    let authenticated = match server.auth_method {
        ClientAuthMethod::ClientSecretBasic => {
            in_form.is_none() && basic == Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
        }
        ClientAuthMethod::ClientSecretPost => {
            basic.is_none() && in_form == Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()))
        }
    };
    let allowed = ["token", "token_type_hint", "client_id", "client_secret"];
    let shape_ok = form.iter().all(|(key, _)| allowed.contains(&key.as_str()))
        && field("token").is_some_and(|token| !token.is_empty());
    let call = Call {
        token: field("token").unwrap_or_default(),
        token_type_hint: field("token_type_hint").unwrap_or_default(),
        authenticated,
        at: Instant::now(),
    };
    server.calls.lock().unwrap().push(call.clone());
    if !authenticated {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if !shape_ok {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if let Some((status, retry_after, body)) = server.script.lock().unwrap().pop_front() {
        let mut response = (StatusCode::from_u16(status).unwrap(), body.to_owned()).into_response();
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        if let Some(retry_after) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", retry_after.parse().unwrap());
        }
        return response;
    }
    let mut revoked = server.revoked.lock().unwrap();
    let entry = (call.token, call.token_type_hint);
    if !revoked.contains(&entry) {
        revoked.push(entry);
    }
    StatusCode::OK.into_response()
}

/// Starts the endpoint; returns its URL.
async fn start_authorization_server(server: AuthorizationServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth2/revoke", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/oauth2/revoke", axum::routing::post(revoke))
        .with_state(server);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn connector(url: &str, auth_method: ClientAuthMethod) -> ConnectorConfig {
    ConnectorConfig::OauthRevocation {
        name: "idp".to_owned(),
        url: url.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        auth_method,
    }
}

/// A token as an authorization server would issue it: random, so a leak is unambiguous.
fn issued_token(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(tablet::rand_bytes()))
}

async fn baton_token(tablet: &SimTablet, device: &str, staff: &str) -> String {
    let body = serde_json::to_vec(&json!({ "device_id": device, "staff_id": staff })).unwrap();
    let response = tablet.request(Method::POST, "/api/v1/tokens", body).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What the app on the device sends to register a token.
async fn register(base_url: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{base_url}/api/v1/tokens/external"))
        .json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn registration(connector: &str, token: &str, hint: &str) -> Value {
    json!({ "connector": connector, "token": token, "token_type_hint": hint })
}

/// The rows of `external_tokens`: (hint, sealed, revoked_at_ms), read behind the server's back.
async fn stored_tokens(url: &str) -> Vec<(String, Option<String>, Option<i64>)> {
    let query =
        "SELECT token_type_hint, sealed, revoked_at_ms FROM external_tokens ORDER BY token_id";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(query)
            .fetch_all(&mut connection)
            .await
            .unwrap()
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(query)
            .fetch_all(&mut connection)
            .await
            .unwrap()
    }
}

/// The bytes of the SQLite database and its WAL, for grepping; empty for PostgreSQL.
fn database_bytes(url: &str) -> Vec<u8> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Vec::new();
    };
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn idp_delivery(
    storage: &dyn Storage,
    device: &str,
) -> Option<(String, i64, Option<String>, Option<String>)> {
    let revocations: Vec<RevocationRecord> =
        storage.list_revocations("SITE-DEMO", 50).await.unwrap();
    let revocation = revocations
        .iter()
        .find(|revocation| revocation.device_id == device)?;
    let delivery = revocation
        .deliveries
        .iter()
        .find(|delivery| delivery.connector == "idp")?;
    Some((
        delivery.status.clone(),
        delivery.attempts,
        delivery.detail.clone(),
        delivery.last_error.clone(),
    ))
}

async fn wait_for_delivery(
    storage: &dyn Storage,
    device: &str,
    status: &str,
) -> (i64, Option<String>, Option<String>) {
    for _ in 0..400 {
        if let Some((found, attempts, detail, error)) = idp_delivery(storage, device).await
            && found == status
        {
            return (attempts, detail, error);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the idp delivery of {device} never became {status}: {:?}",
        idp_delivery(storage, device).await
    );
}

/// A server in this process whose `idp` connector is an RFC 7009 one, and a worker delivering
/// to `url` with the same token key.
async fn serve_with_idp(
    storage: Arc<dyn Storage>,
    url: &str,
    auth_method: ClientAuthMethod,
) -> (TestServer, tokio::task::JoinHandle<()>) {
    let server = tablet::serve_custom(storage.clone(), |state| {
        state.connectors = Arc::new(vec!["idp".to_owned()]);
        state.token_revocation_connectors = Arc::new(["idp".to_owned()].into_iter().collect());
        state.token_vault = Arc::new(TokenVault::from_key([7; 32]));
    })
    .await;
    let worker = tokio::spawn(delivery_worker::run(
        storage,
        Arc::new(vec![connector(url, auth_method)]),
        signer(),
        fast_policy(),
    ));
    (server, worker)
}

/// The whole journey through the real `baton` binary: check-out over sync, a Baton token,
/// two external tokens registered, check-in over sync; the endpoint sees both revoked with
/// HTTP Basic client authentication, the refresh token first; the ciphertext is then gone,
/// and neither token was ever in the database file or the logs.
#[tokio::test]
async fn tokens_registered_during_a_custody_are_revoked_refresh_first_at_check_in() {
    for backend in support::every_backend().await {
        let (site, credentials) = baton_server::seed::demo_site().unwrap();
        backend.storage.import_site(&site).await.unwrap();
        let authorization_server = AuthorizationServer::new(ClientAuthMethod::ClientSecretBasic);
        let url = start_authorization_server(authorization_server.clone()).await;
        let data_dir = tempfile::tempdir().unwrap();
        let connectors_file = data_dir.path().join("connectors.json");
        std::fs::write(
            &connectors_file,
            serde_json::to_vec(&json!([{
                "kind": "oauth_revocation",
                "name": "idp",
                "url": url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "auth_method": "client_secret_basic",
            }]))
            .unwrap(),
        )
        .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "debug"])
            .args(["--database-url", &backend.url, "--dist", "/nonexistent"])
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--connectors-file")
            .arg(&connectors_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let stderr_logs = logs.clone();
        let stderr_thread = std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let line = line.unwrap_or_default();
                let mut logs = stderr_logs.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let base_url = loop {
            let mut line = String::new();
            assert!(
                std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0,
                "the server exited: {}",
                logs.lock().unwrap()
            );
            logs.lock().unwrap().push_str(&line);
            if let Some(address) = line.trim().strip_prefix("Baton is listening on ") {
                break address.trim_end_matches('/').to_owned();
            }
        };
        let stdout_logs = logs.clone();
        let stdout_thread = std::thread::spawn(move || {
            for line in std::io::BufRead::lines(stdout) {
                let mut logs = stdout_logs.lock().unwrap();
                logs.push_str(&line.unwrap_or_default());
                logs.push('\n');
            }
        });

        let manager = tablet::sign_in_manager_at(&base_url, &credentials).await;
        let mut tablet_a = SimTablet::enroll_at(&base_url, &manager, 90).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let checked_out = tablet_a.sign(check_out("D-0012", "S-0014"), start);
        tablet_a.push(&[checked_out]).await;
        let bearer = baton_token(&tablet_a, "D-0012", "S-0014").await;

        // The app registers its access token first: the order of revocation is by kind.
        let access_token = issued_token("at");
        let refresh_token = issued_token("rt");
        let (status, body) = register(
            &base_url,
            Some(bearer.as_str()),
            registration("idp", &access_token, "access_token"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["device_id"], "D-0012");
        assert_eq!(body["staff_id"], "S-0014");
        let (status, body) = register(
            &base_url,
            Some(bearer.as_str()),
            registration("idp", &refresh_token, "refresh_token"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let stored = stored_tokens(&backend.url).await;
        assert_eq!(stored.len(), 2);
        assert!(
            stored
                .iter()
                .all(|(_, sealed, revoked)| sealed.is_some() && revoked.is_none())
        );
        for (_, sealed, _) in &stored {
            let sealed = sealed.as_deref().unwrap();
            assert!(!sealed.contains(&access_token) && !sealed.contains(&refresh_token));
        }
        assert!(
            authorization_server.calls().is_empty(),
            "nothing revoked while the custody holds"
        );

        let checked_in = tablet_a.sign(check_in("D-0012", "S-0014"), start + 1_000);
        tablet_a.push(&[checked_in]).await;
        let watched = authorization_server.clone();
        wait_for(move || watched.revoked().len() == 2).await;
        let (attempts, detail, _) =
            wait_for_delivery(backend.storage.as_ref(), "D-0012", "confirmed").await;
        assert_eq!(
            authorization_server.revoked(),
            [
                (refresh_token.clone(), "refresh_token".to_owned()),
                (access_token.clone(), "access_token".to_owned()),
            ],
            "the refresh token first (RFC 7009 §2.1)"
        );
        let calls = authorization_server.calls();
        assert_eq!(calls.len(), 2, "one request per token, no repeat");
        assert!(calls.iter().all(|call| call.authenticated));
        assert_eq!(attempts, 1);
        assert_eq!(
            detail.as_deref(),
            Some("revoked 2 registered token(s): 1 refresh, 1 access")
        );
        let stored = stored_tokens(&backend.url).await;
        assert!(
            stored
                .iter()
                .all(|(_, sealed, revoked)| sealed.is_none() && revoked.is_some()),
            "the ciphertext is deleted once the revocation is confirmed: {stored:?}"
        );
        let entries = backend
            .storage
            .ledger_entries("SITE-DEMO", 0, 1000)
            .await
            .unwrap();
        assert!(entries.iter().any(|row| {
            row.entry_json.contains("\"type\":\"revocation_confirmed\"")
                && row.entry_json.contains("\"connector\":\"idp\"")
                && row.entry_json.contains("1 refresh, 1 access")
        }));

        child.kill().unwrap();
        child.wait().unwrap();
        stderr_thread.join().unwrap();
        stdout_thread.join().unwrap();
        let logs = logs.lock().unwrap().clone();
        assert!(
            logs.contains("external token registered") && logs.contains("revocation confirmed"),
            "the logs were captured: {logs}"
        );
        for token in [&access_token, &refresh_token] {
            assert!(!logs.contains(token.as_str()), "a token reached the logs");
            assert!(
                !entries
                    .iter()
                    .any(|row| row.entry_json.contains(token.as_str())),
                "a token reached the ledger"
            );
        }
        if backend.url.starts_with("sqlite:") {
            let bytes = database_bytes(&backend.url);
            assert!(contains(&bytes, "D-0012"), "the database file was read");
            for token in [&access_token, &refresh_token] {
                assert!(!contains(&bytes, token), "a token is in the database file");
            }
        }
    }
}

/// What the endpoint refuses to take, and what it takes after the custody ended: a clear
/// refusal, and the token revoked at once with `client_secret_post`; a custody with no token
/// is confirmed with "nothing to revoke", said in its outcome.
#[tokio::test]
async fn bad_or_late_registrations_are_refused_and_a_late_token_is_revoked_at_once() {
    for backend in support::every_backend().await {
        let authorization_server = AuthorizationServer::new(ClientAuthMethod::ClientSecretPost);
        let url = start_authorization_server(authorization_server.clone()).await;
        let (server, worker) = serve_with_idp(
            backend.storage.clone(),
            &url,
            ClientAuthMethod::ClientSecretPost,
        )
        .await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 91).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let checked_out = tablet_a.sign(check_out("D-0001", "S-0001"), start);
        tablet_a.push(&[checked_out]).await;
        let bearer = baton_token(&tablet_a, "D-0001", "S-0001").await;
        let token = issued_token("rt");
        let base = server.base_url.as_str();

        let refusals = [
            (
                None,
                registration("idp", &token, "refresh_token"),
                401,
                "invalid_token",
            ),
            (
                Some("not-a-baton-token"),
                registration("idp", &token, "refresh_token"),
                401,
                "invalid_token",
            ),
            (
                Some(bearer.as_str()),
                registration("mdm", &token, "refresh_token"),
                400,
                "unknown_connector",
            ),
            (
                Some(bearer.as_str()),
                registration("idp", &token, "id_token"),
                400,
                "bad_token_type_hint",
            ),
            (
                Some(bearer.as_str()),
                registration("idp", &"x".repeat(4097), "refresh_token"),
                400,
                "bad_token",
            ),
            (
                Some(bearer.as_str()),
                json!({ "connector": "idp", "token": token, "token_type_hint": "refresh_token", "device_id": "D-0002" }),
                400,
                "malformed_request",
            ),
        ];
        for (bearer, body, status, code) in refusals {
            let (answered, answer) = register(base, bearer, body).await;
            assert_eq!(
                (answered, answer["error"]["code"].as_str()),
                (status, Some(code)),
                "{answer}"
            );
            assert!(!answer.to_string().contains(&token));
        }
        assert!(
            stored_tokens(&backend.url).await.is_empty(),
            "nothing refused was stored"
        );

        // The custody ends with no token registered: confirmed, nothing to revoke, no request.
        let checked_in = tablet_a.sign(check_in("D-0001", "S-0001"), start + 1_000);
        tablet_a.push(&[checked_in]).await;
        let (_, detail, _) =
            wait_for_delivery(backend.storage.as_ref(), "D-0001", "confirmed").await;
        assert_eq!(
            detail.as_deref(),
            Some("nothing to revoke: no token was registered for this custody")
        );
        assert!(authorization_server.calls().is_empty());

        // A registration after the return is refused and the token revoked all the same.
        let (status, answer) = register(
            base,
            Some(bearer.as_str()),
            registration("idp", &token, "refresh_token"),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("custody_ended"))
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("revoked now")
        );
        let watched = authorization_server.clone();
        wait_for(move || watched.revoked().len() == 1).await;
        let (attempts, detail, _) =
            wait_for_delivery(backend.storage.as_ref(), "D-0001", "confirmed").await;
        assert_eq!(
            attempts, 1,
            "the reopened delivery starts its attempts afresh"
        );
        assert_eq!(
            detail.as_deref(),
            Some("revoked 1 registered token(s): 1 refresh, 0 access")
        );
        assert_eq!(
            authorization_server.revoked(),
            [(token.clone(), "refresh_token".to_owned())]
        );
        assert!(
            authorization_server
                .calls()
                .iter()
                .all(|call| call.authenticated)
        );
        assert!(
            stored_tokens(&backend.url)
                .await
                .iter()
                .all(|(_, sealed, _)| sealed.is_none())
        );

        // Another custody: at most 16 tokens, and the same token twice is stored once.
        let checked_out = tablet_a.sign(check_out("D-0002", "S-0002"), start + 2_000);
        tablet_a.push(&[checked_out]).await;
        let bearer = baton_token(&tablet_a, "D-0002", "S-0002").await;
        let first = issued_token("at");
        assert_eq!(
            register(
                base,
                Some(bearer.as_str()),
                registration("idp", &first, "access_token")
            )
            .await
            .0,
            201
        );
        assert_eq!(
            register(
                base,
                Some(bearer.as_str()),
                registration("idp", &first, "access_token")
            )
            .await
            .0,
            200
        );
        for _ in 1..16 {
            let (status, _) = register(
                base,
                Some(bearer.as_str()),
                registration("idp", &issued_token("at"), "access_token"),
            )
            .await;
            assert_eq!(status, 201);
        }
        let (status, answer) = register(
            base,
            Some(bearer.as_str()),
            registration("idp", &issued_token("at"), "access_token"),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (409, Some("too_many_tokens"))
        );
        assert_eq!(stored_tokens(&backend.url).await.len(), 17);
        worker.abort();
    }
}

/// 503 with `Retry-After` twice, then the endpoint recovers: no request comes sooner than it
/// asked, and each token is revoked once.
#[tokio::test]
async fn an_authorization_server_answering_503_is_retried_after_it_asks_and_revokes_once() {
    for backend in support::every_backend().await {
        let authorization_server = AuthorizationServer::new(ClientAuthMethod::ClientSecretBasic)
            .scripted(&[
                (503, Some("1"), r#"{"error":"temporarily_unavailable"}"#),
                (503, None, ""),
            ]);
        let url = start_authorization_server(authorization_server.clone()).await;
        let (server, worker) = serve_with_idp(
            backend.storage.clone(),
            &url,
            ClientAuthMethod::ClientSecretBasic,
        )
        .await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 92).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let checked_out = tablet_a.sign(check_out("D-0003", "S-0003"), start);
        tablet_a.push(&[checked_out]).await;
        let bearer = baton_token(&tablet_a, "D-0003", "S-0003").await;
        let (refresh_token, access_token) = (issued_token("rt"), issued_token("at"));
        for (token, hint) in [
            (&refresh_token, "refresh_token"),
            (&access_token, "access_token"),
        ] {
            let (status, answer) = register(
                &server.base_url,
                Some(bearer.as_str()),
                registration("idp", token, hint),
            )
            .await;
            assert_eq!(status, 201, "{answer}");
        }
        let checked_in = tablet_a.sign(check_in("D-0003", "S-0003"), start + 1_000);
        tablet_a.push(&[checked_in]).await;
        let (attempts, detail, _) =
            wait_for_delivery(backend.storage.as_ref(), "D-0003", "confirmed").await;
        worker.abort();

        let calls = authorization_server.calls();
        let tokens: Vec<&str> = calls.iter().map(|call| call.token.as_str()).collect();
        assert_eq!(
            tokens,
            [
                &refresh_token,
                &refresh_token,
                &refresh_token,
                &access_token
            ],
            "the refresh token is retried before the access token is sent"
        );
        assert!(
            calls[1].at.duration_since(calls[0].at) >= Duration::from_millis(1_000),
            "Retry-After: 1 was honoured"
        );
        assert_eq!(attempts, 3);
        assert_eq!(
            authorization_server.revoked(),
            [
                (refresh_token.clone(), "refresh_token".to_owned()),
                (access_token.clone(), "access_token".to_owned()),
            ]
        );
        assert_eq!(
            detail.as_deref(),
            Some("revoked 2 registered token(s): 1 refresh, 1 access")
        );
    }
}

/// `400 unsupported_token_type` cannot improve with retries: the delivery fails at once with
/// that reason (the other token is still revoked), and the dashboard shows access still open.
#[tokio::test]
async fn unsupported_token_type_fails_the_delivery_at_once_with_that_reason() {
    let backend = support::sqlite().await;
    let authorization_server = AuthorizationServer::new(ClientAuthMethod::ClientSecretBasic)
        .scripted(&[(400, None, r#"{"error":"unsupported_token_type"}"#)]);
    let url = start_authorization_server(authorization_server.clone()).await;
    let (server, worker) = serve_with_idp(
        backend.storage.clone(),
        &url,
        ClientAuthMethod::ClientSecretBasic,
    )
    .await;
    let manager = tablet::sign_in_manager(&server).await;
    let mut tablet_a = SimTablet::enroll(&server, &manager, 93).await;
    let start = baton_server::sync::now_ms() - 60_000;
    let checked_out = tablet_a.sign(check_out("D-0004", "S-0004"), start);
    tablet_a.push(&[checked_out]).await;
    let bearer = baton_token(&tablet_a, "D-0004", "S-0004").await;
    let (refresh_token, access_token) = (issued_token("rt"), issued_token("at"));
    for (token, hint) in [
        (&refresh_token, "refresh_token"),
        (&access_token, "access_token"),
    ] {
        assert_eq!(
            register(
                &server.base_url,
                Some(bearer.as_str()),
                registration("idp", token, hint)
            )
            .await
            .0,
            201
        );
    }
    let checked_in = tablet_a.sign(check_in("D-0004", "S-0004"), start + 1_000);
    tablet_a.push(&[checked_in]).await;
    let (attempts, _, error) =
        wait_for_delivery(backend.storage.as_ref(), "D-0004", "failed").await;
    worker.abort();
    assert_eq!(attempts, 1, "no retry");
    let error = error.unwrap();
    assert!(error.contains("unsupported_token_type"), "{error}");
    assert!(error.contains("refresh_token"), "{error}");
    assert!(!error.contains(&refresh_token));
    assert_eq!(
        authorization_server.revoked(),
        [(access_token.clone(), "access_token".to_owned())]
    );
    let stored = stored_tokens(&backend.url).await;
    assert_eq!(stored[0].0, "refresh_token");
    assert!(stored[0].1.is_some(), "the unrevoked token stays sealed");
    assert!(stored[1].1.is_none());
    let queue: Value = manager
        .client
        .get(format!("{}/api/v1/dashboard/exceptions", manager.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        queue["exceptions"][0]["kind"], "revocation_failed",
        "{queue}"
    );
}

/// The race a late registration could win: a worker has leased the delivery and found no token
/// when the app registers one. Recording "confirmed" then must not close the delivery: it is
/// due again, and the next attempt revokes the token.
#[tokio::test]
async fn a_token_registered_while_its_delivery_runs_is_not_missed() {
    for backend in support::every_backend().await {
        let authorization_server = AuthorizationServer::new(ClientAuthMethod::ClientSecretBasic);
        let url = start_authorization_server(authorization_server.clone()).await;
        let server = tablet::serve_custom(backend.storage.clone(), |state| {
            state.connectors = Arc::new(vec!["idp".to_owned()]);
            state.token_revocation_connectors = Arc::new(["idp".to_owned()].into_iter().collect());
            state.token_vault = Arc::new(TokenVault::from_key([7; 32]));
        })
        .await;
        let manager = tablet::sign_in_manager(&server).await;
        let mut tablet_a = SimTablet::enroll(&server, &manager, 94).await;
        let start = baton_server::sync::now_ms() - 60_000;
        let checked_out = tablet_a.sign(check_out("D-0005", "S-0005"), start);
        tablet_a.push(&[checked_out]).await;
        let bearer = baton_token(&tablet_a, "D-0005", "S-0005").await;
        let checked_in = tablet_a.sign(check_in("D-0005", "S-0005"), start + 1_000);
        tablet_a.push(&[checked_in]).await;

        // A worker leases the delivery and reads the custody's tokens: none yet.
        let now = baton_server::sync::now_ms() as i64;
        let leased = backend
            .storage
            .claim_due_deliveries(now, now + 30_000, 10)
            .await
            .unwrap();
        assert_eq!(leased.len(), 1);
        assert!(
            backend
                .storage
                .external_tokens_of(leased[0].revocation_id, "idp")
                .await
                .unwrap()
                .is_empty()
        );
        // Meanwhile the app registers a token: refused, and kept for revocation.
        let token = issued_token("rt");
        let (status, _) = register(
            &server.base_url,
            Some(bearer.as_str()),
            registration("idp", &token, "refresh_token"),
        )
        .await;
        assert_eq!(status, 409);
        // The worker records what it saw: the delivery is not closed.
        let closed = backend
            .storage
            .finish_delivery(
                leased[0].revocation_id,
                "idp",
                &baton_server::storage::DeliveryOutcome::Confirmed {
                    detail: Some("nothing to revoke".to_owned()),
                },
                now,
            )
            .await
            .unwrap();
        assert!(!closed);
        assert_eq!(
            idp_delivery(backend.storage.as_ref(), "D-0005")
                .await
                .unwrap()
                .0,
            "pending"
        );

        let worker = tokio::spawn(delivery_worker::run(
            backend.storage.clone(),
            Arc::new(vec![connector(&url, ClientAuthMethod::ClientSecretBasic)]),
            signer(),
            fast_policy(),
        ));
        let (_, detail, _) =
            wait_for_delivery(backend.storage.as_ref(), "D-0005", "confirmed").await;
        worker.abort();
        assert_eq!(
            authorization_server.revoked(),
            [(token.clone(), "refresh_token".to_owned())]
        );
        assert_eq!(
            detail.as_deref(),
            Some("revoked 1 registered token(s): 1 refresh, 0 access")
        );
    }
}
