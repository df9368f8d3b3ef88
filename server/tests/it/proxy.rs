//! deploy/nginx.conf in front of the real binary: nginx (Debian's) runs that very file on
//! loopback, with only its ports, upstream and certificate paths substituted, and a sync request,
//! the dashboard's live stream, the security headers and the client address for the rate
//! limits must come through it. Skipped with a
//! message when nginx or openssl is not installed (`apt-get install -y nginx openssl`); under
//! `CI=true` their absence fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::binary;
use crate::tablet::{self, SimTablet, check_out};

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
}

fn start_nginx(
    nginx: &Path,
    directory: &Path,
    backend: &str,
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
    let mut site = substitute(
        &deployed,
        "server 127.0.0.1:8080;",
        &format!("server {backend};"),
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
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/client_body;\n  \
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
    let (Some(nginx), Some(_openssl)) = (find_program("nginx"), find_program("openssl")) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "nginx and openssl are required under CI=true: apt-get install -y nginx openssl"
            );
        }
        eprintln!(
            "skipping the nginx test: nginx or openssl is not installed (apt-get install -y nginx openssl)"
        );
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
    let proxy = start_nginx(&nginx, nginx_dir.path(), &backend, tls_port, http_port);
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
