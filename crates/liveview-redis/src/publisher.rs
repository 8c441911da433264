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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

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

/// The script text: `PUBLISH` on one Redis, `SPUBLISH` (to the shard of
/// the group's slot only) on a cluster.
fn script_text(cluster: bool) -> String {
    if cluster {
        PUBLISH_SCRIPT.replace("'PUBLISH'", "'SPUBLISH'")
    } else {
        PUBLISH_SCRIPT.to_owned()
    }
}

/// The messages of one lane: all of them on one Redis; on a cluster, those
/// of one hash slot, which go to Redis in their own pipelines, numbered on
/// their own (the origin hash lives in the slot), and retried on their own
/// while their shard is away.
struct Lane {
    origin_key: String,
    /// Waiting messages, in order; the first [`PUBLISH_BATCH`] go next.
    batch: Vec<Outbound>,
    /// The last message number given; every number up to `confirmed` is
    /// settled (ran, or fenced and counted).
    numbered: u64,
    confirmed: u64,
    given_up: Option<GivenUp>,
    down_since: Option<Instant>,
    backoff: Backoff,
    /// After a failure: not before then.
    retry_at: Option<Instant>,
}

/// What every lane's attempt needs.
struct Context<'a> {
    shared: &'a Shared,
    script: redis::Script,
    origin: String,
    stream_ttl: u64,
    origin_ttl: u64,
}

impl Lane {
    fn busy(&self) -> bool {
        !self.batch.is_empty() || self.given_up.is_some()
    }

    fn ready(&self, now: Instant) -> bool {
        self.busy() && self.retry_at.is_none_or(|at| at <= now)
    }

    /// One pipeline to Redis: the fence (if messages were given up), then
    /// up to [`PUBLISH_BATCH`] messages.
    async fn attempt(&mut self, cx: &Context<'_>) {
        let config = &cx.shared.config;
        self.retry_at = None;
        // Give up the messages that waited too long: the oldest, up to the
        // last one over the limit (numbers in order, so that the fence
        // covers exactly them).
        if let Some(last_expired) = self
            .batch
            .iter()
            .rposition(|m| m.queued.elapsed() > config.outage_max_age)
        {
            let upto = self.batch[last_expired].seq;
            self.batch.drain(..=last_expired);
            cx.shared
                .pending
                .fetch_sub(last_expired + 1, Ordering::AcqRel);
            let base = self.given_up.map_or(self.confirmed, |g| g.base);
            self.given_up = Some(GivenUp { base, upto });
            tracing::warn!(
                upto,
                "liveview: messages for other nodes waited longer than the outage buffer allows; given up unless Redis already has them"
            );
        }
        let sent = self.batch.len().min(PUBLISH_BATCH);
        let mut pipe = redis::pipe();
        if let Some(fence) = self.given_up {
            pipe.cmd("EVALSHA")
                .arg(cx.script.get_hash())
                .arg(1)
                .arg(&self.origin_key)
                .arg(fence.base)
                .arg(fence.upto)
                .arg(cx.origin_ttl);
        }
        for message in &self.batch[..sent] {
            pipe.cmd("EVALSHA")
                .arg(cx.script.get_hash())
                .arg(2)
                .arg(&message.stream)
                .arg(&self.origin_key)
                .arg(&message.channel)
                .arg(&cx.origin)
                .arg(&message.target)
                .arg(message.frame.as_str())
                .arg(config.replay_len)
                .arg(cx.stream_ttl)
                .arg(message.seq)
                .arg(cx.origin_ttl)
                .ignore();
        }
        let mut conn = cx.shared.manager.clone();
        let result: Result<Vec<u64>, redis::RedisError> =
            match timeout(config.op_timeout, pipe.query_async(&mut conn)).await {
                Ok(result) => result,
                Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
            };
        match result {
            Ok(lost) => {
                if let Some(since) = self.down_since.take() {
                    tracing::info!(
                        outage = ?since.elapsed(),
                        "liveview: redis reachable again; publishing resumed"
                    );
                }
                if let Some(fence) = self.given_up.take() {
                    let lost = lost.first().copied().unwrap_or(0);
                    self.confirmed = self.confirmed.max(fence.upto);
                    if lost > 0 {
                        cx.shared.dropped.fetch_add(lost, Ordering::Relaxed);
                        liveview::telemetry::outage_dropped(lost);
                        tracing::warn!(
                            lost,
                            "liveview: messages for other nodes were lost in a redis outage"
                        );
                    }
                }
                if let Some(last) = self.batch[..sent].last() {
                    self.confirmed = self.confirmed.max(last.seq);
                }
                self.backoff.reset();
                self.batch.drain(..sent);
                cx.shared.pending.fetch_sub(sent, Ordering::AcqRel);
            }
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                // A fresh Redis (restarted, or a new master): load the
                // script, send again.
                if let Err(err) = timeout(config.op_timeout, cx.script.load_async(&mut conn))
                    .await
                    .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()))
                {
                    tracing::warn!(%err, "liveview: cannot load the redis publish script");
                    self.retry_at = Some(Instant::now() + self.backoff.next());
                }
            }
            Err(err) => {
                if self.down_since.is_none() {
                    self.down_since = Some(Instant::now());
                    tracing::warn!(
                        %err,
                        "liveview: redis publish failed; local delivery continues, messages for other nodes are buffered"
                    );
                }
                self.retry_at = Some(Instant::now() + self.backoff.next());
            }
        }
    }
}

/// Sends queued messages to Redis in pipelines; while Redis (or, on a
/// cluster, a shard) is away, keeps them (the channel is the bounded
/// buffer) and retries with backoff.
pub(crate) async fn publisher(shared: Arc<Shared>, mut rx: mpsc::Receiver<Outbound>) {
    let config = &shared.config;
    let cluster = shared.names.cluster;
    let cx = Context {
        shared: &shared,
        script: redis::Script::new(&script_text(cluster)),
        origin: shared.node.to_string(),
        stream_ttl: millis(config.replay_ttl),
        origin_ttl: millis(ORIGIN_TTL.max(config.replay_ttl.saturating_add(config.outage_max_age))),
    };
    // Messages taken from the channel and not settled yet, at most: one
    // pipeline on one Redis (the rest wait in the channel, as the outage
    // buffer); on a cluster, the outage buffer again, so that a shard that
    // is away does not hold back the others' messages.
    let max_taken = if cluster {
        config.outage_buffer.max(PUBLISH_BATCH)
    } else {
        PUBLISH_BATCH
    };
    let mut lanes: HashMap<u16, Lane> = HashMap::new();
    let mut incoming: Vec<Outbound> = Vec::with_capacity(PUBLISH_BATCH);
    // The number of the last group message taken from the channel.
    let mut taken_mark = 0;
    let mut closed = false;
    loop {
        let taken: usize = lanes.values().map(|l| l.batch.len()).sum();
        liveview::telemetry::outage_buffer_depth(taken + rx.len());
        let room = max_taken.saturating_sub(taken).min(PUBLISH_BATCH);
        let now = Instant::now();
        let busy = lanes.values().any(Lane::busy);
        let wake = lanes
            .values()
            .filter(|l| l.busy())
            .map(|l| l.retry_at.unwrap_or(now))
            .min();
        if !busy {
            if closed || rx.recv_many(&mut incoming, PUBLISH_BATCH).await == 0 {
                return; // the layer is gone
            }
        } else if let Some(wake) = wake.filter(|w| *w > now) {
            if room > 0 && !closed {
                if let Ok(0) = timeout_at(wake, rx.recv_many(&mut incoming, room)).await {
                    closed = true;
                }
            } else {
                tokio::time::sleep_until(wake).await;
            }
        } else {
            while incoming.len() < room {
                match rx.try_recv() {
                    Ok(message) => incoming.push(message),
                    Err(_) => break,
                }
            }
        }
        for mut message in incoming.drain(..) {
            let lane_id = shared.names.lane(&message.stream);
            let lane = lanes.entry(lane_id).or_insert_with(|| Lane {
                origin_key: shared.names.origin_key(shared.node, lane_id),
                batch: Vec::new(),
                numbered: 0,
                confirmed: 0,
                given_up: None,
                down_since: None,
                backoff: Backoff::new(config.reconnect_max),
                retry_at: None,
            });
            lane.numbered += 1;
            message.seq = lane.numbered;
            taken_mark = taken_mark.max(message.mark);
            lane.batch.push(message);
        }
        let now = Instant::now();
        let attempts = lanes
            .values_mut()
            .filter(|lane| lane.ready(now))
            .map(|lane| lane.attempt(&cx));
        futures_util::future::join_all(attempts).await;
        shared
            .settled
            .store(settled(&lanes, taken_mark), Ordering::Release);
    }
}

/// Every group message numbered up to the result is settled: all those
/// taken from the channel, except from the first still waiting in a lane
/// (the channel hands them over in order, and each lane keeps it).
fn settled(lanes: &HashMap<u16, Lane>, taken_mark: u64) -> u64 {
    lanes
        .values()
        .filter_map(|lane| lane.batch.iter().find(|m| m.mark > 0))
        .map(|first| first.mark - 1)
        .min()
        .unwrap_or(taken_mark)
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

    fn lane(marks: &[u64]) -> super::Lane {
        super::Lane {
            origin_key: String::new(),
            batch: marks
                .iter()
                .map(|mark| super::Outbound {
                    stream: String::new(),
                    channel: String::new(),
                    target: String::new(),
                    frame: liveview::layer::Frame::from_json_text("{}"),
                    queued: tokio::time::Instant::now(),
                    seq: 0,
                    mark: *mark,
                })
                .collect(),
            numbered: 0,
            confirmed: 0,
            given_up: None,
            down_since: None,
            backoff: crate::backoff::Backoff::new(std::time::Duration::from_secs(1)),
            retry_at: None,
        }
    }

    #[test]
    fn group_messages_are_settled_up_to_the_first_one_still_waiting() {
        use std::collections::HashMap;
        let mut lanes = HashMap::new();
        assert_eq!(super::settled(&lanes, 9), 9, "nothing waits");
        lanes.insert(1, lane(&[0, 7, 8]));
        lanes.insert(2, lane(&[5, 9]));
        lanes.insert(3, lane(&[0]));
        assert_eq!(super::settled(&lanes, 9), 4, "5 waits on lane 2");
        lanes.remove(&2);
        assert_eq!(super::settled(&lanes, 9), 6);
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
