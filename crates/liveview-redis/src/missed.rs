//! What a page session missed of a group while it moved between processes:
//! read from the group's stream, from when the session joined, leaving out
//! what its cursor says it received.

use std::sync::atomic::Ordering;
use std::time::Duration;

use liveview::layer::{Frame, GroupCursor, SendError};
use redis::Value;
use tokio::time::{Instant, timeout};

use crate::shared::Shared;
use crate::stream::{mark_of, stream_entry};

/// The marked messages of `group`'s stream that `cursor` has not seen,
/// oldest first. Control messages (a kick) are not numbered, and left out:
/// they were meant for the sockets of the moment.
pub(crate) async fn group_missed(
    shared: &Shared,
    group: &str,
    cursor: &GroupCursor,
) -> Result<Vec<Frame>, SendError> {
    let config = &shared.config;
    if config.replay_len == 0 {
        return Ok(Vec::new());
    }
    // What this node sent before the session joined here was delivered to
    // the members of the moment, not to it: wait until it is in the stream.
    settle(shared).await;
    let mut conn = shared.manager.clone();
    // From the last logged message the session received (what came before
    // it arrived, or was not the session's), else from its join.
    let from = match cursor.after {
        Some((ms, n)) => format!("({ms}-{n}"),
        None => format!("{}-0", cursor.since_ms),
    };
    let mut cmd = redis::cmd("XRANGE");
    cmd.arg(shared.names.group_key(group))
        .arg(from)
        .arg("+")
        .arg("COUNT")
        .arg(config.replay_len);
    let query = cmd.query_async::<Value>(&mut conn);
    let entries = timeout(config.op_timeout, query)
        .await
        .map_err(|_| SendError::Backend("reading a group's stream timed out".to_owned()))?
        .map_err(|err| SendError::Backend(err.to_string()))?;
    let Value::Array(entries) = entries else {
        return Ok(Vec::new());
    };
    let mut missed = Vec::new();
    for entry in entries {
        let Some((id, fields)) = stream_entry(entry) else {
            continue;
        };
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let (origin, target, json) = (field("o"), field("t"), field("f"));
        let Some(mark) = mark_of(Some(id), origin, target) else {
            continue; // not numbered: nothing says whether it arrived
        };
        if cursor.has_seen(mark) {
            continue;
        }
        missed.push(Frame::marked_json(group, mark, json));
    }
    Ok(missed)
}

/// Waits until every group message this node numbered so far is in its
/// stream; while Redis is away, no longer than the layer's operation
/// timeout (what is still queued then is not replayed; logged).
async fn settle(shared: &Shared) {
    let upto = *shared
        .numbered
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let deadline = Instant::now() + shared.config.op_timeout;
    while shared.settled.load(Ordering::Acquire) < upto {
        if Instant::now() >= deadline {
            tracing::warn!(
                upto,
                "liveview: this node's group messages are not all in Redis yet; a moved session may miss some"
            );
            return;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// How often [`settle`] looks again.
const SETTLE_POLL: Duration = Duration::from_millis(2);
