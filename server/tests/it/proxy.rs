//! deploy/nginx.conf in front of the real binary: nginx (Debian's) runs that very file on
//! loopback, with only its ports, upstream and certificate paths substituted, and a sync request,
//! the dashboard's live stream, the security headers and the client address for the rate
//! limits must come through it. Then two `baton` processes on one PostgreSQL behind it, as
//! docs/OPERATIONS.md's "Several nodes" describes. Skipped with a message when nginx or openssl
//! (or, for two nodes, the test PostgreSQL) is missing (`apt-get install -y nginx openssl`);
//! under `CI=true` their absence fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::tablet::{self, SimTablet, check_in, check_out};
use crate::{binary, connectors};

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Replaces `from` (which must occur exactly once: the test fails when the deployed file
/// changes shape) with `to`.
fn substitute(config: &str, from: &str, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        1,
        "deploy/nginx.conf should contain {from:?} once; update tests/it/proxy.rs with it"
    );
    config.replace(from, to)
}

struct Nginx {
    child: Child,
    directory: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.directory.join("error.log")).unwrap_or_default()
    }

    /// One line per finished request: `METHOD URI STATUS UPSTREAM` (the node that served it).
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.directory.join("access.log")).unwrap_or_default()
    }
}

/// nginx, or `None` (the test skips) when nginx or openssl is missing outside CI.
fn nginx_or_skip() -> Option<PathBuf> {
    let (Some(nginx), Some(_openssl)) = (find_program("nginx"), find_program("openssl")) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "nginx and openssl are required under CI=true: apt-get install -y nginx openssl"
            );
        }
        eprintln!(
            "skipping the nginx test: nginx or openssl is not installed (apt-get install -y nginx openssl)"
        );
        return None;
    };
    Some(nginx)
}

/// nginx with deploy/nginx.conf, its upstream block listing `backends` (one node each, as the
/// file's comment tells an operator to do for several nodes).
fn start_nginx(
    nginx: &Path,
    directory: &Path,
    backends: &[&str],
    tls_port: u16,
    http_port: u16,
) -> Nginx {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(directory.join("key.pem"))
        .arg("-out")
        .arg(directory.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "openssl could not make a test certificate"
    );

    let deployed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf"))
            .unwrap();
    let upstream_servers: Vec<String> = backends
        .iter()
        .map(|backend| format!("server {backend};"))
        .collect();
    let mut site = substitute(
        &deployed,
        "server 127.0.0.1:8080;",
        &upstream_servers.join("\n    "),
    );
    site = substitute(
        &site,
        "listen 443 ssl http2;",
        &format!("listen 127.0.0.1:{tls_port} ssl http2;"),
    );
    site = substitute(&site, "listen [::]:443 ssl http2;", "");
    site = substitute(
        &site,
        "listen 80;",
        &format!("listen 127.0.0.1:{http_port};"),
    );
    site = substitute(&site, "listen [::]:80;", "");
    site = substitute(
        &site,
        "/etc/ssl/baton/fullchain.pem",
        &directory.join("cert.pem").display().to_string(),
    );
    site = substitute(
        &site,
        "/etc/ssl/baton/privkey.pem",
        &directory.join("key.pem").display().to_string(),
    );
    std::fs::write(directory.join("baton.conf"), site).unwrap();
    let d = directory.display();
    // One process, in the foreground, everything under the test's directory.
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  log_format upstreams '$request_method $uri $status $upstream_addr';\n  \
         access_log {d}/access.log upstreams;\n  client_body_temp_path {d}/client_body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
         scgi_temp_path {d}/scgi;\n  include {d}/baton.conf;\n}}\n"
    );
    std::fs::write(directory.join("nginx.conf"), main).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(directory)
        .arg("-c")
        .arg(directory.join("nginx.conf"))
        .arg("-e")
        .arg(directory.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Nginx {
        child,
        directory: directory.to_owned(),
    }
}

#[tokio::test]
async fn sync_the_live_stream_and_security_headers_pass_through_the_deployed_nginx_config() {
    let Some(nginx) = nginx_or_skip() else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    // As deploy/baton.service runs it: nginx on loopback is the trusted proxy.
    let server = binary::start_with(
        data_dir.path(),
        &[
            "--secure-cookies",
            "--trusted-proxies",
            "127.0.0.1",
            "--address-rate-per-minute",
            "1",
            "--address-rate-burst",
            "3",
        ],
    );
    let backend = server.base_url.trim_start_matches("http://").to_owned();
    let nginx_dir = tempfile::tempdir().unwrap();
    let (tls_port, http_port) = (free_port(), free_port());
    let proxy = start_nginx(&nginx, nginx_dir.path(), &[&backend], tls_port, http_port);
    let proxy_url = format!("https://127.0.0.1:{tls_port}");
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // nginx is up once /healthz answers through it.
    let mut health = None;
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{proxy_url}/healthz")).send().await {
            health = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = health.unwrap_or_else(|| panic!("nginx did not start:\n{}", proxy.error_log()));
    assert_eq!(health.status(), 200);
    let headers = health.headers();
    assert_eq!(
        headers["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert!(
        headers.contains_key("content-security-policy"),
        "{headers:?}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // Plain HTTP is redirected to HTTPS.
    let redirect = client
        .get(format!("http://127.0.0.1:{http_port}/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 301);
    assert!(
        redirect.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://127.0.0.1")
    );

    // A manager signs in through the proxy; the session cookie is Secure.
    let (username, password) = {
        let line = server
            .stdout_lines
            .iter()
            .find_map(|line| line.strip_prefix("Manager dashboard sign-in: username "))
            .unwrap();
        let (username, password) = line.split_once("  password ").unwrap();
        (username.trim().to_owned(), password.trim().to_owned())
    };
    let sign_in = client
        .post(format!("{proxy_url}/api/v1/auth/sign-in"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 200);
    let cookies: Vec<String> = sign_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|cookie| cookie.contains("Secure")),
        "{cookies:?}"
    );

    // Through the proxy, each client is limited by the address nginx saw (what a client writes
    // in its own X-Forwarded-For is kept left of it and not believed), not by nginx's address.
    let wrong_sign_in = |client_address: &'static str| {
        client
            .post(format!("{proxy_url}/api/v1/auth/sign-in"))
            .header("x-forwarded-for", client_address)
            .json(&json!({ "username": "nobody", "password": "wrong password" }))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(wrong_sign_in("198.51.100.1").await.unwrap().status(), 401);
    }
    let limited = wrong_sign_in("198.51.100.1").await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(wrong_sign_in("198.51.100.2").await.unwrap().status(), 401);

    // The board's live stream is open through the proxy before the tablet pushes.
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .get(format!("{proxy_url}/api/v1/dashboard/stream"))
            .send(),
    )
    .await
    .expect("the live stream's headers did not come through the proxy within 10 s (buffered?)")
    .unwrap();
    assert_eq!(stream.status(), 200);
    // HTTP/2, as browsers reach nginx: the stream's first bytes must free its headers at once.
    assert_eq!(stream.version(), reqwest::Version::HTTP_2);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    let manager = tablet::sign_in_at(&server.base_url, &username, &password).await;
    let enrolled = SimTablet::enroll_at(&server.base_url, &manager, 80).await;
    let mut tablet = enrolled.through(&proxy_url, client.clone());
    let event = tablet.sign(
        check_out("D-0001", "S-0005"),
        baton_server::sync::now_ms() - 1_000,
    );
    let receipts: Vec<Value> = tablet.push(std::slice::from_ref(&event)).await;
    assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
    let pulled = tablet
        .request(Method::GET, "/api/v1/sync/pull?after=0", Vec::new())
        .await;
    assert_eq!(pulled.status(), 200);

    let event_id = event.id().to_hex();
    let mut received = String::new();
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            received.push_str(&String::from_utf8_lossy(&chunk));
            if received.contains("event: custody") && received.contains(&event_id) {
                return;
            }
        }
    })
    .await;
    assert!(
        arrived.is_ok(),
        "the custody event did not come through the proxy within 10 s; got {received:?}\n{}",
        proxy.error_log()
    );
    drop(stream);
    // nginx goes first: an open live stream holds the server's graceful shutdown (see
    // docs/OPERATIONS.md, "Stopping"), and nginx only notices the client left at the next write.
    drop(proxy);
    assert!(binary::terminate(server).success());
}

/// A `baton serve` node on the shared PostgreSQL database, with its own data directory but the
/// shared server key, the webhook connector, and metrics.
fn start_node(
    directory: &Path,
    database_url: &str,
    server_key_file: &Path,
    connectors_file: &Path,
) -> binary::RunningServer {
    std::fs::create_dir_all(directory).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .arg("--data-dir")
        .arg(directory)
        .arg("--dist")
        .arg(directory.join("no-dist"))
        .arg("--server-key-file")
        .arg(server_key_file)
        .arg("--connectors-file")
        .arg(connectors_file)
        .args(["--metrics-token", METRICS_TOKEN])
        .env_remove("BATON_DATABASE_URL")
        .env_remove("BATON_TLS_CERT")
        .env_remove("BATON_TLS_KEY")
        .stderr(Stdio::null());
    binary::spawn_and_wait(command)
}

const METRICS_TOKEN: &str = "two-nodes-metrics-token";

/// The push requests a node served, from its own `/metrics` (asked directly, not through nginx).
async fn pushes_served(node: &binary::RunningServer) -> u64 {
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", node.base_url))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("baton_sync_requests_total{route=\"push\"} "))
        .unwrap_or_else(|| panic!("no push counter in:\n{metrics}"))
        .parse()
        .unwrap()
}

/// A client for nginx's test certificate, HTTP/2 as a browser would use.
fn proxy_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Reads a live stream until it has announced every one of `event_ids`.
async fn read_until_announced(
    stream: &mut reqwest::Response,
    event_ids: &[String],
    received: &mut String,
) {
    while !event_ids.iter().all(|id| received.contains(id.as_str())) {
        match stream.chunk().await.unwrap() {
            Some(chunk) => received.push_str(&String::from_utf8_lossy(&chunk)),
            None => return,
        }
    }
}

#[tokio::test]
async fn two_nodes_on_one_postgresql_behind_nginx_share_ingest_sync_the_live_stream_and_revocation()
{
    let Some(nginx) = nginx_or_skip() else {
        return;
    };
    let Some(database) = crate::support::postgres().await else {
        return;
    };
    let (site, credentials) = baton_server::seed::demo_site().unwrap();
    database.storage.import_site(&site).await.unwrap();

    // The MDM's webhook receiver checks every signature and applies each idempotency key once.
    let receiver = connectors::Receiver::default();
    let receiver_url = connectors::start_receiver(receiver.clone()).await;
    let shared = tempfile::tempdir().unwrap();
    let connectors_file = shared.path().join("connectors.json");
    std::fs::write(
        &connectors_file,
        serde_json::to_vec(&json!([{
            "kind": "webhook",
            "name": "mdm",
            "url": receiver_url,
            "secret": connectors::SECRET,
        }]))
        .unwrap(),
    )
    .unwrap();
    // The first node creates the server key; the second must sign with the same one.
    let server_key_file = shared.path().join("server-ed25519.key");
    let node_1 = start_node(
        &shared.path().join("node-1"),
        &database.url,
        &server_key_file,
        &connectors_file,
    );
    let node_2 = start_node(
        &shared.path().join("node-2"),
        &database.url,
        &server_key_file,
        &connectors_file,
    );
    let node_addresses: Vec<String> = [&node_1, &node_2]
        .iter()
        .map(|node| node.base_url.trim_start_matches("http://").to_owned())
        .collect();

    let nginx_dir = tempfile::tempdir().unwrap();
    let (tls_port, http_port) = (free_port(), free_port());
    let proxy = start_nginx(
        &nginx,
        nginx_dir.path(),
        &[&node_addresses[0], &node_addresses[1]],
        tls_port,
        http_port,
    );
    let proxy_url = format!("https://127.0.0.1:{tls_port}");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(response) = proxy_client()
            .get(format!("{proxy_url}/readyz"))
            .send()
            .await
        {
            up = response.status() == 200;
            if up {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "nginx did not start:\n{}", proxy.error_log());

    // A manager signs in through nginx; the session (stored in PostgreSQL) works on either node.
    let manager = tablet::sign_in_with(
        proxy_client(),
        &proxy_url,
        &credentials.manager_username,
        &credentials.manager_password,
    )
    .await;
    // Two live streams opened one after the other: round-robin puts one on each node (the
    // access log shows which, once they end).
    let mut streams = Vec::new();
    for _ in 0..2 {
        let stream = manager
            .client
            .get(format!("{proxy_url}/api/v1/dashboard/stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        streams.push(stream);
    }

    // Two tablets enroll through nginx.
    let mut tablet_a = SimTablet::enroll_with(&proxy_url, proxy_client(), &manager, 71).await;
    let tablet_b = SimTablet::enroll_with(&proxy_url, proxy_client(), &manager, 72).await;

    // Tablet A pushes six times in a row: four check-outs, then two check-ins, each its own
    // request, so round-robin spreads them over both nodes. The check-ins end two custodies:
    // two revocations for the webhook.
    let start = baton_server::sync::now_ms() - 60_000;
    let mut pushed = Vec::new();
    for (index, device) in ["D-0001", "D-0002", "D-0003", "D-0004"].iter().enumerate() {
        let staff = format!("S-{:04}", index + 5);
        pushed.push(tablet_a.sign(check_out(device, &staff), start + index as u64 * 1_000));
    }
    for (index, device) in ["D-0001", "D-0002"].iter().enumerate() {
        let staff = format!("S-{:04}", index + 5);
        pushed.push(tablet_a.sign(
            check_in(device, &staff),
            start + 10_000 + index as u64 * 1_000,
        ));
    }
    for event in &pushed {
        let receipts = tablet_a.push(std::slice::from_ref(event)).await;
        assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
    }
    let (pushes_1, pushes_2) = (pushes_served(&node_1).await, pushes_served(&node_2).await);
    assert_eq!(pushes_1 + pushes_2, 6, "every push reached a node");
    assert!(
        pushes_1 > 0 && pushes_2 > 0,
        "nginx sent every push to one node ({pushes_1} and {pushes_2})"
    );

    // Tablet B, through nginx, pulls everything tablet A pushed through both nodes.
    let pulled: Vec<String> = tablet_b
        .pull_all(2)
        .await
        .iter()
        .map(|event| event.id().to_hex())
        .collect();
    let pushed_ids: Vec<String> = pushed.iter().map(|event| event.id().to_hex()).collect();
    for id in &pushed_ids {
        assert!(
            pulled.contains(id),
            "tablet B did not pull {id}: {pulled:?}"
        );
    }

    // Each live stream announces every event, those pushed through the other node included.
    let mut received = [String::new(), String::new()];
    for (stream, text) in streams.iter_mut().zip(received.iter_mut()) {
        let announced = tokio::time::timeout(
            Duration::from_secs(15),
            read_until_announced(stream, &pushed_ids, text),
        )
        .await;
        assert!(
            announced.is_ok() && pushed_ids.iter().all(|id| text.contains(id.as_str())),
            "a live stream did not announce every event within 15 s; got {text:?}"
        );
    }

    // Both nodes run a delivery worker; each revocation still reaches the MDM exactly once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while receiver.applied.lock().unwrap().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the two revocations were not delivered within 20 s: {:?}",
            receiver.seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Twenty poll intervals of each worker: time for a second delivery, if there were one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen_keys: Vec<String> = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(key, _)| key.clone())
        .collect();
    assert_eq!(
        seen_keys.len(),
        2,
        "each revocation must be sent once, not once per node: {seen_keys:?}"
    );
    assert_ne!(seen_keys[0], seen_keys[1]);
    assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);
    let revocations: Value = manager
        .client
        .get(format!("{proxy_url}/api/v1/dashboard/revocations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_statuses: Vec<&str> = revocations["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|revocation| revocation["deliveries"].as_array().unwrap())
        .filter(|delivery| delivery["connector"] == "mdm")
        .map(|delivery| delivery["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        webhook_statuses,
        ["confirmed", "confirmed"],
        "{revocations}"
    );

    // Both nodes stop at SIGTERM, ending the live streams; nginx then logs which node served
    // each stream: one each, so each stream above announced events pushed through the other.
    for node in [node_1, node_2] {
        let status = tokio::task::spawn_blocking(move || binary::terminate(node))
            .await
            .unwrap();
        assert!(status.success());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let stream_upstreams = loop {
        let access_log = proxy.access_log();
        let upstreams: Vec<String> = access_log
            .lines()
            .filter_map(|line| line.strip_prefix("GET /api/v1/dashboard/stream "))
            .filter_map(|rest| rest.split_whitespace().nth(1).map(str::to_owned))
            .collect();
        if upstreams.len() == 2 {
            break upstreams;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nginx did not log both live streams:\n{access_log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sorted_upstreams = stream_upstreams.clone();
    sorted_upstreams.sort();
    let mut sorted_nodes = node_addresses.clone();
    sorted_nodes.sort();
    assert_eq!(
        sorted_upstreams, sorted_nodes,
        "the two live streams should have been served by different nodes"
    );
}
