//! One client of the `storm` scenario: a version-2 page session that joins
//! its group, reads the numbered frames published to it, has its socket
//! reset, resumes on a new socket, and checks that the replay and the live
//! frames after it continue the sequence exactly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use liveview::protocol::{ServerMessage, SessionInfo};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::group_target;
use crate::client::{self, Connector, Frame, Ws};

/// What every client of a run shares.
pub(super) struct Plan {
    pub(super) connector: Connector,
    /// `ws://ADDR/ws/liveview/ROOM/?v=2`.
    pub(super) url: String,
    pub(super) groups: u32,
    /// The last frame published before the cut.
    pub(super) before: u64,
    /// The last frame published at all.
    pub(super) last: u64,
    pub(super) timeout: Duration,
    /// Bounds the first handshakes.
    pub(super) connects: Arc<Semaphore>,
    /// Bounds the reconnect handshakes.
    pub(super) reconnects: Arc<Semaphore>,
}

/// Where the run is; clients wait for it to move on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Connect, join, read the frames published before the cut.
    Connect,
    /// Reset the socket.
    Cut,
    /// Resume (the instant the reconnect began).
    Reconnect(Instant),
}

/// Stages a client reports reaching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Connected, in its group.
    Joined = 0,
    /// With every frame published before the cut.
    Ready = 1,
    /// Its socket is reset.
    Cut = 2,
    /// Resumed on a new socket.
    Resumed = 3,
}

/// What a client tells the run as it goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Note {
    /// It reached a stage.
    Reached(Stage),
    /// It stopped early, after reaching the given stage (if any).
    Gone(Option<Stage>),
}

/// How one client's run went.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Numbered frames of its group it never received.
    pub(super) lost: u64,
    /// Numbered frames it received more than once (or out of order).
    pub(super) duplicated: u64,
    /// Frames aimed at another group.
    pub(super) foreign: u64,
    /// Why the server refused the resume, if it did.
    pub(super) refused: Option<String>,
    /// From the start of the reconnect to its session frame.
    pub(super) resumed_after: Option<Duration>,
    /// From the start of the reconnect to the last published frame.
    pub(super) caught_up_after: Option<Duration>,
    /// Frames replayed or live after the resume, up to the last one.
    pub(super) after_resume: u64,
    /// What went wrong, if something did.
    pub(super) error: Option<String>,
}

/// The frames a client has seen, and the check of its group's sequence.
struct Tracker {
    target: String,
    /// Frames of the session received (the count a resume presents).
    seen: u64,
    /// The highest number received from the group.
    last: u64,
    lost: u64,
    duplicated: u64,
    foreign: u64,
}

impl Tracker {
    /// Counts a text frame; returns its `ref` if it answers an event.
    fn on_text(&mut self, text: &str) -> Result<Option<u64>, String> {
        let frame = Frame::parse(text).map_err(|e| format!("unparseable frame ({e}): {text}"))?;
        if text.starts_with(r#"{"session""#) {
            return Err(format!("a session frame mid-stream: {text}"));
        }
        if let Some(e) = frame.error_text() {
            return Err(format!("error frame: {e}"));
        }
        self.seen += 1;
        if let Some(seq) = frame.number_for(&self.target) {
            if seq <= self.last {
                self.duplicated += 1;
            } else {
                self.lost += seq - self.last - 1;
                self.last = seq;
            }
        } else if frame.reference.is_none() {
            self.foreign += 1;
        }
        Ok(frame.reference)
    }
}

/// Runs one client; `notes` hears of every stage it reaches.
pub(super) async fn run(
    idx: usize,
    plan: Arc<Plan>,
    phase: watch::Receiver<Phase>,
    notes: mpsc::UnboundedSender<Note>,
) -> Outcome {
    let group = u32::try_from(idx % plan.groups as usize).unwrap_or(0);
    let mut tracker = Tracker {
        target: group_target(group),
        seen: 0,
        last: 0,
        lost: 0,
        duplicated: 0,
        foreign: 0,
    };
    let mut outcome = Outcome::default();
    let mut reached = None;
    let result = life(
        idx,
        group,
        &plan,
        phase,
        &notes,
        &mut tracker,
        &mut outcome,
        &mut reached,
    )
    .await;
    // Frames missing at the end (the replay or the live frames stopped).
    if outcome.refused.is_none() {
        tracker.lost += plan.last.saturating_sub(tracker.last);
    }
    outcome.lost = tracker.lost;
    outcome.duplicated = tracker.duplicated;
    outcome.foreign = tracker.foreign;
    if let Err(e) = result {
        outcome.error = Some(e);
    }
    if outcome.error.is_some() || outcome.refused.is_some() {
        let _ = notes.send(Note::Gone(reached));
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn life(
    idx: usize,
    group: u32,
    plan: &Plan,
    mut phase: watch::Receiver<Phase>,
    notes: &mpsc::UnboundedSender<Note>,
    tracker: &mut Tracker,
    outcome: &mut Outcome,
    reached: &mut Option<Stage>,
) -> Result<(), String> {
    let mut reach = |stage: Stage| {
        *reached = Some(stage);
        let _ = notes.send(Note::Reached(stage));
    };
    let (mut ws, info) = {
        let _permit = plan.connects.acquire().await.map_err(|e| e.to_string())?;
        let mut ws = open(plan, idx, &plan.url).await?;
        let info = session_frame(&mut ws, plan.timeout).await?;
        (ws, info)
    };
    if info.resumed {
        return Err(format!("a new socket resumed a session: {info:?}"));
    }
    let join =
        format!(r#"{{"function":"bench_join","data":{{"group":{group}}},"form":{{}},"ref":1}}"#);
    ws.send(Message::text(join))
        .await
        .map_err(|e| format!("send: {e}"))?;
    read_until(&mut ws, tracker, plan.timeout, "the join", |_, r| {
        r == Some(1)
    })
    .await?;
    reach(Stage::Joined);
    read_until(
        &mut ws,
        tracker,
        plan.timeout,
        "the frames before the cut",
        |t, _| t.last >= plan.before,
    )
    .await?;
    reach(Stage::Ready);

    phase
        .wait_for(|p| *p != Phase::Connect)
        .await
        .map_err(|_| "the run ended".to_owned())?;
    cut(ws);
    reach(Stage::Cut);

    let t0 = match *phase
        .wait_for(|p| matches!(p, Phase::Reconnect(_)))
        .await
        .map_err(|_| "the run ended".to_owned())?
    {
        Phase::Reconnect(t0) => t0,
        _ => return Err("the run ended".into()),
    };
    let (mut ws, info) = {
        let _permit = plan.reconnects.acquire().await.map_err(|e| e.to_string())?;
        let mut ws = open(plan, idx, &format!("{}&resume=1", plan.url)).await?;
        let resume = format!(
            r#"{{"resume":{{"token":"{}","seen":{}}}}}"#,
            info.token, tracker.seen
        );
        ws.send(Message::text(resume))
            .await
            .map_err(|e| format!("resume send: {e}"))?;
        let info = session_frame(&mut ws, plan.timeout).await?;
        (ws, info)
    };
    if !info.resumed {
        outcome.refused = Some(
            info.refused
                .map_or_else(|| "no reason given".to_owned(), |r| r.to_string()),
        );
        return Ok(());
    }
    outcome.resumed_after = Some(t0.elapsed());
    reach(Stage::Resumed);
    let seen_at_resume = tracker.seen;
    read_until(
        &mut ws,
        tracker,
        plan.timeout,
        "the replay and live frames",
        |t, _| t.last >= plan.last,
    )
    .await?;
    outcome.caught_up_after = Some(t0.elapsed());
    outcome.after_resume = tracker.seen - seen_at_resume;
    let _ = ws.close(None).await;
    Ok(())
}

/// Opens a socket to `url` from client `idx`'s source address.
async fn open(plan: &Plan, idx: usize, url: &str) -> Result<Ws, String> {
    let attempt = async {
        let stream = plan.connector.tcp(idx).await?;
        let request = url.into_client_request()?;
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(client::ws_config()))
                .await?;
        Ok::<_, crate::BoxError>(ws)
    };
    match tokio::time::timeout(plan.timeout, attempt).await {
        Ok(Ok(ws)) => Ok(ws),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err(format!("connect timed out after {:?}", plan.timeout)),
    }
}

/// Reads the session frame every version-2 socket starts with.
async fn session_frame(ws: &mut Ws, timeout: Duration) -> Result<SessionInfo, String> {
    let text = match tokio::time::timeout(timeout, next_text(ws)).await {
        Ok(r) => r?,
        Err(_) => return Err(format!("no session frame within {timeout:?}")),
    };
    ServerMessage::from_json(&text)
        .ok()
        .and_then(|m| m.session)
        .ok_or_else(|| format!("expected a session frame, got {text}"))
}

/// Reads frames until `done` (given the tracker and the frame's `ref`).
async fn read_until(
    ws: &mut Ws,
    tracker: &mut Tracker,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Tracker, Option<u64>) -> bool,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    if done(tracker, None) {
        return Ok(());
    }
    loop {
        let text = match tokio::time::timeout_at(deadline, next_text(ws)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(format!(
                    "{what}: not all there within {timeout:?} (got up to {})",
                    tracker.last
                ));
            }
        };
        let reference = tracker.on_text(&text)?;
        if done(tracker, reference) {
            return Ok(());
        }
    }
}

/// The next text frame.
async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed by the server: {frame:?}"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("receive: {e}")),
            None => return Err("connection closed".into()),
        }
    }
}

/// Drops the socket abruptly: with a zero linger the kernel sends a reset,
/// no close frame, no FIN.
fn cut(ws: Ws) {
    // Deprecated because a non-zero linger blocks the dropping thread; a
    // zero linger does not.
    #[allow(deprecated)]
    let _ = ws.get_ref().set_linger(Some(Duration::ZERO));
    drop(ws);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tracker() -> Tracker {
        Tracker {
            target: group_target(3),
            seen: 0,
            last: 0,
            lost: 0,
            duplicated: 0,
            foreign: 0,
        }
    }

    fn frame(target: &str, seq: u64) -> String {
        format!(
            r#"{{"target":"{target}","html":"{}"}}"#,
            client::fragment(seq)
        )
    }

    #[test]
    fn counts_gaps_duplicates_and_strangers() {
        let mut t = tracker();
        assert_eq!(t.on_text(r#"{"ref":1}"#).unwrap(), Some(1));
        for seq in [1, 2, 2, 5, 4, 6] {
            t.on_text(&frame("#storm-3", seq)).unwrap();
        }
        t.on_text(&frame("#storm-4", 7)).unwrap();
        assert_eq!(t.seen, 8, "every text frame counts");
        assert_eq!(t.last, 6);
        assert_eq!(t.lost, 2, "3 and 4 skipped when 5 came");
        assert_eq!(t.duplicated, 2, "the second 2, and 4 after 5");
        assert_eq!(t.foreign, 1);
        assert!(
            t.on_text(r#"{"session":{"token":"t","resumed":false}}"#)
                .is_err()
        );
        assert!(t.on_text(r#"{"error":"no","code":"x"}"#).is_err());
    }
}
