//! A live search and a broadcast, built in docs/guide.md.

use liveview::{Ctx, Form, LiveView, Patch, context};

const LANGUAGES: [&str; 5] = ["Rust", "Python", "Ruby", "Elixir", "Go"];

#[derive(serde::Deserialize)]
struct Search {
    query: String,
}

/// The languages whose name contains `query`, case-insensitively.
fn matching(query: &str) -> Vec<&'static str> {
    let query = query.to_lowercase();
    LANGUAGES
        .into_iter()
        .filter(|name| name.to_lowercase().contains(&query))
        .collect()
}

/// Runs on every keystroke (after the debounce): re-renders the results.
async fn search(ctx: Ctx, Form(form): Form<Search>) -> liveview::Result<Patch> {
    let html = ctx.render(
        "results.html",
        context! { results => matching(&form.query) },
    )?;
    Ok(Patch::html("#results", html))
}

#[derive(serde::Deserialize)]
struct Shout {
    text: String,
}

/// Sends the text to every open page, this one included.
async fn shout(ctx: Ctx, Form(form): Form<Shout>) -> liveview::Result<()> {
    let html = ctx.render("shout.html", context! { text => form.text })?;
    ctx.broadcast(Patch::append("#shouts", html)).await?;
    Ok(())
}

/// The whole app: the page, and the socket its events travel on.
pub fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("search", search)
        .handler("shout", shout)
        .templates(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
        .build()?;
    let templates = lv.templates().clone();
    // A failing template is logged and answered with a plain 500.
    let index =
        move || async move { templates.page("index.html", context! { results => LANGUAGES }) };
    Ok(axum::Router::new()
        .route("/", axum::routing::get(index))
        .merge(lv.router()))
}
