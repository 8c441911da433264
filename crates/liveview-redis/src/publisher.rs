//! The publisher task: sends queued messages to Redis in pipelines, and
//! keeps them while Redis is away.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use crate::backoff::Backoff;
use crate::shared::{Outbound, Shared};

/// Messages sent to Redis per pipeline.
const PUBLISH_BATCH: usize = 256;

/// Appends a message to its channel's stream and publishes it with the
/// entry id, atomically, so that the live path and the replay path agree.
///
/// KEYS[1] stream; ARGV: channel, origin, target, frame, max length, ttl (ms).
const PUBLISH_SCRIPT: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'o', ARGV[2], 't', ARGV[3], 'f', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return id
";

/// Sends queued messages to Redis in pipelines; while Redis is away, keeps
/// them (the channel is the bounded buffer) and retries with backoff.
pub(crate) async fn publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outbound>) {
    let script = redis::Script::new(PUBLISH_SCRIPT);
    let origin = shared.node.to_string();
    let config = &shared.config;
    let mut batch: Vec<Outbound> = Vec::with_capacity(PUBLISH_BATCH);
    let mut down_since: Option<Instant> = None;
    let mut backoff = Backoff::new(config.reconnect_max);
    loop {
        if batch.is_empty() && rx.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return; // the layer is gone
        }
        let before = batch.len();
        batch.retain(|m| m.queued.elapsed() <= config.outage_max_age);
        let expired = before - batch.len();
        if expired > 0 {
            shared.dropped.fetch_add(expired as u64, Ordering::Relaxed);
            tracing::warn!(
                expired,
                "liveview: dropped messages for other nodes that waited longer than the outage buffer allows"
            );
            if batch.is_empty() {
                continue;
            }
        }
        let mut pipe = redis::pipe();
        for message in &batch {
            if config.replay_len == 0 {
                let payload = format!("0-0 {origin} {} {}", message.target, message.frame.as_str());
                pipe.cmd("PUBLISH")
                    .arg(&message.channel)
                    .arg(payload)
                    .ignore();
            } else {
                pipe.cmd("EVALSHA")
                    .arg(script.get_hash())
                    .arg(1)
                    .arg(&message.stream)
                    .arg(&message.channel)
                    .arg(&origin)
                    .arg(&message.target)
                    .arg(message.frame.as_str())
                    .arg(config.replay_len)
                    .arg(u64::try_from(config.replay_ttl.as_millis()).unwrap_or(u64::MAX))
                    .ignore();
            }
        }
        let mut conn = shared.manager.clone();
        let result = match timeout(config.op_timeout, pipe.exec_async(&mut conn)).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
        };
        match result {
            Ok(()) => {
                if let Some(since) = down_since.take() {
                    tracing::info!(
                        outage = ?since.elapsed(),
                        "liveview: redis reachable again; publishing resumed"
                    );
                }
                backoff.reset();
                batch.clear();
            }
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                // A fresh Redis (restarted): load the script, send again.
                if let Err(err) = timeout(config.op_timeout, script.load_async(&mut conn))
                    .await
                    .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()))
                {
                    tracing::warn!(%err, "liveview: cannot load the redis publish script");
                    tokio::time::sleep(backoff.next()).await;
                }
            }
            Err(err) => {
                if down_since.is_none() {
                    down_since = Some(Instant::now());
                    tracing::warn!(
                        %err,
                        "liveview: redis publish failed; local delivery continues, messages for other nodes are buffered"
                    );
                }
                tokio::time::sleep(backoff.next()).await;
            }
        }
    }
}
