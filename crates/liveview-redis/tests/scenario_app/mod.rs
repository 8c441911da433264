//! The app every node of the scenarios serves: say (broadcast, group,
//! room), join and leave, whoami, a late send, poke (a direct send), and
//! presence (visit, arrive, bye, who).

#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use liveview::layer::ConnId;
use liveview::presence::Presence;
use liveview::{Ctx, Data, Error, Limits, LiveViewBuilder, Patch, Result, State};
use serde_json::{Value, json};

async fn say(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let text = d["text"].as_str().unwrap_or_default().to_owned();
    if let Some(room) = d["room"].as_str() {
        ctx.channels()
            .send_room(room, Patch::append("#messages", text))
            .await?;
        return Ok(());
    }
    match d["to"].as_str() {
        Some("room") => ctx.send_room(Patch::append("#messages", text)).await?,
        Some(group) => {
            ctx.group_send(group, Patch::append("#messages", text))
                .await?
        }
        None => ctx.broadcast(Patch::append("#messages", text)).await?,
    }
    Ok(())
}

async fn join(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let group = d["group"].as_str().unwrap_or_default();
    if d["leave"] == json!(true) {
        ctx.leave(group).await?;
    } else {
        ctx.join(group).await?;
    }
    Ok(())
}

async fn whoami(ctx: Ctx) -> Patch {
    Patch::html("#me", ctx.id().to_string())
}

async fn later(ctx: Ctx) -> Patch {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ctx.send(Patch::html("#status", "done")).unwrap();
    });
    Patch::html("#status", "working")
}

async fn poke(ctx: Ctx, Data(d): Data<Value>) -> Result<()> {
    let id =
        ConnId::parse(d["id"].as_str().unwrap_or_default()).ok_or_else(|| Error::user("bad id"))?;
    ctx.send_to(id, Patch::html("#poke", "poked")).await?;
    Ok(())
}

/// Tracks the visitor and answers with how many are here.
async fn visit(ctx: Ctx, State(presence): State<Presence>, Data(d): Data<Value>) -> Result<Patch> {
    let name = d["name"].as_str().unwrap_or("anonymous").to_owned();
    presence.track(&ctx, "lobby", json!({"name": name})).await?;
    let here = presence.list("lobby").await.len();
    Ok(Patch::html("#visitors", here.to_string()))
}

/// Tracks the visitor with its page; answers nothing.
async fn arrive(ctx: Ctx, State(presence): State<Presence>, Data(d): Data<Value>) -> Result<()> {
    let name = d["name"].as_str().unwrap_or("anonymous").to_owned();
    presence
        .track(&ctx, "lobby", json!({"name": name, "page": "/"}))
        .await?;
    Ok(())
}

async fn bye(ctx: Ctx, State(presence): State<Presence>) {
    presence.untrack(&ctx, "lobby");
}

async fn who(State(presence): State<Presence>) -> Patch {
    let names: Vec<String> = presence
        .list("lobby")
        .await
        .into_iter()
        .map(|e| e.meta["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    Patch::html("#who", names.join(","))
}

pub fn app(builder: LiveViewBuilder, presence: &Presence) -> LiveViewBuilder {
    builder
        .auto_register(false)
        .debug(true)
        .limits(
            Limits::default()
                .max_connections(1000)
                .connections_per_address(None),
        )
        .state(presence.clone())
        .handler("say", say)
        .handler("join", join)
        .handler("whoami", whoami)
        .handler("later", later)
        .handler("poke", poke)
        .handler("visit", visit)
        .handler("arrive", arrive)
        .handler("bye", bye)
        .handler("who", who)
        .handler("ping", || async {})
}
