//! Error types, one per concern.

use std::fmt;

use liveview_protocol::ErrorCode;

/// The error a handler returns.
///
/// Any error type converts into it with `?`. What the client sees depends
/// on how it was made:
///
/// - [`Error::user`]: the message is meant for the person using the page
///   and is always shown (`"Invalid email"`).
/// - anything else (`?` on an I/O error, a database error, [`Error::msg`]):
///   an internal error. The client is told that the handler failed; the
///   detail is logged, and shown to the client only in debug mode.
///
/// ```
/// use liveview::{Error, Patch, Result};
///
/// fn check(email: &str) -> Result<Patch> {
///     if !email.contains('@') {
///         return Err(Error::user("Invalid email"));
///     }
///     let _port: u16 = "8000".parse()?; // any std error converts
///     Ok(Patch::html("#errors", "Valid email"))
/// }
/// assert!(check("nobody").is_err());
/// ```
pub struct Error {
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
    user_facing: bool,
}

impl Error {
    /// An error whose message the client is shown as is.
    pub fn user(message: impl Into<String>) -> Self {
        Error {
            inner: message.into().into(),
            user_facing: true,
        }
    }

    /// An internal error with this message (shown to the client only in debug mode).
    pub fn msg(message: impl fmt::Display) -> Self {
        Error {
            inner: message.to_string().into(),
            user_facing: false,
        }
    }

    /// True when the message is meant for the client ([`Error::user`]).
    pub fn is_user_facing(&self) -> bool {
        self.user_facing
    }

    /// The underlying error.
    pub fn source_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Error {
            inner: Box::new(err),
            user_facing: false,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("inner", &self.inner)
            .field("user_facing", &self.user_facing)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)?;
        let mut source = self.inner.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// `Result` with [`Error`] as its default error: the return type of most handlers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an event was not handed to its handler: an extractor could not read
/// it, or an upload could not be taken. It becomes an error frame with its
/// [`code`](Rejection::code) and [`message`](Rejection::message).
///
/// ```
/// use liveview::extract::Rejection;
/// use liveview::protocol::ErrorCode;
///
/// let rejection = Rejection::invalid_data("age: not a number");
/// assert_eq!(rejection.code(), ErrorCode::InvalidData);
/// assert_eq!(rejection.to_string(), "age: not a number");
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    code: ErrorCode,
    message: String,
}

impl Rejection {
    /// The client sent data that does not fit (`invalid_data`).
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Rejection::new(ErrorCode::InvalidData, message)
    }

    /// The server is misconfigured (reported as `handler_error`).
    pub fn server(message: impl Into<String>) -> Self {
        Rejection::new(ErrorCode::HandlerError, message)
    }

    /// An upload refused before it started (`upload_rejected`).
    pub(crate) fn upload_rejected(message: impl Into<String>) -> Self {
        Rejection::new(ErrorCode::UploadRejected, message)
    }

    /// An upload that failed on the way (`upload_failed`).
    pub(crate) fn upload_failed(message: impl Into<String>) -> Self {
        Rejection::new(ErrorCode::UploadFailed, message)
    }

    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }

    /// The error code of the frame that reports it.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Why [`LiveViewBuilder::build`](crate::LiveViewBuilder::build) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The templates directory does not exist or is not a directory.
    #[error("templates directory {path} is not a readable directory")]
    TemplatesDir {
        /// The path that was given.
        path: std::path::PathBuf,
    },
    /// Two handlers were registered under the same name.
    #[error("two handlers are registered under the name {name:?}")]
    DuplicateHandler {
        /// The name.
        name: String,
    },
    /// A handler name is empty or longer than 128 bytes.
    #[error("handler name {name:?} must be 1 to 128 bytes long")]
    BadHandlerName {
        /// The name.
        name: String,
    },
    /// Upload limits were given for a function no handler is registered under.
    #[error(
        "uploads are configured for {function:?}, but no handler is registered under that name"
    )]
    UploadsWithoutHandler {
        /// The function name given to `uploads`.
        function: String,
    },
    /// The `LiveView`'s upload directory could not be made.
    #[error("cannot make the upload directory under {path}: {source}")]
    UploadDir {
        /// The parent directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An allowed origin is not of the form `scheme://host[:port]`.
    #[error("allowed origin {origin:?} is not of the form scheme://host[:port]")]
    BadOrigin {
        /// The origin that was given.
        origin: String,
    },
    /// A room secret is shorter than 32 bytes (`rooms::MIN_ROOM_SECRET`).
    #[error("a room secret is {len} bytes; it must be at least {min}")]
    RoomSecretTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// `require_signed_rooms(true)` without a `room_secret`.
    #[error("signed rooms are required, but no room secret is given")]
    SignedRoomsWithoutSecret,
}
