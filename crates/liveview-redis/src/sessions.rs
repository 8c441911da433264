//! Page sessions in Redis: a socket may resume its session on any node of
//! the layer, or on the process that replaced its own after a deploy.

use std::sync::Arc;
use std::time::Duration;

use liveview::session::{SessionBackend, SessionBackendError, Snapshot};
use tokio::time::timeout;

use crate::conn::Conn;
use crate::layer::RedisLayer;
use crate::shared::Shared;

/// Returns the snapshot and deletes the key when the secret matches.
const TAKE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'secret') == ARGV[1] then
  local snapshot = redis.call('HGET', KEYS[1], 'snapshot')
  redis.call('DEL', KEYS[1])
  return snapshot
end
return false
";

/// Stores secret, snapshot, epoch, written and complete with a TTL, unless
/// the key holds a later copy: of a later epoch (the session was resumed
/// elsewhere since), or of the same epoch with more frames written, or as
/// many and complete where this one is not (a write-through queued before
/// the session's shutdown snapshot, arriving after it).
const SAVE_SCRIPT: &str = r"
local held = redis.call('HMGET', KEYS[1], 'epoch', 'written', 'complete')
if held[1] then
  local epoch, written = tonumber(held[1]), tonumber(held[2] or '0')
  local new_epoch, new_written = tonumber(ARGV[4]), tonumber(ARGV[5])
  if epoch > new_epoch then return 0 end
  if epoch == new_epoch then
    if written > new_written then return 0 end
    if written == new_written and held[3] == '1' and ARGV[6] == '0' then return 0 end
  end
end
redis.call('HSET', KEYS[1], 'secret', ARGV[1], 'snapshot', ARGV[2], 'epoch', ARGV[4],
  'written', ARGV[5], 'complete', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Deletes the key when the secret matches.
const REMOVE_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'secret') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The [`SessionBackend`] of a [`RedisLayer`]'s nodes: each page session is
/// a hash `{prefix}:s:{id}` (its secret and its snapshot as JSON) that
/// expires with the resume window (on a Redis Cluster the key is one hash
/// tag: each session's scripts touch one slot). A save never overwrites a
/// later copy: that of a process that resumed the session since (a later
/// epoch), or one with more of the session's frames written (a
/// write-through that arrives after the session's shutdown snapshot).
///
/// ```no_run
/// use liveview::LiveView;
/// use liveview_redis::{RedisLayer, RedisSessions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Clicks(u32);
///
/// let layer = RedisLayer::connect("redis://127.0.0.1:6379").await?;
/// let lv = LiveView::builder()
///     .session_backend(RedisSessions::new(&layer))
///     .session_state::<Clicks>("clicks")
///     .layer(layer)
///     .build()?;
/// # let _ = lv;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisSessions {
    shared: Arc<Shared>,
    save: Arc<redis::Script>,
    take: Arc<redis::Script>,
    remove: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("prefix", &self.shared.names.key)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Sessions stored in the Redis of `layer`, under its prefix.
    pub fn new(layer: &RedisLayer) -> Self {
        RedisSessions {
            shared: Arc::clone(layer.shared()),
            save: Arc::new(redis::Script::new(SAVE_SCRIPT)),
            take: Arc::new(redis::Script::new(TAKE_SCRIPT)),
            remove: Arc::new(redis::Script::new(REMOVE_SCRIPT)),
        }
    }

    fn connection(&self) -> Conn {
        self.shared.manager.clone()
    }

    async fn timed<T>(
        &self,
        what: &str,
        op: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, SessionBackendError> {
        match timeout(self.shared.config_op_timeout(), op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(SessionBackendError::new(format!("{what}: {err}"))),
            Err(_) => Err(SessionBackendError::new(format!("{what}: timed out"))),
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait::async_trait]
impl SessionBackend for RedisSessions {
    async fn save(
        &self,
        id: &str,
        secret: &str,
        snapshot: &Snapshot,
        ttl: Duration,
    ) -> Result<(), SessionBackendError> {
        let json = serde_json::to_string(snapshot)
            .map_err(|err| SessionBackendError::new(format!("encode: {err}")))?;
        let key = self.shared.names.session_key(id);
        let mut conn = self.connection();
        let mut invocation = self.save.key(&key);
        invocation
            .arg(secret)
            .arg(json)
            .arg(millis(ttl))
            .arg(snapshot.epoch)
            .arg(snapshot.written)
            .arg(u8::from(snapshot.complete));
        self.timed("save", invocation.invoke_async::<()>(&mut conn))
            .await
    }

    async fn take(&self, id: &str, secret: &str) -> Result<Option<Snapshot>, SessionBackendError> {
        let key = self.shared.names.session_key(id);
        let mut conn = self.connection();
        let mut invocation = self.take.key(&key);
        invocation.arg(secret);
        let json: Option<String> = self
            .timed("take", invocation.invoke_async(&mut conn))
            .await?;
        match json {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|err| SessionBackendError::new(format!("decode: {err}"))),
        }
    }

    async fn touch(&self, id: &str, ttl: Duration) -> Result<(), SessionBackendError> {
        let key = self.shared.names.session_key(id);
        let mut conn = self.connection();
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(&key).arg(millis(ttl));
        self.timed("touch", cmd.query_async::<()>(&mut conn)).await
    }

    async fn remove(&self, id: &str, secret: &str) -> Result<(), SessionBackendError> {
        let key = self.shared.names.session_key(id);
        let mut conn = self.connection();
        let mut invocation = self.remove.key(&key);
        invocation.arg(secret);
        self.timed("remove", invocation.invoke_async::<()>(&mut conn))
            .await
    }
}
