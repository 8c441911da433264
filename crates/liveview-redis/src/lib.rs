//! Several liveview nodes, one Redis: a channel layer and a presence backend.
//!
//! One server is not always enough. Run several behind a load balancer,
//! give them one Redis, and select [`RedisLayer`] as their channel layer: a
//! broadcast, a group message or a message to one connection then reaches
//! its clients whichever node they are connected to. Handler code does not
//! change, only the layer does. [`presence`] (or [`RedisPresence`]) shares a
//! [`Presence`](liveview::presence::Presence) across the same nodes, and
//! [`RedisSessions`] their page sessions (a socket resumes its session on
//! any node, or after a deploy: `docs/sessions.md`).
//!
//! Each node delivers to its own clients at once and publishes the frame's
//! bytes for the others; each node has one pub/sub connection, subscribed
//! to the groups its clients are in and to its own channel (direct sends),
//! and fans what arrives out to its clients from one copy. While Redis is
//! away, local delivery keeps working, outgoing messages wait in a bounded
//! buffer, and short outages are replayed from capped Redis streams.
//! `docs/redis.md` says what can still be lost; `docs/presence.md` how a
//! dead node's presence expires.
//!
//! This crate uses only liveview's public interface, [`liveview::layer`]
//! (`ChannelLayer`, `LocalHub`, `Mailbox`, `Frame`, `ConnId`, `NodeId`,
//! `SendError`) and [`liveview::presence`] (`PresenceBackend`,
//! `PresenceHub`): a layer on another transport is written the same way,
//! and checked with `liveview::layer::conformance`.
//!
//! ```no_run
//! use liveview::LiveView;
//! use liveview::presence::Presence;
//! use liveview_redis::RedisLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = RedisLayer::connect("redis://127.0.0.1:6379").await?;
//! let presence: Presence = liveview_redis::presence(&layer)?;
//! let lv = LiveView::builder()
//!     .layer(layer)
//!     .state(presence.clone())
//!     .build()?;
//! let app: axum::Router = axum::Router::new().merge(lv.router());
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! Redis 6.2 or later, a single instance or a primary with replicas; or a
//! Redis 7 Cluster, named by `redis+cluster://host:port,host:port` or
//! [`RedisConfig::cluster`]: each group lives on the shard of its hash slot
//! and travels by sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`), presence on
//! one shard. Redis is trusted: whoever can publish on its channels can
//! push HTML to every client.

mod backoff;
mod cluster;
mod config;
mod conn;
mod feed;
mod layer;
mod link;
mod missed;
mod names;
mod presence;
mod publisher;
mod sessions;
mod shared;
mod stream;
mod subscriber;

pub use config::{RedisConfig, RedisLayerError};
pub use layer::RedisLayer;
pub use presence::{DEFAULT_TTL, RedisPresence, presence};
pub use sessions::RedisSessions;
