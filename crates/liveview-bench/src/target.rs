//! The server under test: its address (always a loopback one), the URLs the
//! scenarios use, and the source addresses clients connect from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Parses a base URL (`http://127.0.0.1:8000`, `ws://[::1]:9000/`,
/// `localhost:8000`) into a socket address, refusing anything that is not a
/// loopback address (127.0.0.0/8 or ::1).
pub(crate) fn parse_loopback_url(url: &str) -> Result<SocketAddr, String> {
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "ws") => {}
        Some(other) => {
            return Err(format!(
                "unsupported scheme {other:?} in {url:?}: use http:// or ws:// (no TLS on loopback)"
            ));
        }
        None => return Err(format!("no scheme in {url:?}")),
    }
    if let Some(pq) = uri.path_and_query()
        && (pq.query().is_some() || !matches!(pq.path(), "" | "/"))
    {
        return Err(format!(
            "{url:?}: give the server's base URL only (no path or query); the tool adds /ws/liveview/ROOM/ and /fragment itself"
        ));
    }
    let host = uri.host().ok_or_else(|| format!("no host in {url:?}"))?;
    let port = uri.port_u16().unwrap_or(80);
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().map_err(|_| {
            format!(
                "{url:?}: the host must be a loopback IP address (127.0.0.0/8 or [::1]) or localhost; \
                 names are not resolved"
            )
        })?
    };
    check_loopback(ip)?;
    Ok(SocketAddr::new(ip, port))
}

/// Refuses any address outside 127.0.0.0/8 and ::1.
pub(crate) fn check_loopback(ip: IpAddr) -> Result<(), String> {
    let ok = match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing {ip}: liveview-bench only targets loopback addresses (127.0.0.0/8 or ::1)"
        ))
    }
}

/// The source addresses client connections are spread over: `count`
/// addresses 127.0.0.1, 127.0.0.2, … for an IPv4 server (each gives its own
/// ephemeral port range), or just ::1 for an IPv6 one.
pub(crate) fn source_addrs(server: SocketAddr, count: u8) -> Vec<IpAddr> {
    match server {
        SocketAddr::V4(_) => (1..=count.max(1))
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect(),
        SocketAddr::V6(_) => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
    }
}

/// The `Host` header value for a server address.
pub(crate) fn host_header(server: SocketAddr) -> String {
    server.to_string()
}

/// The WebSocket URL of a room for a protocol version
/// (`ws://ADDR/ws/liveview/ROOM/?v=1`).
pub(crate) fn ws_url(server: SocketAddr, room: &str, version: u8) -> String {
    format!("ws://{server}/ws/liveview/{room}/?v={version}")
}

/// Checks a room id against the protocol's rule: 1 to 128 characters of
/// `[A-Za-z0-9_-]`.
pub(crate) fn check_room(room: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&room.len())
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid room {room:?}: 1 to 128 characters of [A-Za-z0-9_-]"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_urls() {
        let ok = |u: &str| parse_loopback_url(u).map(|a| a.to_string());
        assert_eq!(ok("http://127.0.0.1:8000"), Ok("127.0.0.1:8000".into()));
        assert_eq!(ok("ws://127.1.2.3:9/"), Ok("127.1.2.3:9".into()));
        assert_eq!(ok("http://[::1]:8080"), Ok("[::1]:8080".into()));
        assert_eq!(ok("localhost:3000"), Ok("127.0.0.1:3000".into()));
        assert_eq!(ok("http://127.0.0.1"), Ok("127.0.0.1:80".into()));
    }

    #[test]
    fn refuses_everything_else() {
        for url in [
            "http://10.0.0.1:80",
            "http://192.168.1.10:8000",
            "http://172.16.0.1",
            "http://8.8.8.8",
            "http://0.0.0.0:8000",
            "http://[::]:80",
            "http://[2001:db8::1]:80",
            "http://example.com",
            "https://127.0.0.1",
            "wss://127.0.0.1",
            "http://127.0.0.1:8000/ws/liveview/x/",
            "not a url",
        ] {
            assert!(parse_loopback_url(url).is_err(), "{url} accepted");
        }
        let err = parse_loopback_url("http://10.1.2.3:80").unwrap_err();
        assert!(err.contains("loopback"), "{err}");
    }

    #[test]
    fn spreads_sources_over_loopback() {
        let v4: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        let s = source_addrs(v4, 3);
        assert_eq!(s.len(), 3);
        assert_eq!(s[2], IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
        assert!(s.iter().all(|ip| check_loopback(*ip).is_ok()));
        assert_eq!(source_addrs(v4, 0).len(), 1);
        assert_eq!(source_addrs(v6, 8), vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert_eq!(
            ws_url(v4, "bench", 1),
            "ws://127.0.0.1:1/ws/liveview/bench/?v=1"
        );
        assert_eq!(
            ws_url(v4, "bench", 2),
            "ws://127.0.0.1:1/ws/liveview/bench/?v=2"
        );
    }

    #[test]
    fn room_rule() {
        assert!(check_room("bench_1-A").is_ok());
        assert!(check_room("").is_err());
        assert!(check_room("a/b").is_err());
        assert!(check_room(&"a".repeat(129)).is_err());
    }
}
