//! `--http-redirect ADDR`: a plain-HTTP listener that answers every request with
//! `308 Permanent Redirect` to the same path and query on the HTTPS port, so a visitor who
//! types `http://tv.example` lands on `https://tv.example:PORT/…`. 308 (not 301) keeps the
//! method and body of a POST.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// The redirect app: every request goes to `https://HOST[:https_port]/same/path?query`,
/// HOST being the request's `Host` without its port.
pub fn app(https_port: u16) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        redirect(&headers, &uri, https_port)
    })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let Some(host) = request_host(headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "a Host header naming this server is required (use https://)\n",
        )
            .into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// The host part of `Host` (`name`, `1.2.3.4`, `[::1]`), checked so that nothing but a
/// host can end up in the `Location` we send.
fn request_host(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::HOST)?.to_str().ok()?;
    let authority: axum::http::uri::Authority = value.parse().ok()?;
    let host = authority.host();
    let plain = !value.contains('@')
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b));
    plain.then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, uri: &str, port: u16) -> (StatusCode, Option<String>) {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(header::HOST, h.parse().unwrap());
        }
        let r = redirect(&headers, &uri.parse().unwrap(), port);
        let loc = r
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        (r.status(), loc)
    }

    #[test]
    fn same_host_and_path_on_the_https_port() {
        let cases = [
            (
                Some("tv.example"),
                "/watch/a?x=1&y=2",
                8443,
                "https://tv.example:8443/watch/a?x=1&y=2",
            ),
            (Some("tv.example:80"), "/", 443, "https://tv.example/"),
            (
                Some("127.0.0.1:8081"),
                "/live/r.flv",
                9000,
                "https://127.0.0.1:9000/live/r.flv",
            ),
            (Some("[::1]:8081"), "/a", 9000, "https://[::1]:9000/a"),
            (Some("TV.Example"), "/", 443, "https://tv.example/"),
        ];
        for (host, uri, port, want) in cases {
            let (status, loc) = location(host, uri, port);
            assert_eq!(status, StatusCode::PERMANENT_REDIRECT, "{host:?}");
            assert_eq!(loc.as_deref(), Some(want), "{host:?} {uri}");
        }
    }

    #[test]
    fn no_usable_host_is_a_bad_request() {
        for host in [None, Some("user@evil.example"), Some("a b"), Some("")] {
            let (status, loc) = location(host, "/", 443);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{host:?}");
            assert_eq!(loc, None);
        }
    }
}
