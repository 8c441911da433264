//! The browser client, embedded in the crate and served at a versioned URL.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The client's source: the files of `assets/client/` joined in this order
/// into one script (the first opens its scope, the last closes it).
const RAW: &str = concat!(
    include_str!("../assets/client/constants.js"),
    include_str!("../assets/client/dom.js"),
    include_str!("../assets/client/keys.js"),
    include_str!("../assets/client/commands.js"),
    include_str!("../assets/client/actions.js"),
    include_str!("../assets/client/loading.js"),
    include_str!("../assets/client/optimistic.js"),
    include_str!("../assets/client/dirty.js"),
    include_str!("../assets/client/socket.js"),
    include_str!("../assets/client/transport.js"),
    include_str!("../assets/client/patches.js"),
    include_str!("../assets/client/morph.js"),
    include_str!("../assets/client/hydrate.js"),
    include_str!("../assets/client/hooks.js"),
    include_str!("../assets/client/history.js"),
    include_str!("../assets/client/uploads.js"),
    include_str!("../assets/client/away.js"),
    include_str!("../assets/client/poll.js"),
    include_str!("../assets/client/track.js"),
    include_str!("../assets/client/debug.js"),
    include_str!("../assets/client/index.js"),
);

/// The long-poll transport, served on its own and fetched by the client
/// only when it falls back (docs/client.md "Transports and fallback").
const LONGPOLL_RAW: &str = include_str!("../assets/client/longpoll.js");

/// FNV-1a, 64 bits, continued from `hash`: a stable fingerprint of the
/// client for its URL.
const fn fingerprint_from(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const fn fingerprint(bytes: &[u8]) -> u64 {
    fingerprint_from(0xcbf2_9ce4_8422_2325, bytes)
}

/// Both files' names carry one hash of both: the client finds the
/// long-poll file next to itself under its own hash, so a cached client
/// never loads a long-poll file of another version.
const HASH: u64 = fingerprint_from(fingerprint(RAW.as_bytes()), LONGPOLL_RAW.as_bytes());

/// What is served: the joined files without their `//` comments and blank
/// lines, so that comments in the source cost the browser nothing. Code is
/// left as it is, but for the long-poll file's URL, which gets its hash.
pub(crate) static SOURCE: LazyLock<String> =
    LazyLock::new(|| with_longpoll_url(strip_comments(RAW)));

/// `constants.js` names the long-poll file without its hash.
const LONGPOLL_PLACEHOLDER: &str = "'/liveview/longpoll.js'";

fn with_longpoll_url(source: String) -> String {
    source.replacen(LONGPOLL_PLACEHOLDER, &format!("'{}'", longpoll_url()), 1)
}

/// The long-poll file as served, without its comments too.
static LONGPOLL: LazyLock<String> = LazyLock::new(|| strip_comments(LONGPOLL_RAW));

/// Drops blank lines, comment lines, and a comment that ends a line of
/// code: ` // ` after a `;`, `{`, `}`, `,` or `)` with no quote open before
/// it (the client's code has no such text inside strings or regexes; the
/// unit test below checks what is cut).
fn strip_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        out.push_str(code_part(line));
        out.push('\n');
    }
    out
}

fn code_part(line: &str) -> &str {
    for (at, _) in line.match_indices(" // ") {
        let code = line[..at].trim_end();
        let quotes_closed = ['\'', '"', '`']
            .iter()
            .all(|q| code.matches(*q).count() % 2 == 0);
        if quotes_closed && code.ends_with([';', '{', '}', ',', ')']) {
            return code;
        }
    }
    line
}

static FILE_NAME: LazyLock<String> = LazyLock::new(|| format!("liveview.{:012x}.js", HASH >> 16));
static LONGPOLL_NAME: LazyLock<String> =
    LazyLock::new(|| format!("longpoll.{:012x}.js", HASH >> 16));
static SCRIPT_TAG: LazyLock<String> =
    LazyLock::new(|| format!("<script src=\"{}\" defer></script>", script_url()));

/// The path the client is served at: `/liveview/liveview.{hash}.js`. The
/// hash changes whenever the client does, so it is cached for a year.
pub fn script_url() -> String {
    format!("/liveview/{}", &*FILE_NAME)
}

/// Where the client imports its long-poll transport from when it falls
/// back: `/liveview/longpoll.{hash}.js`, under the client's own hash.
fn longpoll_url() -> String {
    format!("/liveview/{}", &*LONGPOLL_NAME)
}

/// The `<script>` tag that loads the client.
pub fn script_tag() -> &'static str {
    &SCRIPT_TAG
}

/// `GET /liveview/{file}`: the current client under its versioned name
/// (cached for a year), or under `liveview.js` (always revalidated); its
/// long-poll transport the same way, as `longpoll.{hash}.js` or
/// `longpoll.js`.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    let (cache, body) = if file == *FILE_NAME {
        (IMMUTABLE, SOURCE.as_str())
    } else if file == "liveview.js" {
        ("no-cache", SOURCE.as_str())
    } else if file == *LONGPOLL_NAME {
        (IMMUTABLE, LONGPOLL.as_str())
    } else if file == "longpoll.js" {
        ("no-cache", LONGPOLL.as_str())
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_url_follows_content() {
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
        assert!(script_url().starts_with("/liveview/liveview."));
        assert!(script_url().ends_with(".js"));
        assert!(script_tag().contains(&script_url()));
    }

    #[test]
    fn source_joins_every_client_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/client");
        let mut total = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if path.ends_with("longpoll.js") {
                assert_eq!(text, LONGPOLL_RAW);
                assert!(!RAW.contains("class LongPoll"), "long-poll is its own file");
                continue;
            }
            assert!(RAW.contains(&text), "{} is not in RAW", path.display());
            assert!(
                SOURCE.contains(&with_longpoll_url(strip_comments(&text))),
                "{} is not served",
                path.display()
            );
            total += text.len();
        }
        assert_eq!(total, RAW.len(), "RAW holds something else too");
        assert!(SOURCE.starts_with("/*! liveview client"));
        assert!(SOURCE.trim_end().ends_with("})();"));
    }

    /// Only comments are cut: every line served is a line of the source,
    /// whole or up to a trailing comment.
    #[test]
    fn served_source_is_the_code_without_comments() {
        assert!(
            !SOURCE
                .lines()
                .any(|l| l.trim().is_empty() || l.trim_start().starts_with("//"))
        );
        let mut cut = 0;
        for line in RAW.lines() {
            let code = code_part(line);
            if code.len() < line.len() {
                cut += 1;
                assert!(line[code.len()..].trim_start().starts_with("// "), "{line}");
            }
        }
        assert!(cut > 0);
        assert_eq!(
            code_part("const a = '1 // 2'; // note"),
            "const a = '1 // 2';"
        );
        assert_eq!(code_part("x = 'a // b';"), "x = 'a // b';");
        assert_eq!(code_part("f(a, // b"), "f(a,");
        assert_eq!(code_part("s = `x // y`"), "s = `x // y`");
    }

    /// The long-poll file is served next to the client, under the client's
    /// hash (where `transport.js` looks for it), with the same headers.
    #[tokio::test]
    async fn longpoll_file_is_served_next_to_the_client() {
        assert_eq!(
            script_url().replace("/liveview.", "/longpoll."),
            longpoll_url()
        );
        assert!(RAW.contains(LONGPOLL_PLACEHOLDER));
        assert!(SOURCE.contains(&format!("const LONGPOLL_URL = '{}';", longpoll_url())));
        for (file, cache) in [
            (
                LONGPOLL_NAME.as_str(),
                "public, max-age=31536000, immutable",
            ),
            ("longpoll.js", "no-cache"),
        ] {
            let response = serve(Path(file.to_owned())).await;
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers[header::CACHE_CONTROL], cache);
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(body, LONGPOLL.as_bytes());
        }
        assert!(LONGPOLL.starts_with("/*! liveview client: the long-poll transport"));
        assert!(LONGPOLL.contains("export default class LongPoll"));
        assert!(!LONGPOLL.lines().any(|l| l.trim_start().starts_with("//")));
        let stale = serve(Path("longpoll.000000000000.js".to_owned())).await;
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    }

    /// The client's copies of the wire constants are the protocol crate's.
    #[test]
    fn client_constants_match_the_protocol() {
        use liveview_protocol::{CHUNK_HEADER_BYTES, MAX_CHUNK_BYTES, PROTOCOL_VERSION};
        for line in [
            format!("const PROTOCOL_VERSION = {PROTOCOL_VERSION};"),
            format!("const CHUNK_HEADER_SIZE = {CHUNK_HEADER_BYTES};"),
            format!("const CHUNK_SIZE = {MAX_CHUNK_BYTES};"),
        ] {
            assert!(SOURCE.contains(&line), "constants.js lacks `{line}`");
        }
    }

    fn gzipped_len(text: &str) -> usize {
        use std::io::Write;
        let Ok(mut gzip) = std::process::Command::new("gzip")
            .arg("-9c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            panic!("gzip is needed to measure the client's size");
        };
        gzip.stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        gzip.wait_with_output().unwrap().stdout.len()
    }

    /// The served size stays within the client's budget: 14,200 bytes with
    /// `gzip -9` in all (Django LiveView's bundled client is 16,146), the
    /// client toolkit (commands, hooks, optimistic updates…), page sessions
    /// (resume, re-sent events, the refetch when refused) and the choice of
    /// transport (the fallback rules, importing the long-poll file, handing
    /// a session over to a WebSocket: 484 bytes, which is why the
    /// budget went from 13,500 to 14,000; then 48 bytes so that
    /// `liveview.debug` logs what every socket sends, a WebSocket handed
    /// over by the long-poll transport too: 14,100; then 105 bytes so that a
    /// refetch after a refused resume keeps what every field holds, not
    /// only the focused one: 14,200) included. The long-poll transport
    /// itself is a file of its own, fetched only by pages that fall back:
    /// 2,500 bytes at most.
    #[test]
    fn served_size_stays_small() {
        let compressed = gzipped_len(&SOURCE);
        let longpoll = gzipped_len(&LONGPOLL);
        eprintln!(
            "served client: {} bytes, {compressed} gzipped; long-poll file: {} bytes, {longpoll} gzipped",
            SOURCE.len(),
            LONGPOLL.len()
        );
        assert!(compressed <= 14_200, "client is {compressed} bytes gzipped");
        assert!(
            longpoll <= 2_500,
            "long-poll file is {longpoll} bytes gzipped"
        );
    }
}
