//! The page's GET over HTTP/1.1 (hyper's client), with the app's cookies.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::error::TestError;

/// A response: its status and body.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

/// Cookies set by the app, sent back with every request and socket.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cookies(Vec<(String, String)>);

impl Cookies {
    pub(crate) fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub(crate) fn set(&mut self, line: &str) {
        let pair = line.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            return;
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        self.0.retain(|(n, _)| *n != name);
        if !value.is_empty() {
            self.0.push((name, value));
        }
    }
}

/// GETs `path` from `addr`.
pub(crate) async fn get(
    addr: SocketAddr,
    path: &str,
    cookies: &mut Cookies,
) -> Result<Response, TestError> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| TestError::http(path, err))?;
    let driver = tokio::spawn(connection);
    let mut request = hyper::Request::get(path).header(hyper::header::HOST, addr.to_string());
    if let Some(cookie) = cookies.header() {
        request = request.header(hyper::header::COOKIE, cookie);
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|err| TestError::http(path, err))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| TestError::http(path, err))?;
    for line in response.headers().get_all(hyper::header::SET_COOKIE) {
        if let Ok(line) = line.to_str() {
            cookies.set(line);
        }
    }
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| TestError::http(path, err))?
        .to_bytes();
    driver.abort();
    Ok(Response {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Resolves `to` against the current `path` (with query): an absolute URL
/// keeps its path, `/x` is taken as is, `x` replaces the last segment.
pub(crate) fn resolve(current: &str, to: &str) -> String {
    if let Some(rest) = to
        .strip_prefix("http://")
        .or_else(|| to.strip_prefix("https://"))
    {
        return rest
            .find('/')
            .map_or_else(|| "/".to_owned(), |i| rest[i..].to_owned());
    }
    if to.starts_with('/') {
        return to.to_owned();
    }
    let path = current.split(['?', '#']).next().unwrap_or("/");
    if to.starts_with('?') {
        return format!("{path}{to}");
    }
    if to.starts_with('#') || to.is_empty() {
        return format!("{}{to}", current.split('#').next().unwrap_or(path));
    }
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{dir}{to}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_urls_as_a_browser() {
        assert_eq!(resolve("/a/b?x=1", "/about"), "/about");
        assert_eq!(resolve("/a/b?x=1", "c"), "/a/c");
        assert_eq!(resolve("/a/b", "?page=2"), "/a/b?page=2");
        assert_eq!(resolve("/a", "http://127.0.0.1:1/z?q"), "/z?q");
        let mut cookies = Cookies::default();
        cookies.set("sid=abc; Path=/; HttpOnly");
        cookies.set("theme=dark");
        assert_eq!(cookies.header().as_deref(), Some("sid=abc; theme=dark"));
    }
}
