//! How a [`RedisLayer`](crate::RedisLayer) talks to Redis, and why it could not start.

use std::time::Duration;

/// Why a Redis layer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLayerError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// Redis did not answer.
    #[error("cannot reach Redis: {0}")]
    Connect(String),
}

/// How a [`RedisLayer`](crate::RedisLayer) talks to Redis.
///
/// ```no_run
/// use std::time::Duration;
/// use liveview::LiveView;
/// use liveview_redis::RedisConfig;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = RedisConfig::new("redis://127.0.0.1:6379")
///     .prefix("shop")          // several apps can share one Redis
///     .db(2)
///     .replay(1000, Duration::from_secs(60))
///     .connect()
///     .await?;
/// let lv = LiveView::builder().layer(layer).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) db: Option<i64>,
    pub(crate) replay_len: usize,
    pub(crate) replay_ttl: Duration,
    pub(crate) outage_buffer: usize,
    pub(crate) outage_max_age: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) op_timeout: Duration,
    /// The nodes of a Redis Cluster (`None`: one Redis).
    pub(crate) cluster: Option<Vec<String>>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("db", &self.db)
            .field("replay_len", &self.replay_len)
            .field("replay_ttl", &self.replay_ttl)
            .field("outage_buffer", &self.outage_buffer)
            .field("outage_max_age", &self.outage_max_age)
            .field("reconnect_max", &self.reconnect_max)
            .field("op_timeout", &self.op_timeout)
            .field(
                "cluster",
                &self
                    .cluster
                    .as_ref()
                    .map(|nodes| nodes.iter().map(|n| redacted(n)).collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// The URL with its password (if any) replaced by `***`, for logs and errors.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at]
                .split_once(':')
                .map_or(&rest[..at], |(user, _)| user);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

impl RedisConfig {
    /// A configuration for the Redis at `url` (`redis://[:password@]host[:port][/db]`),
    /// with the defaults below; or for a Redis Cluster, named by
    /// `redis+cluster://[:password@]host:port[,host:port...]` (some of its
    /// nodes: the others are found), as [`RedisConfig::cluster`].
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        RedisConfig {
            cluster: crate::cluster::cluster_nodes(&url),
            url,
            prefix: "liveview".to_owned(),
            db: None,
            replay_len: 1000,
            replay_ttl: Duration::from_secs(60),
            outage_buffer: 10_000,
            outage_max_age: Duration::from_secs(30),
            reconnect_max: Duration::from_secs(5),
            op_timeout: Duration::from_secs(2),
        }
    }

    /// A configuration for the Redis Cluster that these nodes belong to
    /// (`redis://[:password@]host:port` each; one is enough, the others are
    /// found), Redis 7 or later. Groups are spread over the shards by hash
    /// slot and use sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`): a message
    /// reaches only the shard of its group, and the nodes subscribed there.
    /// The database is always 0. `docs/redis.md` says how to size one.
    ///
    /// ```no_run
    /// use liveview_redis::RedisConfig;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = RedisConfig::cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
    ///     .connect()
    ///     .await?;
    /// // The same: RedisConfig::new("redis+cluster://10.0.0.1:7000,10.0.0.2:7000")
    /// # let _ = layer;
    /// # Ok(()) }
    /// ```
    pub fn cluster<I, S>(nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut config = RedisConfig::new(nodes.first().cloned().unwrap_or_default());
        config.cluster = Some(nodes);
        config
    }

    /// The prefix of every key and channel (default `liveview`). Apps that
    /// share a Redis need different prefixes (or databases).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The Redis database (default: the URL's, else 0). Pub/sub channels are
    /// not per database in Redis, so the number is part of every channel
    /// name: two apps on two databases never see each other's messages.
    #[must_use]
    pub fn db(mut self, db: i64) -> Self {
        self.db = Some(db);
        self
    }

    /// Keep the last `len` messages of each group (and node) in a Redis
    /// stream for `ttl` after its last message, so that a node that lost its
    /// subscription replays what it missed (default 1000 messages, 60 s).
    /// `len == 0` turns replay off: plain pub/sub, at most once.
    #[must_use]
    pub fn replay(mut self, len: usize, ttl: Duration) -> Self {
        self.replay_len = len;
        self.replay_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// While Redis cannot be reached, keep at most `messages` outgoing
    /// messages, none older than `max_age`, and send them when it is back
    /// (default 10,000 and 30 s). Beyond that, messages for other nodes are
    /// dropped (local delivery is not affected).
    #[must_use]
    pub fn outage_buffer(mut self, messages: usize, max_age: Duration) -> Self {
        self.outage_buffer = messages.max(1);
        self.outage_max_age = max_age;
        self
    }

    /// The longest wait between two reconnection attempts (default 5 s; the
    /// first is after 50 ms, doubling, with jitter).
    #[must_use]
    pub fn reconnect_max(mut self, max: Duration) -> Self {
        self.reconnect_max = max.max(Duration::from_millis(50));
        self
    }

    /// How long one Redis operation may take before the connection is
    /// considered broken (default 2 s).
    #[must_use]
    pub fn op_timeout(mut self, limit: Duration) -> Self {
        self.op_timeout = limit.max(Duration::from_millis(10));
        self
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redacted("redis://:hunter2@cache:6379/1"),
            "redis://:***@cache:6379/1"
        );
        assert_eq!(
            redacted("rediss://app:hunter2@cache"),
            "rediss://app:***@cache"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        let config = super::RedisConfig::new("redis://:hunter2@cache:6379");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
