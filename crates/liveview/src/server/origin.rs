//! Which `Origin`s may open a WebSocket: the defence against cross-site
//! WebSocket hijacking.

use axum::http::{HeaderMap, header};

/// Which `Origin`s may open a WebSocket.
#[derive(Debug, Clone)]
pub(crate) enum OriginPolicy {
    /// The origin's host must be the request's `Host` (the default).
    SameHost,
    /// Any origin (for non-browser clients, tests and benchmarks).
    Any,
    /// These origins, `scheme://host[:port]`, compared without case.
    List(Vec<String>),
}

impl OriginPolicy {
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        // Browsers always send Origin with a WebSocket upgrade; a request
        // without one comes from a non-browser client, which the Origin check
        // (a defence against cross-site WebSocket hijacking) does not concern.
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(allowed) => allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)),
            OriginPolicy::SameHost => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                match (origin_authority(origin), host) {
                    (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
                    _ => false,
                }
            }
        }
    }
}

/// `host[:port]` of an origin `scheme://host[:port]`, or `None` (for `null`).
pub(crate) fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.split_once("://")?;
    let valid = !scheme.is_empty()
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' ']);
    valid.then_some(authority)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            map.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        map
    }

    #[test]
    fn same_host_policy() {
        let policy = OriginPolicy::SameHost;
        assert!(policy.allows(&headers(Some("http://127.0.0.1:8000"), "127.0.0.1:8000")));
        assert!(policy.allows(&headers(Some("https://Example.com"), "example.com")));
        assert!(policy.allows(&headers(None, "example.com")));
        assert!(!policy.allows(&headers(Some("http://evil.com"), "example.com")));
        assert!(!policy.allows(&headers(Some("http://example.com:81"), "example.com")));
        assert!(!policy.allows(&headers(Some("null"), "example.com")));
        assert!(!policy.allows(&headers(Some("http://example.com/x"), "example.com")));
    }

    #[test]
    fn list_policy() {
        let policy = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(policy.allows(&headers(Some("https://app.example.com"), "internal:9000")));
        assert!(!policy.allows(&headers(Some("http://app.example.com"), "internal:9000")));
    }
}
