//! `--tls-self-signed`: a certificate for LAN testing, so the studio (which needs a secure
//! context for the camera) works from another machine on the network.
//!
//! It names `localhost`, `127.0.0.1`, `::1`, the hostname, every non-loopback interface
//! address and each `--tls-name`. It is stored under `DATA/tls/` (key file mode 0600) and
//! reused at the next start while it still covers every name and is valid for at least
//! [`RENEW_BEFORE`], so a browser's "accept this certificate" keeps working across restarts.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::resolver::{self, CertFiles};
use super::{TlsError, fingerprint};

/// The directory under the data directory that holds the certificate and key.
pub const DIR: &str = "tls";
const CERT_FILE: &str = "self-signed.crt";
const KEY_FILE: &str = "self-signed.key";
/// Under 398 days, the most browsers accept for a server certificate.
const VALID_DAYS: i64 = 397;
/// A stored certificate that expires sooner than this is replaced.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The certificate in use and whether it was already there.
#[derive(Debug)]
pub struct SelfSigned {
    pub files: CertFiles,
    pub fingerprint: String,
    pub reused: bool,
}

/// The names the certificate must cover: loopback, this machine, then `extra`, without
/// repeats. `extra` names that no certificate can carry are an error; the machine's own
/// (an odd hostname, an IPv6 link-local address, which a URL cannot carry without a zone)
/// are left out.
pub fn machine_names(extra: &[String]) -> Result<Vec<String>, TlsError> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let mut push = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    if let Some(host) = gethostname::gethostname().to_str() {
        let host = host.trim().to_ascii_lowercase();
        if !host.is_empty() && is_nameable(&host) {
            push(host);
        }
    }
    match if_addrs::get_if_addrs() {
        Ok(ifaces) => {
            for iface in ifaces.iter().filter(|i| !i.is_loopback()) {
                let ip = iface.ip();
                if !is_link_local_v6(ip) {
                    push(ip.to_string());
                }
            }
        }
        Err(e) => tracing::warn!("TLS: cannot list the network interfaces: {e}"),
    }
    for name in extra {
        let name = name.trim().to_ascii_lowercase();
        if !is_nameable(&name) {
            return Err(TlsError::BadName(name));
        }
        push(name);
    }
    Ok(names)
}

fn is_nameable(name: &str) -> bool {
    ServerName::try_from(name).is_ok()
}

fn is_link_local_v6(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// The certificate in `dir` if it still fits `names`, else a new one written there.
pub fn ensure(dir: &Path, names: &[String]) -> Result<SelfSigned, TlsError> {
    let files = CertFiles {
        cert: dir.join(CERT_FILE),
        key: dir.join(KEY_FILE),
    };
    let renew_at = UnixTime::since_unix_epoch(now_since_epoch() + RENEW_BEFORE);
    match stored_fits(&files, names, renew_at) {
        Ok(der) => {
            return Ok(SelfSigned {
                fingerprint: fingerprint(&der),
                files,
                reused: true,
            });
        }
        Err(Unfit::Missing) => {}
        Err(why) => tracing::info!(
            "TLS: replacing the self-signed certificate in {}: {why}",
            dir.display()
        ),
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let (cert_pem, key_pem, der) = generate(names)?;
    // The key first: a crash in between leaves a cert that does not fit, which the next
    // start replaces, never a new cert served with an old key.
    write_atomic(&files.key, key_pem.as_bytes(), 0o600)?;
    write_atomic(&files.cert, cert_pem.as_bytes(), 0o644)?;
    Ok(SelfSigned {
        fingerprint: fingerprint(&der),
        files,
        reused: false,
    })
}

/// Why a stored certificate is not reused (logged).
#[derive(Debug, thiserror::Error)]
enum Unfit {
    #[error("there is none")]
    Missing,
    #[error("it cannot be loaded: {0}")]
    Load(#[from] TlsError),
    #[error("it cannot be parsed: {0}")]
    Parse(webpki::Error),
    #[error("it does not cover {0}")]
    Name(String),
    #[error("it expires within {} days", RENEW_BEFORE.as_secs() / 86_400)]
    Expiring(webpki::Error),
}

/// The stored leaf certificate when the pair loads, names every one of `names`, and is
/// still valid at `renew_at`.
fn stored_fits(
    files: &CertFiles,
    names: &[String],
    renew_at: UnixTime,
) -> Result<CertificateDer<'static>, Unfit> {
    if !files.cert.exists() && !files.key.exists() {
        return Err(Unfit::Missing);
    }
    let key = resolver::load(files)?;
    let Some(der) = key.cert.first().cloned() else {
        return Err(Unfit::Missing);
    };
    let ee = webpki::EndEntityCert::try_from(&der).map_err(Unfit::Parse)?;
    for name in names {
        let fits = ServerName::try_from(name.as_str())
            .is_ok_and(|n| ee.verify_is_valid_for_subject_name(&n).is_ok());
        if !fits {
            return Err(Unfit::Name(name.clone()));
        }
    }
    // A self-signed certificate is its own trust anchor: verifying it at `renew_at` checks
    // its dates (and signature) with rustls' own code instead of a second X.509 parser.
    let anchor = webpki::anchor_from_trusted_cert(&der).map_err(Unfit::Parse)?;
    ee.verify_for_usage(
        &[webpki::ring::ECDSA_P256_SHA256],
        &[anchor],
        &[],
        renew_at,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(Unfit::Expiring)?;
    Ok(der)
}

/// A P-256 key and a certificate for `names`, valid from yesterday for [`VALID_DAYS`].
fn generate(names: &[String]) -> Result<(String, String, CertificateDer<'static>), TlsError> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "onair self-signed");
    params.distinguished_name = dn;
    let today = (now_since_epoch().as_secs() / 86_400) as i64;
    let (y, m, d) = ymd(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(today + VALID_DAYS);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let pem = cert.pem();
    // Read back the way the server will, so what was written is what gets served.
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|source| {
        TlsError::BadCertificate {
            path: PathBuf::from(CERT_FILE),
            source,
        }
    })?;
    Ok((pem, key.serialize_pem(), der))
}

fn ymd(days_since_epoch: i64) -> (i32, u8, u8) {
    let (y, m, d) = crate::utc::civil_from_days(days_since_epoch);
    // Day and month are in range by construction; the year fits an i32 for millennia.
    (y as i32, m as u8, d as u8)
}

fn now_since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Writes `path` through a temporary file and a rename, so a reader (the reload watcher, a
/// concurrent start) never sees half a file; `mode` applies from the first byte.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn machine_names_cover_loopback_and_extras_once() {
        let n = machine_names(&names(&["tv.lan", "10.9.8.7", "LOCALHOST"])).unwrap();
        assert_eq!(&n[..3], ["localhost", "127.0.0.1", "::1"]);
        assert!(n.contains(&"tv.lan".to_string()) && n.contains(&"10.9.8.7".to_string()));
        let mut unique = n.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), n.len(), "no repeats: {n:?}");
        assert!(n.iter().all(|name| !name.starts_with("fe80")), "{n:?}");
        let err = machine_names(&names(&["bad name"])).unwrap_err();
        assert!(matches!(err, TlsError::BadName(_)), "{err}");
    }

    #[test]
    fn generated_once_then_reused_until_the_names_change() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path().join("tls");
        let first = names(&["localhost", "127.0.0.1", "::1", "tv.lan"]);
        let a = ensure(&dir, &first).unwrap();
        assert!(!a.reused);
        let loaded = resolver::load(&a.files).unwrap();
        assert_eq!(fingerprint(&loaded.cert[0]), a.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a.files.key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
        }
        // Same names (in another order, fewer): the same certificate.
        let b = ensure(&dir, &names(&["tv.lan", "localhost"])).unwrap();
        assert!(b.reused);
        assert_eq!(b.fingerprint, a.fingerprint);
        // A new name: a new certificate that covers it.
        let mut more = first.clone();
        more.push("192.0.2.7".into());
        let c = ensure(&dir, &more).unwrap();
        assert!(!c.reused);
        assert_ne!(c.fingerprint, a.fingerprint);
        let renew_at = UnixTime::since_unix_epoch(now_since_epoch() + RENEW_BEFORE);
        stored_fits(&c.files, &more, renew_at).unwrap();
        // Not valid that far ahead: replaced.
        let later =
            UnixTime::since_unix_epoch(now_since_epoch() + Duration::from_secs(400 * 86_400));
        assert!(matches!(
            stored_fits(&c.files, &more, later),
            Err(Unfit::Expiring(_))
        ));
        // A damaged file: replaced, not an error.
        std::fs::write(&c.files.cert, "not a certificate").unwrap();
        let d = ensure(&dir, &more).unwrap();
        assert!(!d.reused);
        resolver::load(&d.files).unwrap();
    }
}
