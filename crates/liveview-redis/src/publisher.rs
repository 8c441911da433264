//! The publisher task: sends queued messages to Redis in pipelines, and
//! keeps them while Redis is away.
//!
//! Every message gets a number, in order, from this node's publisher: with
//! the node id, its message id. Redis keeps, per node, the last number it
//! ran (`{prefix}:o:{node}`), and the publish script runs a message only
//! when its number is higher: a retry of a pipeline that Redis already ran
//! (its answer was lost, or it waited in a frozen Redis's socket while the
//! publisher tried again) stores and publishes nothing twice.
//!
//! Messages that outlive the outage buffer's age limit are given up, oldest
//! first (always a prefix of the numbers not yet confirmed). Some of them
//! may have reached Redis in an earlier attempt, so the next pipeline starts
//! with a *fence*: the script raises the node's last number over them, so
//! that no copy of them can run any more, and says how many of them never
//! ran. Only those are counted in `dropped_messages`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use crate::backoff::Backoff;
use crate::shared::{Outbound, Shared};

/// Messages sent to Redis per pipeline.
const PUBLISH_BATCH: usize = 256;

/// How long Redis keeps a node's last message number after its last
/// message: longer than any copy of a message may wait in Redis (a frozen
/// Redis runs what it received when it resumes).
const ORIGIN_TTL: Duration = Duration::from_secs(24 * 3600);

/// With two keys, publishes a message once: appends it to its channel's
/// stream (when replay is on) and publishes it with the entry id,
/// atomically, so that the live path and the replay path agree. With one
/// key, the fence.
///
/// Publish: KEYS[1] stream, KEYS[2] the node's origin hash; ARGV: channel,
/// origin, target, frame, max length (0: no stream), stream ttl (ms),
/// message number, origin ttl (ms). Returns 1 when run, 0 for a copy of a
/// message already run (or fenced).
///
/// Fence: KEYS[1] the origin hash; ARGV: base (every number up to it is
/// confirmed), upto (the numbers above base up to this one were given up),
/// origin ttl (ms). Returns how many of the given-up numbers above base
/// never ran: `upto` minus the highest number run, counted once per
/// number however many copies of the fence run. A fence with a lower base
/// than the last one (a stale copy) changes nothing.
const PUBLISH_SCRIPT: &str = r"
if #KEYS == 1 then
  local h = KEYS[1]
  local base = tonumber(ARGV[1])
  local upto = tonumber(ARGV[2])
  local last = tonumber(redis.call('HGET', h, 'last') or '0')
  local ep = tonumber(redis.call('HGET', h, 'ep') or '-1')
  if base < ep then return 0 end
  local hi, lost = base, 0
  if base == ep then
    hi = tonumber(redis.call('HGET', h, 'hi') or ARGV[1])
    lost = tonumber(redis.call('HGET', h, 'lost') or '0')
  end
  if upto > hi then
    local ran = math.max(last, hi)
    if upto > ran then lost = lost + (upto - ran) end
    hi = upto
  end
  if upto > last then last = upto end
  redis.call('HSET', h, 'last', last, 'ep', base, 'hi', hi, 'lost', lost)
  redis.call('PEXPIRE', h, ARGV[3])
  return lost
end
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
if tonumber(ARGV[7]) <= last then return 0 end
redis.call('HSET', KEYS[2], 'last', ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[8])
local id = '0-0'
if tonumber(ARGV[5]) > 0 then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'o', ARGV[2], 't', ARGV[3], 'f', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return 1
";

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Messages given up and not fenced yet: every number in `(base, upto]`.
#[derive(Debug, Clone, Copy)]
struct GivenUp {
    base: u64,
    upto: u64,
}

/// Sends queued messages to Redis in pipelines; while Redis is away, keeps
/// them (the channel is the bounded buffer) and retries with backoff.
pub(crate) async fn publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outbound>) {
    let script = redis::Script::new(PUBLISH_SCRIPT);
    let origin = shared.node.to_string();
    let origin_key = shared.names.origin_key(shared.node);
    let config = &shared.config;
    let stream_ttl = millis(config.replay_ttl);
    let origin_ttl =
        millis(ORIGIN_TTL.max(config.replay_ttl.saturating_add(config.outage_max_age)));
    let mut batch: Vec<Outbound> = Vec::with_capacity(PUBLISH_BATCH);
    let mut down_since: Option<Instant> = None;
    let mut backoff = Backoff::new(config.reconnect_max);
    // The last message number given; every number up to `confirmed` is
    // settled (ran, or fenced and counted).
    let mut numbered: u64 = 0;
    let mut confirmed: u64 = 0;
    let mut given_up: Option<GivenUp> = None;
    loop {
        if batch.is_empty()
            && given_up.is_none()
            && rx.recv_many(&mut batch, PUBLISH_BATCH).await == 0
        {
            return; // the layer is gone
        }
        for message in batch.iter_mut().filter(|m| m.seq == 0) {
            numbered += 1;
            message.seq = numbered;
        }
        // Give up the messages that waited too long: the oldest, up to the
        // last one over the limit (numbers in order, so that the fence
        // covers exactly them).
        if let Some(last_expired) = batch
            .iter()
            .rposition(|m| m.queued.elapsed() > config.outage_max_age)
        {
            let upto = batch[last_expired].seq;
            batch.drain(..=last_expired);
            let base = given_up.map_or(confirmed, |g| g.base);
            given_up = Some(GivenUp { base, upto });
            tracing::warn!(
                upto,
                "liveview: messages for other nodes waited longer than the outage buffer allows; given up unless Redis already has them"
            );
        }
        let mut pipe = redis::pipe();
        if let Some(fence) = given_up {
            pipe.cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(1)
                .arg(&origin_key)
                .arg(fence.base)
                .arg(fence.upto)
                .arg(origin_ttl);
        }
        for message in &batch {
            pipe.cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(2)
                .arg(&message.stream)
                .arg(&origin_key)
                .arg(&message.channel)
                .arg(&origin)
                .arg(&message.target)
                .arg(message.frame.as_str())
                .arg(config.replay_len)
                .arg(stream_ttl)
                .arg(message.seq)
                .arg(origin_ttl)
                .ignore();
        }
        liveview::telemetry::outage_buffer_depth(batch.len() + rx.len());
        let mut conn = shared.manager.clone();
        let result: Result<Vec<u64>, redis::RedisError> =
            match timeout(config.op_timeout, pipe.query_async(&mut conn)).await {
                Ok(result) => result,
                Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
            };
        match result {
            Ok(lost) => {
                if let Some(since) = down_since.take() {
                    tracing::info!(
                        outage = ?since.elapsed(),
                        "liveview: redis reachable again; publishing resumed"
                    );
                }
                if let Some(fence) = given_up.take() {
                    let lost = lost.first().copied().unwrap_or(0);
                    confirmed = confirmed.max(fence.upto);
                    if lost > 0 {
                        shared.dropped.fetch_add(lost, Ordering::Relaxed);
                        liveview::telemetry::outage_dropped(lost);
                        tracing::warn!(
                            lost,
                            "liveview: messages for other nodes were lost in a redis outage"
                        );
                    }
                }
                if let Some(last) = batch.last() {
                    confirmed = confirmed.max(last.seq);
                }
                backoff.reset();
                batch.clear();
                liveview::telemetry::outage_buffer_depth(rx.len());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::PUBLISH_SCRIPT;
    use liveview_e2e::redis::RedisServer;

    async fn publish(conn: &mut redis::aio::MultiplexedConnection, seq: u64) -> u64 {
        redis::Script::new(PUBLISH_SCRIPT)
            .key("t:g:x")
            .key("t:o:n")
            .arg("t:0:g:x")
            .arg("00000000000000aa")
            .arg("-")
            .arg(format!("{{\"n\":{seq}}}"))
            .arg(1000)
            .arg(60_000)
            .arg(seq)
            .arg(60_000)
            .invoke_async(conn)
            .await
            .unwrap()
    }

    async fn fence(conn: &mut redis::aio::MultiplexedConnection, base: u64, upto: u64) -> u64 {
        redis::Script::new(PUBLISH_SCRIPT)
            .key("t:o:n")
            .arg(base)
            .arg(upto)
            .arg(60_000)
            .invoke_async(conn)
            .await
            .unwrap()
    }

    async fn stream_len(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
        redis::cmd("XLEN")
            .arg("t:g:x")
            .query_async(conn)
            .await
            .unwrap()
    }

    /// What a frozen Redis does with a pipeline the publisher sent again:
    /// it runs every copy when it resumes. Each message must run once.
    #[tokio::test]
    async fn copies_of_a_message_run_once_and_a_fence_counts_what_never_ran() {
        let redis = RedisServer::start();
        let client = redis::Client::open(redis.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();

        assert_eq!(publish(&mut conn, 1).await, 1);
        assert_eq!(publish(&mut conn, 1).await, 0, "a copy of message 1");
        assert_eq!(stream_len(&mut conn).await, 1);

        // Messages 2 to 5 are given up by the publisher (too old), but an
        // earlier attempt had reached Redis with 2 and 3.
        assert_eq!(publish(&mut conn, 2).await, 1);
        assert_eq!(publish(&mut conn, 3).await, 1);
        assert_eq!(fence(&mut conn, 1, 4).await, 1, "4 never ran");
        assert_eq!(fence(&mut conn, 1, 4).await, 1, "a copy of the fence");
        assert_eq!(fence(&mut conn, 1, 5).await, 2, "5 given up too");
        assert_eq!(publish(&mut conn, 4).await, 0, "fenced: never runs");
        assert_eq!(publish(&mut conn, 3).await, 0);
        assert_eq!(fence(&mut conn, 0, 9).await, 0, "a stale fence");
        assert_eq!(publish(&mut conn, 6).await, 1);
        assert_eq!(publish(&mut conn, 6).await, 0);
        assert_eq!(stream_len(&mut conn).await, 4, "messages 1, 2, 3 and 6");
        assert_eq!(fence(&mut conn, 6, 8).await, 2, "a new fence: 7 and 8");

        // A fresh Redis (restarted, empty) knows nothing: the next
        // message runs, and a fence counts every number it covers.
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
        assert_eq!(publish(&mut conn, 9).await, 1);
        assert_eq!(fence(&mut conn, 9, 12).await, 3);
    }
}
