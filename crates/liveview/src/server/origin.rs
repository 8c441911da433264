//! Which `Origin`s may open a WebSocket: the defence against cross-site
//! WebSocket hijacking.

use axum::http::{HeaderMap, header};

/// Which `Origin`s may open a WebSocket.
#[derive(Debug, Clone)]
pub(crate) enum OriginPolicy {
    /// The origin's host must be the request's `Host`, and its scheme the
    /// request's when that is known (the default).
    SameHost,
    /// Any origin (for non-browser clients, tests and benchmarks).
    Any,
    /// These origins, `scheme://host[:port]`, compared without case.
    List(Vec<String>),
}

impl OriginPolicy {
    /// Whether a request with these headers may upgrade. `scheme` is the
    /// request's own scheme when it is known: only when its URI has one
    /// (absolute form). The scheme a browser used in front of a TLS proxy
    /// is not: `X-Forwarded-Proto` and `Forwarded` are whatever the client
    /// or the proxies put there, so they are not read. An app behind such a
    /// proxy that wants the scheme checked lists its origins.
    pub(crate) fn allows(&self, headers: &HeaderMap, scheme: Option<&str>) -> bool {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        // Browsers always send Origin with a WebSocket upgrade; a request
        // without one comes from a non-browser client, which the Origin check
        // (a defence against cross-site WebSocket hijacking) does not concern.
        let Some(origin) = origins.next() else {
            return true;
        };
        // A browser sends one. Two are a forged or mangled request, and
        // checking either one alone could let the other through a proxy
        // or an app that reads the other.
        if origins.next().is_some() {
            return false;
        }
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(allowed) => allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)),
            OriginPolicy::SameHost => {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
                let Some((origin_scheme, authority)) = origin_parts(origin) else {
                    return false;
                };
                let web = origin_scheme.eq_ignore_ascii_case("http")
                    || origin_scheme.eq_ignore_ascii_case("https");
                let same_scheme = scheme.is_none_or(|s| s.eq_ignore_ascii_case(origin_scheme));
                web && same_scheme && host.is_some_and(|h| authority.eq_ignore_ascii_case(h))
            }
        }
    }
}

/// `host[:port]` of an origin `scheme://host[:port]`, or `None` (for `null`).
pub(crate) fn origin_authority(origin: &str) -> Option<&str> {
    origin_parts(origin).map(|(_, authority)| authority)
}

/// The scheme and `host[:port]` of an origin, or `None` (for `null`).
fn origin_parts(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    let valid = !scheme.is_empty()
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@', ' ']);
    valid.then_some((scheme, authority))
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
        let allows = |origin, host| policy.allows(&headers(origin, host), None);
        assert!(allows(Some("http://127.0.0.1:8000"), "127.0.0.1:8000"));
        assert!(allows(Some("https://Example.com"), "example.com"));
        assert!(allows(None, "example.com"));
        assert!(!allows(Some("http://evil.com"), "example.com"));
        assert!(!allows(Some("http://example.com:81"), "example.com"));
        assert!(!allows(Some("null"), "example.com"));
        assert!(!allows(Some("http://example.com/x"), "example.com"));
    }

    #[test]
    fn same_host_compares_the_scheme_when_the_request_has_one() {
        let policy = OriginPolicy::SameHost;
        let map = headers(Some("http://example.com"), "example.com");
        assert!(policy.allows(&map, Some("http")));
        assert!(policy.allows(&map, Some("HTTP")));
        assert!(
            !policy.allows(&map, Some("https")),
            "an http page, an https server"
        );
        let map = headers(Some("https://example.com"), "example.com");
        assert!(policy.allows(&map, Some("https")));
        assert!(!policy.allows(&map, Some("http")));
        // Unknown (behind a proxy): the host decides.
        assert!(policy.allows(&map, None));
    }

    #[test]
    fn same_host_takes_only_web_schemes() {
        let policy = OriginPolicy::SameHost;
        for origin in [
            "ftp://example.com",
            "chrome-extension://example.com",
            "file://example.com",
        ] {
            assert!(
                !policy.allows(&headers(Some(origin), "example.com"), None),
                "{origin}"
            );
        }
    }

    #[test]
    fn forwarded_headers_do_not_decide_the_scheme() {
        let policy = OriginPolicy::SameHost;
        let mut map = headers(Some("http://example.com"), "example.com");
        map.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        map.insert(header::FORWARDED, HeaderValue::from_static("proto=https"));
        assert!(
            policy.allows(&map, None),
            "not read: a client may send them"
        );
    }

    #[test]
    fn two_origin_headers_are_refused_under_every_policy() {
        let mut map = headers(Some("http://example.com"), "example.com");
        map.append(header::ORIGIN, HeaderValue::from_static("http://evil.com"));
        let mut reversed = headers(Some("http://evil.com"), "example.com");
        reversed.append(
            header::ORIGIN,
            HeaderValue::from_static("http://example.com"),
        );
        for policy in [
            OriginPolicy::SameHost,
            OriginPolicy::Any,
            OriginPolicy::List(vec!["http://example.com".into()]),
        ] {
            assert!(!policy.allows(&map, None), "{policy:?}");
            assert!(!policy.allows(&reversed, None), "{policy:?}");
        }
    }

    #[test]
    fn list_policy() {
        let policy = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(policy.allows(
            &headers(Some("https://app.example.com"), "internal:9000"),
            None
        ));
        assert!(!policy.allows(
            &headers(Some("http://app.example.com"), "internal:9000"),
            None
        ));
    }
}
