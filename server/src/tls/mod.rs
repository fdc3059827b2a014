//! TLS for HTTPS, WSS and RTMPS: rustls with the ring provider, no OpenSSL.
//!
//! - [`resolver`]: the PEM certificate chain and key become a [`CertResolver`] that every
//!   handshake asks; a watcher task re-reads the files when they change, so a renewed
//!   certificate is served to the next connection without a restart (a bad new file is
//!   logged and the old certificate kept).
//! - [`self_signed`]: `--tls-self-signed` for LAN testing: a certificate for this machine's
//!   names and addresses, generated once under `DATA/tls/` and reused while it still fits.
//! - [`listener`]: [`TlsListener`], an `axum::serve::Listener` that hands out finished
//!   handshakes; RTMPS accepts through the same type.
//!
//! [`Tls`] ties them together: one resolver, and one `ServerConfig` per protocol (HTTPS
//! offers ALPN `h2` and `http/1.1`; RTMPS offers none).

pub mod listener;
pub mod resolver;
pub mod self_signed;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use crate::Config;
use crate::shutdown::Shutdown;
pub use listener::TlsListener;
pub use resolver::{CertFiles, CertResolver};

/// Why a certificate could not be loaded, generated or stored; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: not a PEM certificate chain: {source}")]
    BadCertificate {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {source}")]
    BadKey {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("the key in {key} cannot serve the certificate in {cert}: {source}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0:?} is not a DNS name or IP address a certificate can name")]
    BadName(String),
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The server's TLS: the reloading certificate and the per-protocol configurations.
pub struct Tls {
    resolver: Arc<CertResolver>,
    files: CertFiles,
    /// The files as they were just before the first load; the watcher starts from it.
    stamp: resolver::Stamp,
    /// HTTPS and WSS on the HTTP port: ALPN `h2`, `http/1.1`.
    pub https: Arc<ServerConfig>,
    /// RTMPS: no ALPN (RTMP clients send none).
    pub rtmps: Arc<ServerConfig>,
}

impl Tls {
    /// The TLS the configuration asks for, or `None` when TLS is off. With `self_signed`,
    /// makes (or reuses) the certificate under `DATA/tls/` and logs its fingerprint.
    pub fn from_config(config: &Config) -> Result<Option<Self>, TlsError> {
        let files = if config.tls.self_signed {
            let names = self_signed::machine_names(&config.tls.names)?;
            let made = self_signed::ensure(&config.data.join(self_signed::DIR), &names)?;
            tracing::info!(
                cert = %made.files.cert.display(),
                key = %made.files.key.display(),
                "TLS: {} self-signed certificate for {}; SHA-256 fingerprint {} \
                 (compare it with what the browser shows before accepting it)",
                if made.reused { "reusing the" } else { "generated a" },
                names.join(", "),
                made.fingerprint,
            );
            made.files
        } else {
            match (&config.tls.cert, &config.tls.key) {
                (Some(cert), Some(key)) => CertFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                _ => return Ok(None),
            }
        };
        let tls = Self::load(files)?;
        if !config.tls.self_signed {
            tracing::info!(
                cert = %tls.files.cert.display(),
                "TLS: certificate loaded (SHA-256 {}); reloaded when the files change",
                tls.fingerprint()
            );
        }
        Ok(Some(tls))
    }

    /// Loads the certificate chain and key from `files`.
    pub fn load(files: CertFiles) -> Result<Self, TlsError> {
        let stamp = resolver::Stamp::of(&files);
        let resolver = Arc::new(CertResolver::new(resolver::load(&files)?));
        Ok(Self {
            https: server_config(&resolver, &[b"h2", b"http/1.1"])?,
            rtmps: server_config(&resolver, &[])?,
            resolver,
            files,
            stamp,
        })
    }

    /// SHA-256 of the certificate being served now, `AA:BB:…`.
    pub fn fingerprint(&self) -> String {
        self.resolver
            .current()
            .cert
            .first()
            .map_or_else(String::new, |c| fingerprint(c))
    }

    /// Starts the task that reloads the certificate when its files change, until the
    /// shutdown.
    pub fn watch(&self, shutdown: &Arc<Shutdown>) {
        resolver::spawn_watcher(
            self.resolver.clone(),
            self.files.clone(),
            self.stamp.clone(),
            shutdown.clone(),
            resolver::POLL_EVERY,
        );
    }
}

fn server_config(
    resolver: &Arc<CertResolver>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    // An explicit provider, so nothing depends on a process-wide default being installed.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// SHA-256 of a DER certificate as browsers show it: `AA:BB:…` (32 bytes).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format() {
        let f = fingerprint(b"");
        // SHA-256 of nothing.
        assert!(f.starts_with("E3:B0:C4:42:98:FC:1C:14"), "{f}");
        assert_eq!(f.len(), 32 * 3 - 1);
    }
}
