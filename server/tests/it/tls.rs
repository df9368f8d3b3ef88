//! Built-in TLS (`baton serve --tls-cert --tls-key`) on the real binary over loopback: HTTPS with
//! HSTS and `Secure` cookies, HTTP/2, a tablet syncing, a renewed certificate served to new
//! connections without a restart, a broken renewal refused while the previous certificate keeps
//! serving, and settings that cannot work refused at start. The certificates are throwaway ones
//! made here with rcgen, so the test needs nothing installed.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::binary;
use crate::tablet::{self, SimTablet, check_in, check_out};

/// A certificate authority of the test's own and a server certificate it issued for 127.0.0.1.
struct Issued {
    authority_pem: String,
    certificate_pem: String,
    certificate_der: Vec<u8>,
    key_pem: String,
}

fn issue(authority_name: &str) -> Issued {
    let mut authority_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    authority_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, authority_name);
    authority_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let authority =
        rcgen::CertifiedIssuer::self_signed(authority_params, rcgen::KeyPair::generate().unwrap())
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &authority)
            .unwrap();
    Issued {
        authority_pem: authority.pem(),
        certificate_pem: certificate.pem(),
        certificate_der: certificate.der().to_vec(),
        key_pem: key.serialize_pem(),
    }
}

/// Writes a file the way certbot and most deploy hooks do: a new file renamed over the old
/// one, so that a reader sees the old or the new contents, never half of them.
fn replace_file(path: &Path, contents: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// A client that trusts only the given authorities (no public roots) and reports the server's
/// certificate.
fn client_trusting(authorities: &[&str]) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .tls_info(true)
        .cookie_store(true)
        .timeout(Duration::from_secs(10));
    for authority in authorities {
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_pem(authority.as_bytes()).unwrap());
    }
    builder
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the response came over TLS")
        .to_vec()
}

/// A fresh client (so a fresh connection and handshake) trusting only `authority`, asking
/// `/healthz`.
async fn healthz_trusting(base_url: &str, authority: &str) -> reqwest::Result<reqwest::Response> {
    client_trusting(&[authority])
        .build()
        .unwrap()
        .get(format!("{base_url}/healthz"))
        .send()
        .await
}

/// Waits until the server's log contains `needle`, or fails after `limit`.
async fn wait_for_log(server: &binary::RunningServer, needle: &str, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let log = server.output_so_far();
        if log.contains(needle) {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not log {needle:?} within {limit:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn demo_manager(server: &binary::RunningServer) -> (String, String) {
    let line = server
        .stdout_lines
        .iter()
        .find_map(|line| line.strip_prefix("Manager dashboard sign-in: username "))
        .expect("the demo credentials are printed at first start");
    let (username, password) = line.split_once("  password ").unwrap();
    (username.trim().to_owned(), password.trim().to_owned())
}

#[tokio::test]
async fn built_in_tls_serves_https_and_takes_a_renewed_certificate_without_a_restart() {
    let data_dir = tempfile::tempdir().unwrap();
    let tls_dir = tempfile::tempdir().unwrap();
    let certificate_file = tls_dir.path().join("fullchain.pem");
    let key_file = tls_dir.path().join("privkey.pem");
    let first = issue("Baton test authority 1");
    let second = issue("Baton test authority 2");
    std::fs::write(&certificate_file, &first.certificate_pem).unwrap();
    std::fs::write(&key_file, &first.key_pem).unwrap();

    let server = binary::start_with(
        data_dir.path(),
        &[
            "--tls-cert",
            certificate_file.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
            "--log-level",
            "info",
        ],
    );
    let base_url = server.base_url.clone();
    assert!(
        base_url.starts_with("https://127.0.0.1:"),
        "the start-up line must say where to open it: {:?}",
        server.stdout_lines
    );

    // HTTPS with HSTS, over HTTP/2 when the client offers it, the first certificate.
    let health = healthz_trusting(&base_url, &first.authority_pem)
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
    assert_eq!(peer_certificate(&health), first.certificate_der);
    assert_eq!(health.text().await.unwrap(), "ok");

    // HTTP/1.1 on TLS 1.2, and TLS 1.3, both work.
    for (name, builder) in [
        (
            "HTTP/1.1 over TLS 1.2",
            client_trusting(&[&first.authority_pem])
                .http1_only()
                .max_tls_version(reqwest::tls::Version::TLS_1_2),
        ),
        (
            "TLS 1.3",
            client_trusting(&[&first.authority_pem])
                .min_tls_version(reqwest::tls::Version::TLS_1_3),
        ),
    ] {
        let response = builder
            .build()
            .unwrap()
            .get(format!("{base_url}/healthz"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("{name}: {error:?}"));
        assert_eq!(response.status(), 200, "{name}");
    }

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!(
            "{}/healthz",
            base_url.replacen("https://", "http://", 1)
        ))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP must not be served on the TLS port: {plain:?}"
    );

    // A manager signs in over HTTPS: the session cookie is Secure without --secure-cookies.
    let (username, password) = demo_manager(&server);
    let both_authorities = [first.authority_pem.as_str(), second.authority_pem.as_str()];
    let manager = tablet::sign_in_with(
        client_trusting(&both_authorities).build().unwrap(),
        &base_url,
        &username,
        &password,
    )
    .await;
    // (Another client: a second sign-in replaces the manager's session and its CSRF token.)
    let sign_in_again = client_trusting(&both_authorities)
        .build()
        .unwrap()
        .post(format!("{base_url}/api/v1/auth/sign-in"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = sign_in_again
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert!(
        !cookies.is_empty() && cookies.iter().all(|cookie| cookie.contains("; Secure")),
        "{cookies:?}"
    );

    // The board's live stream, opened on a connection made with the first certificate.
    let live_client = client_trusting(&both_authorities).build().unwrap();
    let mut stream = tablet::sign_in_with(live_client, &base_url, &username, &password)
        .await
        .client
        .get(format!("{base_url}/api/v1/dashboard/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(peer_certificate(&stream), first.certificate_der);

    // A tablet enrolls and syncs over HTTPS.
    let mut tablet = SimTablet::enroll_with(
        &base_url,
        client_trusting(&both_authorities).build().unwrap(),
        &manager,
        91,
    )
    .await;
    let checked_out = tablet.sign(
        check_out("D-0001", "S-0005"),
        baton_server::sync::now_ms() - 2_000,
    );
    let receipts = tablet.push(std::slice::from_ref(&checked_out)).await;
    assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
    let pulled = tablet.pull_all(100).await;
    assert!(pulled.iter().any(|event| event.id() == checked_out.id()));

    // Renewal: the second authority's certificate replaces the first in the files. New
    // connections get it within the reload interval, without a restart.
    replace_file(&key_file, &second.key_pem);
    replace_file(&certificate_file, &second.certificate_pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let renewed = loop {
        if let Ok(response) = healthz_trusting(&base_url, &second.authority_pem).await {
            break response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections did not get the renewed certificate within 20 s:\n{}",
            server.output_so_far()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(renewed.status(), 200);
    assert_eq!(peer_certificate(&renewed), second.certificate_der);
    assert!(
        healthz_trusting(&base_url, &first.authority_pem)
            .await
            .is_err(),
        "a new connection still got the first certificate after the renewal"
    );
    wait_for_log(&server, "TLS certificate reloaded", Duration::from_secs(5)).await;

    // A broken renewal (garbage in the certificate file), noticed at SIGHUP: refused and
    // logged, and the renewed certificate keeps serving new connections.
    replace_file(&certificate_file, "-----BEGIN CERTIFICATE-----\ngarbage\n");
    assert!(
        Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // SIGHUP is logged either as the trigger of the refusal or, had the 5 s timer looked first,
    // as finding the files unchanged since.
    wait_for_log(&server, "SIGHUP", Duration::from_secs(10)).await;
    let log = wait_for_log(
        &server,
        "TLS certificate not reloaded",
        Duration::from_secs(10),
    )
    .await;
    assert!(log.contains("fullchain.pem"), "{log}");
    let still_serving = healthz_trusting(&base_url, &second.authority_pem)
        .await
        .expect("the renewed certificate must keep serving after a broken renewal");
    assert_eq!(peer_certificate(&still_serving), second.certificate_der);
    // Neither key reached the log.
    for key_pem in [&first.key_pem, &second.key_pem] {
        let key_line = key_pem.lines().nth(1).unwrap();
        assert!(!log.contains(key_line), "key material in the log:\n{log}");
    }

    // The connection opened before the renewal still carries the live stream: a check-in
    // pushed now arrives on it.
    let checked_in = tablet.sign(
        check_in("D-0001", "S-0005"),
        baton_server::sync::now_ms() - 1_000,
    );
    let receipts: Vec<Value> = tablet.push(std::slice::from_ref(&checked_in)).await;
    assert_eq!(receipts[0]["status"], "accepted", "{receipts:?}");
    let pulled = tablet
        .request(Method::GET, "/api/v1/sync/pull?after=0", Vec::new())
        .await;
    assert_eq!(pulled.status(), 200);
    let checked_in_id = checked_in.id().to_hex();
    let mut received = String::new();
    let arrived = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.chunk().await.unwrap() {
            received.push_str(&String::from_utf8_lossy(&chunk));
            if received.contains(&checked_in_id) {
                return;
            }
        }
    })
    .await;
    assert!(
        arrived.is_ok(),
        "the check-in did not reach the live stream within 10 s; got {received:?}"
    );

    // SIGTERM with the live stream open over TLS: the server stops promptly, the stream ends.
    let status = tokio::task::spawn_blocking(move || binary::terminate(server))
        .await
        .unwrap();
    assert!(status.success());
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live stream did not end with the server");
}

/// Runs `baton serve` with `arguments` and the TLS variables in `environment`, expecting it to
/// refuse to start; returns its error output.
fn refused_start(data_dir: &Path, arguments: &[&str], environment: &[(&str, &Path)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(arguments)
        .env_remove("BATON_DATABASE_URL")
        .env_remove("BATON_TLS_CERT")
        .env_remove("BATON_TLS_KEY");
    for (variable, value) in environment {
        command.env(variable, value);
    }
    let output = command.output().unwrap();
    assert!(
        !output.status.success(),
        "baton serve started with {arguments:?} {environment:?}"
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn tls_settings_that_cannot_work_stop_the_start_with_what_to_fix() {
    let data_dir = tempfile::tempdir().unwrap();
    let tls_dir = tempfile::tempdir().unwrap();
    let first = issue("Baton test authority 1");
    let second = issue("Baton test authority 2");
    let certificate_file = tls_dir.path().join("cert.pem");
    let other_key_file = tls_dir.path().join("other-key.pem");
    let garbage_file = tls_dir.path().join("garbage.pem");
    std::fs::write(&certificate_file, &first.certificate_pem).unwrap();
    std::fs::write(&other_key_file, &second.key_pem).unwrap();
    std::fs::write(&garbage_file, "not PEM at all").unwrap();
    let path = |file: &Path| file.to_str().unwrap().to_owned();

    let only_certificate = refused_start(
        data_dir.path(),
        &["--tls-cert", &path(&certificate_file)],
        &[],
    );
    assert!(
        only_certificate.contains("--tls-key (BATON_TLS_KEY) is not"),
        "{only_certificate}"
    );

    let only_key_variable = refused_start(
        data_dir.path(),
        &[],
        &[("BATON_TLS_KEY", other_key_file.as_path())],
    );
    assert!(
        only_key_variable.contains("--tls-cert (BATON_TLS_CERT) is not"),
        "{only_key_variable}"
    );

    let unreadable = refused_start(
        data_dir.path(),
        &[
            "--tls-cert",
            &path(&tls_dir.path().join("missing.pem")),
            "--tls-key",
            &path(&other_key_file),
        ],
        &[],
    );
    assert!(
        unreadable.contains("cannot read the TLS certificate file")
            && unreadable.contains("missing.pem"),
        "{unreadable}"
    );

    let no_certificate = refused_start(
        data_dir.path(),
        &[
            "--tls-cert",
            &path(&garbage_file),
            "--tls-key",
            &path(&other_key_file),
        ],
        &[],
    );
    assert!(
        no_certificate.contains("holds no PEM certificate"),
        "{no_certificate}"
    );

    // Through the variables, as systemd's environment file gives them.
    let mismatch = refused_start(
        data_dir.path(),
        &[],
        &[
            ("BATON_TLS_CERT", certificate_file.as_path()),
            ("BATON_TLS_KEY", other_key_file.as_path()),
        ],
    );
    assert!(
        mismatch.contains("does not belong to the certificate"),
        "{mismatch}"
    );
    let key_line = second.key_pem.lines().nth(1).unwrap();
    assert!(!mismatch.contains(key_line), "key material in: {mismatch}");
}
