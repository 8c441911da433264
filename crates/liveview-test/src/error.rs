//! What can go wrong in a test, each naming the element and the function.

use std::time::Duration;

/// An error of the test kit: the test fails with its message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// The app could not be served or reached.
    #[error("cannot serve or reach the app: {0}")]
    Io(#[from] std::io::Error),
    /// The page's GET failed or was not answered with a page.
    #[error("GET {path}: {message}")]
    Http {
        /// The path requested.
        path: String,
        /// What went wrong (the status, or the transport error).
        message: String,
    },
    /// The page's WebSocket could not connect or broke.
    #[error("WebSocket {url}: {message}")]
    Socket {
        /// The socket's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A selector is not valid CSS.
    #[error("bad selector {selector:?}: {message}")]
    BadSelector {
        /// The selector.
        selector: String,
        /// The parser's complaint.
        message: String,
    },
    /// No element matches the selector.
    #[error("no element matches {selector:?}")]
    NotFound {
        /// The selector.
        selector: String,
    },
    /// The element has a `data-action` but no `data-liveview-function`.
    #[error("{element} has a data-action for {event:?} but no data-liveview-function")]
    NoFunction {
        /// The element, as `<tag id=…>`.
        element: String,
        /// The DOM event that fired.
        event: String,
    },
    /// Nothing happened: no action of the element or its ancestors matched the event.
    #[error(
        "{action} on {element} sends nothing: no data-action of it or its ancestors handles {event:?}"
    )]
    NoAction {
        /// What the test did (`click`, `submit`, `press ctrl+k`).
        action: String,
        /// The element.
        element: String,
        /// The DOM event that fired.
        event: String,
    },
    /// The element cannot take this action (a disabled button, `fill` on a `<div>`).
    #[error("cannot {action} {element}: {reason}")]
    NotActionable {
        /// What the test did.
        action: String,
        /// The element.
        element: String,
        /// Why not.
        reason: String,
    },
    /// No handler is registered under the function the element names.
    #[error("{element}: no handler is registered for function {function:?} ({message})")]
    UnknownFunction {
        /// The element that sent the event.
        element: String,
        /// The function it named.
        function: String,
        /// The server's message.
        message: String,
    },
    /// The server answered the event with an error frame.
    #[error("{element}: function {function:?} answered with an error ({code}): {message}")]
    Server {
        /// The element that sent the event.
        element: String,
        /// The function.
        function: String,
        /// The frame's `code` (`handler_error`, `invalid_data`, …), or `""`.
        code: String,
        /// The frame's message.
        message: String,
    },
    /// No answer came in time.
    #[error("{element}: no answer to function {function:?} within {timeout:?}")]
    Timeout {
        /// The element that sent the event (or what was awaited).
        element: String,
        /// The function (or what was awaited).
        function: String,
        /// How long the kit waited.
        timeout: Duration,
    },
    /// An upload was refused or failed.
    #[error("upload of {file:?} for function {function:?} failed: {message}")]
    Upload {
        /// The file's name.
        file: String,
        /// The function.
        function: String,
        /// The server's message.
        message: String,
    },
    /// The server sent a frame the kit cannot read.
    #[error("unreadable frame from the server: {0}")]
    BadFrame(String),
}

impl TestError {
    pub(crate) fn http(path: &str, message: impl std::fmt::Display) -> Self {
        TestError::Http {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }

    pub(crate) fn socket(url: &str, message: impl std::fmt::Display) -> Self {
        TestError::Socket {
            url: url.to_owned(),
            message: message.to_string(),
        }
    }
}
