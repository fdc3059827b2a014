//! The certificate every handshake gets, and its reload when the files change.
//!
//! Renewal tools (certbot, acme.sh, lego) replace the files in place or swap a symlink;
//! either way the (modification time, size, inode) of what the path points at changes.
//! Polling that every [`POLL_EVERY`] is portable and cheap, and needs no inotify.
//! The two files rarely change at the same instant: a certificate that does not fit the
//! old key fails to load, is logged, and the next change (the key) loads the pair.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::TlsError;
use crate::shutdown::Shutdown;

/// How often the watcher looks at the files.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// Where the PEM certificate chain and its private key live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Reads and checks the pair: the chain parses, the key parses, and the key belongs to the
/// leaf certificate (so a half-finished renewal is refused, not served).
pub fn load(files: &CertFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_pem = read(&files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::BadCertificate {
            path: files.cert.clone(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| TlsError::BadKey {
        path: files.key.clone(),
        source,
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let certified =
        CertifiedKey::from_der(chain, key, &provider).map_err(|source| TlsError::Unusable {
            cert: files.cert.clone(),
            key: files.key.clone(),
            source,
        })?;
    Ok(Arc::new(certified))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Serves the current certificate to every handshake, whatever name the client asked for
/// (one site per server).
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    pub fn new(key: Arc<CertifiedKey>) -> Self {
        Self {
            current: RwLock::new(key),
        }
    }

    pub fn current(&self) -> Arc<CertifiedKey> {
        // A poisoned lock still holds a whole Arc: the writer only swaps it.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn replace(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What the watcher compares: for each file, what the path points at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp([Option<FileStamp>; 2]);

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    pub fn of(files: &CertFiles) -> Self {
        Self([file_stamp(&files.cert), file_stamp(&files.key)])
    }
}

fn file_stamp(path: &Path) -> Option<FileStamp> {
    // `metadata` follows symlinks: a swapped certbot `live/` link shows as a change.
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// Polls the files every `every` until the shutdown; on a change, loads them and swaps the
/// certificate in, or logs why not and keeps serving the old one.
pub fn spawn_watcher(
    resolver: Arc<CertResolver>,
    files: CertFiles,
    mut last: Stamp,
    shutdown: Arc<Shutdown>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.triggered() => return,
            }
            let now = Stamp::of(&files);
            if now == last {
                continue;
            }
            last = now;
            // Reading two small files: not worth the blocking pool.
            match load(&files) {
                Ok(key) => {
                    let fingerprint = key
                        .cert
                        .first()
                        .map_or_else(String::new, |c| super::fingerprint(c));
                    resolver.replace(key);
                    tracing::info!(
                        cert = %files.cert.display(),
                        "TLS: certificate reloaded (SHA-256 {fingerprint}); new connections get it"
                    );
                }
                Err(e) => tracing::error!(
                    "TLS: the certificate files changed but cannot be used, \
                     keeping the current certificate: {e}"
                ),
            }
        }
    })
}
