//! Built-in TLS: `baton serve --tls-cert FILE --tls-key FILE`.
//!
//! rustls (ring provider, TLS 1.2 and 1.3 only, ALPN `h2` and `http/1.1`) terminates TLS in the
//! process, for a deployment without a reverse proxy. `TlsListener` plugs the handshake into
//! `axum::serve` through axum's `Listener` trait, so the graceful shutdown that ends the live
//! streams at SIGTERM is the same with and without TLS.
//!
//! Certificates are renewed without a restart: `watch_for_changes` re-reads both files every
//! `RELOAD_INTERVAL` and at SIGHUP. A pair whose bytes changed is parsed and checked (a
//! certificate, a key, the key belongs to the certificate) before it replaces the one in use;
//! new connections get it at their next handshake, open ones keep theirs. A bad pair (garbage, a
//! half-written renewal, a key of another certificate) is logged and the previous pair keeps
//! serving. Key material is never logged: only paths and the certificate's SHA-256 fingerprint.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How often the certificate and key files are compared with the pair in use.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// A client that has not finished its handshake by then is dropped, so that slow or silent
/// clients cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; beyond it, new connections wait in the kernel's backlog.
const MAX_CONCURRENT_HANDSHAKES: usize = 512;

/// The `Strict-Transport-Security` value sent when TLS is built in: the same as
/// deploy/nginx.conf, two years with subdomains.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// Why a certificate and key pair cannot be used. Each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {source}")]
    ReadCertificate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the TLS key file {path}: {source}")]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the TLS certificate file {path} holds no PEM certificate ({reason}): give the \
         certificate chain in PEM, the server's certificate first (`-----BEGIN CERTIFICATE-----`)"
    )]
    NoCertificate { path: PathBuf, reason: String },
    #[error(
        "the TLS key file {path} holds no PEM private key ({reason}): give the certificate's \
         private key in PEM, unencrypted (`-----BEGIN PRIVATE KEY-----`, or an RSA or EC key)"
    )]
    NoKey { path: PathBuf, reason: String },
    #[error(
        "the private key in {key_path} does not belong to the certificate in {certificate_path}: \
         give the key the certificate was issued for (renewals replace both files)"
    )]
    KeyMismatch {
        certificate_path: PathBuf,
        key_path: PathBuf,
    },
    #[error("the TLS certificate {certificate_path} and key {key_path} cannot be used: {reason}")]
    Unusable {
        certificate_path: PathBuf,
        key_path: PathBuf,
        reason: String,
    },
}

/// Where the certificate chain and its key are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// The raw bytes of both files, read together so that a change to either is seen.
struct PairBytes {
    certificate: Vec<u8>,
    key: Vec<u8>,
}

impl PairBytes {
    fn read(files: &TlsFiles) -> Result<PairBytes, TlsError> {
        let certificate =
            std::fs::read(&files.certificate).map_err(|source| TlsError::ReadCertificate {
                path: files.certificate.clone(),
                source,
            })?;
        let key = std::fs::read(&files.key).map_err(|source| TlsError::ReadKey {
            path: files.key.clone(),
            source,
        })?;
        Ok(PairBytes { certificate, key })
    }

    /// Identifies the contents of both files, to tell a change from the pair already tried.
    fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update((self.certificate.len() as u64).to_be_bytes());
        hasher.update(&self.certificate);
        hasher.update(&self.key);
        hasher.finalize().into()
    }

    fn parse(&self, files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&self.certificate)
            .collect::<Result<_, _>>()
            .map_err(|error| TlsError::NoCertificate {
                path: files.certificate.clone(),
                reason: error.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: files.certificate.clone(),
                reason: "no CERTIFICATE section found".to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key).map_err(|error| TlsError::NoKey {
            path: files.key.clone(),
            reason: match error {
                rustls_pki_types::pem::Error::NoItemsFound => "no private key section found".into(),
                other => other.to_string(),
            },
        })?;
        CertifiedKey::from_der(chain, key, &crypto_provider()).map_err(|error| match error {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    certificate_path: files.certificate.clone(),
                    key_path: files.key.clone(),
                }
            }
            other => TlsError::Unusable {
                certificate_path: files.certificate.clone(),
                key_path: files.key.clone(),
                reason: other.to_string(),
            },
        })
    }
}

fn crypto_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The SHA-256 fingerprint of the pair's server certificate, as `openssl x509 -fingerprint
/// -sha256` prints it: public, safe to log, and what an operator compares after a renewal.
pub fn fingerprint(certified_key: &CertifiedKey) -> String {
    certified_key.cert.first().map_or_else(String::new, |der| {
        Sha256::digest(der.as_ref())
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// Hands every handshake the pair in use now.
#[derive(Debug)]
struct CurrentCertificate {
    certified_key: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.certified_key
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// What a look at the files found.
#[derive(Debug)]
pub enum ReloadOutcome {
    /// The files hold the pair already in use, or the bad pair already reported.
    Unchanged,
    /// A new pair is in use; its certificate's fingerprint.
    Replaced { fingerprint: String },
    /// The files changed but cannot be used; the previous pair keeps serving.
    Refused(TlsError),
}

/// The certificate and key in use, and where they come from.
pub struct Certificates {
    files: TlsFiles,
    current: Arc<CurrentCertificate>,
    /// The digest of the files' contents last tried, good or bad: a bad pair is reported once,
    /// not at every look.
    last_tried: Mutex<[u8; 32]>,
}

impl Certificates {
    /// Reads and checks the pair; at start-up a bad pair is an error, there is nothing to keep.
    pub fn load(files: TlsFiles) -> Result<Certificates, TlsError> {
        let bytes = PairBytes::read(&files)?;
        let certified_key = bytes.parse(&files)?;
        Ok(Certificates {
            current: Arc::new(CurrentCertificate {
                certified_key: RwLock::new(Arc::new(certified_key)),
            }),
            last_tried: Mutex::new(bytes.digest()),
            files,
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The fingerprint of the certificate new connections get.
    pub fn current_fingerprint(&self) -> String {
        fingerprint(
            &self
                .current
                .certified_key
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Re-reads both files; uses them if they changed and are good.
    pub fn reload_if_changed(&self) -> ReloadOutcome {
        let bytes = match PairBytes::read(&self.files) {
            Ok(bytes) => bytes,
            // A missing file (mid-renewal, or deleted) is reported at every look: it is not a
            // content that can be remembered as tried.
            Err(error) => return ReloadOutcome::Refused(error),
        };
        let digest = bytes.digest();
        let mut last_tried = self
            .last_tried
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *last_tried == digest {
            return ReloadOutcome::Unchanged;
        }
        *last_tried = digest;
        match bytes.parse(&self.files) {
            Ok(certified_key) => {
                let fingerprint = fingerprint(&certified_key);
                *self
                    .current
                    .certified_key
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified_key);
                ReloadOutcome::Replaced { fingerprint }
            }
            Err(error) => ReloadOutcome::Refused(error),
        }
    }

    /// The rustls configuration: TLS 1.2 and 1.3, no client certificates, HTTP/2 preferred.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_no_client_auth()
            .with_cert_resolver(self.current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// SIGHUP, the conventional "re-read your files" signal. Registered before the server says it
/// is listening: once registered, a SIGHUP no longer ends the process.
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    pub fn register() -> Hangups {
        #[cfg(unix)]
        {
            let signal = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            {
                Ok(signal) => Some(signal),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP; the TLS files are still re-read every few seconds");
                    None
                }
            };
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut()
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// Without built-in TLS there are no certificates to re-read: a SIGHUP is logged here (the
/// server key's watcher listens for it too).
pub async fn log_hangups_without_tls(mut hangups: Hangups) {
    loop {
        hangups.recv().await;
        tracing::info!(
            "SIGHUP: no TLS files to re-read without built-in TLS (--tls-cert); the server key file is re-read"
        );
    }
}

/// Looks at the files every `interval` and at each SIGHUP, forever, and logs what it found.
pub async fn watch_for_changes(
    certificates: Arc<Certificates>,
    interval: Duration,
    mut hangups: Hangups,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        let trigger = tokio::select! {
            _ = ticks.tick() => "timer",
            () = hangups.recv() => "SIGHUP",
        };
        let looked_at = certificates.clone();
        let outcome = match tokio::task::spawn_blocking(move || looked_at.reload_if_changed()).await
        {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, "the TLS reload task failed; the certificate in use is kept");
                continue;
            }
        };
        let files = certificates.files();
        match outcome {
            ReloadOutcome::Unchanged => {
                if trigger == "SIGHUP" {
                    tracing::info!(
                        certificate = %files.certificate.display(),
                        "SIGHUP: the TLS certificate and key are unchanged"
                    );
                }
            }
            ReloadOutcome::Replaced { fingerprint } => tracing::info!(
                certificate = %files.certificate.display(),
                sha256 = %fingerprint,
                trigger,
                "TLS certificate reloaded: new connections get it"
            ),
            ReloadOutcome::Refused(error) => tracing::error!(
                %error,
                sha256_in_use = %certificates.current_fingerprint(),
                trigger,
                "TLS certificate not reloaded: the previous certificate keeps serving; fix the files (it is retried when they change)"
            ),
        }
    }
}

/// A TCP listener whose connections are TLS streams, for `axum::serve`.
///
/// Handshakes run in their own tasks, so one slow client does not hold up the others, and each
/// must finish within `HANDSHAKE_TIMEOUT`. A failed handshake (plain HTTP sent to the TLS port,
/// an unknown certificate authority at the client) closes that connection only.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: rustls::ServerConfig) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshakes: JoinSet::new(),
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let can_accept = self.handshakes.len() < MAX_CONCURRENT_HANDSHAKES;
            tokio::select! {
                accepted = self.tcp.accept(), if can_accept => match accepted {
                    Ok((stream, peer)) => {
                        self.handshakes
                            .spawn(handshake(self.acceptor.clone(), stream, peer));
                    }
                    Err(error) => accept_error(error).await,
                },
                Some(finished) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = finished {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// As axum's own TCP listener does: errors of one connection are skipped, others (out of file
/// descriptors) are logged and waited out.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in one second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Both files or neither: names the one missing.
pub fn files_from(
    certificate: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<TlsFiles>, String> {
    match (certificate, key) {
        (None, None) => Ok(None),
        (Some(certificate), Some(key)) => Ok(Some(TlsFiles {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
        })),
        (Some(_), None) => Err(
            "--tls-cert (BATON_TLS_CERT) is set but --tls-key (BATON_TLS_KEY) is not: give \
             both to serve HTTPS, or neither behind a TLS-terminating proxy"
                .to_owned(),
        ),
        (None, Some(_)) => Err(
            "--tls-key (BATON_TLS_KEY) is set but --tls-cert (BATON_TLS_CERT) is not: give \
             both to serve HTTPS, or neither behind a TLS-terminating proxy"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        certificate_pem: String,
        key_pem: String,
    }

    fn pair() -> Pair {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Pair {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn write(directory: &Path, pair: &Pair) -> TlsFiles {
        let files = TlsFiles {
            certificate: directory.join("cert.pem"),
            key: directory.join("key.pem"),
        };
        std::fs::write(&files.certificate, &pair.certificate_pem).unwrap();
        std::fs::write(&files.key, &pair.key_pem).unwrap();
        files
    }

    fn load_error(certificate: &str, key: &str) -> String {
        let directory = tempfile::tempdir().unwrap();
        let files = write(
            directory.path(),
            &Pair {
                certificate_pem: certificate.to_owned(),
                key_pem: key.to_owned(),
            },
        );
        match Certificates::load(files) {
            Ok(_) => panic!("the pair was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_bad_pair_is_refused_with_what_is_wrong_and_no_key_material() {
        let good = pair();
        let other = pair();

        let garbage = load_error("not a certificate", &good.key_pem);
        assert!(garbage.contains("holds no PEM certificate"), "{garbage}");
        assert!(garbage.contains("cert.pem"), "{garbage}");

        let key_as_certificate = load_error(&good.key_pem, &good.key_pem);
        assert!(
            key_as_certificate.contains("holds no PEM certificate"),
            "{key_as_certificate}"
        );

        let certificate_as_key = load_error(&good.certificate_pem, &good.certificate_pem);
        assert!(
            certificate_as_key.contains("holds no PEM private key"),
            "{certificate_as_key}"
        );

        let mismatch = load_error(&good.certificate_pem, &other.key_pem);
        assert!(
            mismatch.contains("does not belong to the certificate"),
            "{mismatch}"
        );
        let key_body: String = other
            .key_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(!mismatch.contains(&key_body[..20]), "{mismatch}");

        let directory = tempfile::tempdir().unwrap();
        let missing = Certificates::load(TlsFiles {
            certificate: directory.path().join("absent.pem"),
            key: directory.path().join("key.pem"),
        })
        .err()
        .unwrap()
        .to_string();
        assert!(
            missing.contains("cannot read the TLS certificate file")
                && missing.contains("absent.pem"),
            "{missing}"
        );
    }

    #[test]
    fn a_changed_pair_replaces_the_one_in_use_and_a_bad_one_keeps_it() {
        let directory = tempfile::tempdir().unwrap();
        let files = write(directory.path(), &pair());
        let certificates = Certificates::load(files.clone()).unwrap();
        let first = certificates.current_fingerprint();
        assert!(matches!(
            certificates.reload_if_changed(),
            ReloadOutcome::Unchanged
        ));

        write(directory.path(), &pair());
        let ReloadOutcome::Replaced {
            fingerprint: second,
        } = certificates.reload_if_changed()
        else {
            panic!("a new good pair must replace the old one")
        };
        assert_ne!(second, first);
        assert_eq!(certificates.current_fingerprint(), second);

        // A half-written renewal: the new certificate with the old key.
        std::fs::write(&files.certificate, pair().certificate_pem).unwrap();
        assert!(matches!(
            certificates.reload_if_changed(),
            ReloadOutcome::Refused(TlsError::KeyMismatch { .. })
        ));
        assert_eq!(certificates.current_fingerprint(), second);
        // Reported once, not at every look.
        assert!(matches!(
            certificates.reload_if_changed(),
            ReloadOutcome::Unchanged
        ));

        std::fs::write(&files.certificate, "garbage").unwrap();
        assert!(matches!(
            certificates.reload_if_changed(),
            ReloadOutcome::Refused(TlsError::NoCertificate { .. })
        ));
        assert_eq!(certificates.current_fingerprint(), second);
    }

    #[test]
    fn tls_needs_both_files_or_neither() {
        let path = Path::new("x.pem");
        assert_eq!(files_from(None, None), Ok(None));
        assert!(files_from(Some(path), Some(path)).unwrap().is_some());
        assert!(
            files_from(Some(path), None)
                .unwrap_err()
                .contains("--tls-key (BATON_TLS_KEY) is not")
        );
        assert!(
            files_from(None, Some(path))
                .unwrap_err()
                .contains("--tls-cert (BATON_TLS_CERT) is not")
        );
    }
}
