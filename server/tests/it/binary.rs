//! The `baton` binary as an operator runs it: a real process on a real socket.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) struct RunningServer {
    child: Child,
    pub(crate) base_url: String,
    pub(crate) stdout_lines: Vec<String>,
    /// Everything printed after the address line: the log (text format goes to stdout).
    later_output: Arc<Mutex<String>>,
}

/// Starts `baton serve --demo` on a free port and waits for it to print its address.
pub(crate) fn start(data_dir: &std::path::Path) -> RunningServer {
    start_with(data_dir, &[])
}

/// `start` with more flags for `baton serve`.
pub(crate) fn start_with(data_dir: &std::path::Path, extra_flags: &[&str]) -> RunningServer {
    start_logging_to(data_dir, extra_flags, Stdio::null())
}

fn start_logging_to(
    data_dir: &std::path::Path,
    extra_flags: &[&str],
    stderr: Stdio,
) -> RunningServer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--demo", "--dist"])
        .arg(data_dir.join("no-dist"))
        .args(extra_flags)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("BATON_DATABASE_URL")
        .env_remove("BATON_TLS_CERT")
        .env_remove("BATON_TLS_KEY")
        .stderr(stderr);
    spawn_and_wait(command)
}

/// Runs a `baton serve` command the test built and waits for it to print its address.
#[expect(
    clippy::zombie_processes,
    reason = "the child moves into RunningServer, whose Drop kills and waits for it"
)]
pub(crate) fn spawn_and_wait(mut command: Command) -> RunningServer {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut stdout_lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let status = child.wait().unwrap();
            panic!("server exited early ({status}): {stdout_lines:?}");
        }
        stdout_lines.push(line.trim_end().to_owned());
        if let Some(address) = line.trim().strip_prefix("Baton is listening on ") {
            let base_url = address.trim_end_matches('/').to_owned();
            // Keep draining stdout so the server never blocks on a full pipe, and keep it for
            // tests that read the log.
            let later_output = Arc::new(Mutex::new(String::new()));
            let output = later_output.clone();
            std::thread::spawn(move || {
                for line in reader.lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap();
                    output.push_str(&line);
                    output.push('\n');
                }
            });
            return RunningServer {
                child,
                base_url,
                stdout_lines,
                later_output,
            };
        }
    }
}

impl RunningServer {
    /// The process id, to send it a signal.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server printed (its log) since it said where it listens.
    pub(crate) fn output_so_far(&self) -> String {
        self.later_output.lock().unwrap().clone()
    }
}

impl Drop for RunningServer {
    // A failed assertion must not leave a server running behind the test.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) fn terminate(mut server: RunningServer) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..100 {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.child.kill().unwrap();
    panic!("the server did not stop within 10 s of SIGTERM");
}

#[tokio::test]
async fn first_start_seeds_once_prints_credentials_and_stops_cleanly_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();

    let server = start(data_dir.path());
    let output = server.stdout_lines.join("\n");
    assert!(
        output.contains("Manager dashboard sign-in: username manager"),
        "{output}"
    );
    let health = reqwest::get(format!("{}/healthz", server.base_url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let credentials_path = data_dir.path().join("demo-credentials.txt");
    let first_credentials = std::fs::read_to_string(&credentials_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "demo secrets must be owner-only");
    }
    assert!(terminate(server).success());

    // A second start reuses the database: no new demo data, no new credentials.
    let server = start(data_dir.path());
    let output = server.stdout_lines.join("\n");
    assert!(!output.contains("First start"), "{output}");
    assert_eq!(
        std::fs::read_to_string(&credentials_path).unwrap(),
        first_credentials
    );
    let ready = reqwest::get(format!("{}/readyz", server.base_url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // `systemctl reload` (SIGHUP) does not end a server without TLS: it keeps answering.
    assert!(
        Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_hangup = reqwest::get(format!("{}/healthz", server.base_url)).await;
    assert!(
        after_hangup.is_ok_and(|response| response.status() == 200),
        "SIGHUP ended the server"
    );
    assert!(terminate(server).success());
}

#[tokio::test]
async fn an_open_live_stream_ends_at_sigterm_instead_of_holding_the_shutdown() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = start(data_dir.path());
    let line = server
        .stdout_lines
        .iter()
        .find_map(|line| line.strip_prefix("Manager dashboard sign-in: username "))
        .expect("the demo credentials are printed at first start")
        .to_owned();
    let (username, password) = line.split_once("  password ").unwrap();
    let manager =
        crate::tablet::sign_in_at(&server.base_url, username.trim(), password.trim()).await;
    let mut stream = manager
        .client
        .get(format!("{}/api/v1/dashboard/stream", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // The stream is open (keep-alives only); SIGTERM must still stop the server promptly.
    let status = tokio::task::spawn_blocking(move || terminate(server))
        .await
        .unwrap();
    assert!(status.success());
    // And the client sees the stream end rather than hang.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live stream did not end with the server");
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "BATON_LISTEN",
        "BATON_DATA_DIR",
        "BATON_DATABASE_URL",
        "BATON_DIST",
        "BATON_DEMO",
        "BATON_LOG",
    ] {
        assert!(help.contains(variable), "--help lacks {variable}:\n{help}");
    }
}

#[test]
fn a_bad_database_url_is_refused_with_a_message_that_says_what_to_use() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "serve",
            "--database-url",
            "mysql://x:secret@db/baton",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("use sqlite://PATH or postgres://"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "the password leaked: {stderr}");
}

#[tokio::test]
async fn the_first_admin_is_created_from_the_command_line() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "create-account",
            "--username",
            "root",
            "--role",
            "admin",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .env_remove("BATON_NEW_PASSWORD")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("Its password (shown once):"), "{stdout}");

    let url = format!(
        "sqlite://{}",
        data_dir.path().join("baton.sqlite3").display()
    );
    let storage = baton_server::storage::connect(&url).await.unwrap();
    let account = storage.find_account("root").await.unwrap().unwrap();
    assert_eq!(account.role, baton_server::storage::AccountRole::Admin);
    assert!(account.password_hash.starts_with("$argon2id$"));

    // A manager needs a site, and the username must be free.
    let refused = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "create-account",
            "--username",
            "m",
            "--role",
            "manager",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("give --site"));
    let duplicate = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "create-account",
            "--username",
            "root",
            "--role",
            "admin",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already in use"));
}

/// The session cookie a sign-in to `server` sets, with the demo manager's credentials.
async fn session_cookie(server: &RunningServer) -> String {
    let line = server
        .stdout_lines
        .iter()
        .find_map(|line| line.strip_prefix("Manager dashboard sign-in: username "))
        .expect("the demo credentials are printed at first start");
    let (username, password) = line.split_once("  password ").unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/sign-in", server.base_url))
        .json(&serde_json::json!({ "username": username.trim(), "password": password.trim() }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    cookies[0].clone()
}

/// The attributes of a Set-Cookie value after the name and value, as written.
fn cookie_attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|attribute| attribute.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn with_secure_cookies_the_session_cookie_is_secure_and_without_it_is_not() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = start_with(data_dir.path(), &["--secure-cookies"]);
    let cookie = session_cookie(&server).await;
    assert!(cookie.starts_with("baton_session="), "{cookie}");
    assert_eq!(
        cookie_attributes(&cookie),
        [
            "Path=/",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=43200",
            "Secure"
        ]
    );
    assert!(terminate(server).success());

    // Without the flag: a plain-HTTP deployment's cookie must not claim Secure, or browsers
    // would never send it back.
    let plain_data_dir = tempfile::tempdir().unwrap();
    let server = start(plain_data_dir.path());
    let cookie = session_cookie(&server).await;
    assert_eq!(
        cookie_attributes(&cookie),
        ["Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"]
    );
    assert!(terminate(server).success());
}
