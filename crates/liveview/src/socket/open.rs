//! A new socket's first steps: its id and mailbox, the groups every
//! connection joins, its page session (fresh, or restored from a snapshot),
//! and the first frames (the session frame, `on_connect` or `on_resume`).
//!
//! Its own future, boxed by the caller: what it holds (the socket before it
//! is the writer's, the request before it is the connection's, the joins in
//! flight) is gone once the session is made, so the connection's task does
//! not keep room for it while it idles.

use std::sync::Arc;

use liveview_protocol::BROADCAST_GROUP;
use tokio::sync::watch;
use tokio::time::Instant;

use super::io::{Step, Writer};
use super::resume::Page;
use super::{Accepted, Beginning, Opening, Session, portable};
use crate::ctx::{Connection, Ctx};
use crate::layer::{ConnId, Mailbox, MailboxReceiver};
use crate::limits::RateLimiter;
use crate::session::Journal;

/// What [`open`] makes of an opening socket.
pub(super) struct Opened {
    pub(super) session: Session,
    pub(super) outbox: MailboxReceiver,
    pub(super) shutdown: watch::Receiver<bool>,
    /// The first frames were written (or why the connection ends already).
    pub(super) connected: Step,
    /// Counts the connection as open until it is dropped.
    pub(super) _open: crate::telemetry::ConnectionOpen,
}

/// Makes the session of an opening socket and writes its first frames.
pub(super) async fn open(opening: Box<Opening>, beginning: Beginning) -> Opened {
    let Opening {
        socket,
        app,
        accepted,
        guard,
    } = *opening;
    let Accepted {
        room,
        room_claims,
        dialect,
        request,
        shutdown,
        deadline,
        resume: _,
    } = accepted;
    let _open = crate::telemetry::ConnectionOpen::new();
    let layer = &app.services.layer;
    let id = ConnId::next(layer.node());
    let (mailbox, outbox) = Mailbox::new(app.limits.outgoing_queue);
    layer.attach(id, mailbox.clone());
    // The room's group has its own namespace: a room named like an app's
    // group does not receive it.
    let room_group = crate::rooms::room_group(&room);
    for group in [&*room_group, BROADCAST_GROUP] {
        if let Err(err) = layer.group_add(group, id).await {
            tracing::warn!(%id, group, %err, "liveview: could not join group");
        }
    }
    tracing::debug!(%id, room = &*room, ?dialect, "liveview: connected");
    let connection =
        Arc::new(Connection::new(id, room, request, mailbox).with_room_claims(room_claims));
    let limits = &app.limits;
    let (page, journal) = match (&beginning, dialect.has_sessions()) {
        (_, false) => (None, None),
        (Beginning::Fresh(_), true) => (
            Some(Page::start(&app, &connection.room, None)),
            Some(Journal::new(limits.replay_frames, limits.replay_bytes)),
        ),
        (Beginning::Restored(restored), true) => {
            // Boxed: rare, and its state would make this future larger.
            let (page, journal) = Box::pin(portable::restore(&app, &connection, restored)).await;
            (Some(page), Some(journal))
        }
    };
    let journal = journal.map(Box::new);
    let ctx = Ctx::new(connection, Arc::clone(&app.services));
    let limiter = limits
        .events_per_second
        .map(|rate| RateLimiter::new(rate, limits.event_burst));
    let budget = limits
        .frame_budget
        .map(|(rate, burst)| RateLimiter::new(rate, burst));
    let mut session = Session {
        writer: Writer::new(socket, limits.write_timeout, journal, app.metrics.wire()),
        app: Arc::clone(&app),
        ctx,
        dialect,
        limiter,
        budget,
        in_flight: None,
        last_seen: Instant::now(),
        uploads: None,
        deadline: deadline.map(Instant::from_std),
        page,
        guard: Some(guard),
    };
    let connected = match beginning {
        Beginning::Fresh(refused) => Box::pin(session.begin(refused)).await,
        Beginning::Restored(restored) => {
            tracing::debug!(%id, seen = restored.seen, "liveview: session resumed from a snapshot");
            Box::pin(session.resumed(restored.seen)).await
        }
    };
    Opened {
        session,
        outbox,
        shutdown,
        connected,
        _open,
    }
}
