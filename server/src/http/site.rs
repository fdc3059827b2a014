//! How the client reached us: scheme, host and the client's IP address. `X-Forwarded-Proto`,
//! `X-Forwarded-Host` and `X-Forwarded-For` count only when the peer is a configured trusted
//! proxy (`trusted_proxies`), so nobody else can forge where links point or whose sign-in
//! limit they hit.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::AppState;
use crate::error::ApiError;

/// An address range in CIDR notation (`10.0.0.0/8`, `::1/128`), or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|e| format!("{s:?} is not an address or CIDR range: {e}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0-{max}"))?
        };
        Ok(Self { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        };
        bits(ip) & mask == bits(self.addr) & mask
    }
}

/// The request as the client made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub https: bool,
    /// `name[:port]`, safe to put into a URL.
    pub host: String,
    pub client_ip: IpAddr,
}

impl Site {
    pub fn from_parts(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Self {
        let peer_ip = peer.map_or(IpAddr::from([0, 0, 0, 0]), |p| p.ip());
        let trusted = |ip: IpAddr| state.trusted_proxies.iter().any(|c| c.contains(ip));
        let via_proxy = trusted(peer_ip);
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').next().unwrap_or("").trim())
        };
        let https = state.config.serves_https()
            || (via_proxy
                && get("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")));
        let host = via_proxy
            .then(|| get("x-forwarded-host"))
            .flatten()
            .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))
            .filter(|h| valid_host(h))
            .map_or_else(
                || format!("localhost:{}", state.config.http.port()),
                str::to_string,
            );
        // The client is the nearest address in X-Forwarded-For that is not a trusted proxy.
        let client_ip = if via_proxy {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .find(|ip| !trusted(*ip))
                .unwrap_or(peer_ip)
        } else {
            peer_ip
        };
        Self {
            https,
            host,
            client_ip,
        }
    }

    pub fn scheme(&self, secure: &'static str, plain: &'static str) -> &'static str {
        if self.https { secure } else { plain }
    }

    /// `https://host[:port]`: what a browser sends as `Origin` from our own pages.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme("https", "http"), self.host)
    }
}

impl FromRequestParts<Arc<AppState>> for Site {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self::from_parts(state, &parts.headers, peer))
    }
}

/// A plain `name[:port]` (or `[v6]:port`), safe to put into URLs we hand out.
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()), "v4-mapped");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
        assert!(valid_host("tv.example:8443") && valid_host("[::1]:80"));
        assert!(!valid_host("a/b") && !valid_host("a b") && !valid_host(""));
    }
}
