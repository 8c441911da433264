//! The connect guard: the upgrade request, checked before the socket opens.

use std::borrow::Cow;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::request::Parts;

/// How long the connect guard may take by default.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a connect guard returns to let a connection open: values for
/// the connection's request extensions (what handlers read with
/// `ctx.request().extensions`), and the session's end.
///
/// ```
/// use std::time::{Duration, Instant};
/// use liveview::Admission;
///
/// #[derive(Clone)]
/// struct UserId(u64);
///
/// let admission = Admission::new()
///     .insert(UserId(42))
///     .expire_at(Instant::now() + Duration::from_secs(3600));
/// # let _ = admission;
/// ```
#[derive(Debug, Default)]
pub struct Admission {
    extensions: http::Extensions,
    expires_at: Option<Instant>,
}

impl Admission {
    /// Lets the connection open, attaching nothing.
    pub fn new() -> Self {
        Admission::default()
    }

    /// Attaches `value` to the connection: handlers read it with
    /// `ctx.request().extensions.get::<T>()`. One value per type.
    #[must_use]
    pub fn insert<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Closes the connection at `at`, as [`Ctx::expire_at`](crate::Ctx::expire_at)
    /// does: when the session it was authorised with expires.
    #[must_use]
    pub fn expire_at(mut self, at: Instant) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// What a connect guard returns to refuse a connection: the HTTP status
/// and body of the answer to the upgrade request. No socket opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    status: StatusCode,
    body: Cow<'static, str>,
}

impl Refusal {
    /// A refusal with this status and body.
    pub fn new(status: StatusCode, body: impl Into<Cow<'static, str>>) -> Self {
        Refusal {
            status,
            body: body.into(),
        }
    }

    /// `403 Forbidden` with this body.
    pub fn forbidden(body: impl Into<Cow<'static, str>>) -> Self {
        Refusal::new(StatusCode::FORBIDDEN, body)
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body of the answer.
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.body).into_response()
    }
}

type GuardFuture = Pin<Box<dyn Future<Output = Result<Admission, Refusal>> + Send>>;

/// The guard as the builder stores it, and its timeout.
#[derive(Clone)]
pub(crate) struct ConnectGuard {
    pub(super) guard: Arc<dyn Fn(&Parts) -> GuardFuture + Send + Sync>,
    pub(super) timeout: Duration,
}

impl ConnectGuard {
    pub(super) fn new<F, Fut>(guard: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Admission, Refusal>> + Send + 'static,
    {
        ConnectGuard {
            guard: Arc::new(move |parts| Box::pin(guard(parts))),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Runs the guard under its timeout and a panic guard. Admitted, its
    /// values go into `parts.extensions` and its deadline, if any, is
    /// returned; refused, the answer to send.
    pub(super) async fn check(&self, parts: &mut Parts) -> Result<Option<Instant>, Response> {
        let decision = AssertUnwindSafe((self.guard)(parts)).catch_unwind();
        match tokio::time::timeout(self.timeout, decision).await {
            Ok(Ok(Ok(admission))) => {
                parts.extensions.extend(admission.extensions);
                Ok(admission.expires_at)
            }
            Ok(Ok(Err(refusal))) => {
                tracing::warn!(status = %refusal.status, body = %refusal.body, path = parts.uri.path(), "liveview: connect guard refused a WebSocket");
                Err(refusal.into_response())
            }
            Ok(Err(_panic)) => {
                tracing::error!(
                    path = parts.uri.path(),
                    "liveview: connect guard panicked; connection refused"
                );
                Err((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, path = parts.uri.path(), "liveview: connect guard timed out; connection refused");
                Err((StatusCode::SERVICE_UNAVAILABLE, "authorization timed out").into_response())
            }
        }
    }
}
