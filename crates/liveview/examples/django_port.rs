//! A Django LiveView app's handlers, ported line by line. Each Python
//! handler is quoted above its Rust equivalent:
//!
//! - `consumer` → [`Ctx`] (only when the handler needs it), `content` →
//!   extractors: `content["form"]` → [`Form`], `content["data"]` → [`Data`]
//!   (keys arrive snake_cased, `data-item-id` → `item_id`, as in Django LiveView);
//! - `send(consumer, {...})` → return a [`Patch`] (or `ctx.send`);
//! - `send(consumer, {...}, broadcast=True)` → `ctx.broadcast`;
//! - `@liveview_handler("name")` → `#[liveview::handler("name")]` or
//!   `.handler("name", f)` on the builder (used here, so the test builds
//!   exactly these handlers).
//!
//! The templates need no change but the tags: `{% liveview_room_uuid %}`
//! → `{{ liveview_room() }}`, `{% liveview_headers %}` → `{{ liveview_script() }}`.
//! `cargo run -p liveview --example django_port`, then open http://127.0.0.1:8000.

use liveview::{Ctx, Data, Form, LiveView, Patch, context};

#[derive(serde::Deserialize)]
struct Hello {
    #[serde(default)]
    name: String,
}

// @liveview_handler("say_hello")
// def say_hello(consumer, content):
//     name = content["form"]["name"]
//     send(consumer, {"target": "#greeting", "html": render_to_string("greeting.html", {"name": name})})
async fn say_hello(ctx: Ctx, Form(form): Form<Hello>) -> liveview::Result<Patch> {
    let html = ctx.render("greeting.html", context! { name => form.name })?;
    Ok(Patch::html("#greeting", html))
}

// @liveview_handler("notify_all")
// def notify_all(consumer, content):
//     send(consumer, {"target": "#notifications", "html": "<p>Someone pressed the button</p>",
//                     "append": True}, broadcast=True)
async fn notify_all(ctx: Ctx) -> liveview::Result<()> {
    ctx.broadcast(Patch::append(
        "#notifications",
        "<p>Someone pressed the button</p>",
    ))
    .await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Item {
    item_id: u32,
}

// @liveview_handler("delete_item")
// def delete_item(consumer, content):
//     item_id = int(content["data"]["item_id"])
//     send(consumer, {"target": f"#item-{item_id}", "remove": True})
async fn delete_item(Data(item): Data<Item>) -> liveview::Result<Patch> {
    Ok(Patch::remove(format!("#item-{}", item.item_id)))
}

/// `CHANNEL_LAYERS` → the builder: in memory by default,
/// `.layer(liveview_redis::RedisLayer::connect(url).await?)` for Redis.
fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("say_hello", say_hello)
        .handler("notify_all", notify_all)
        .handler("delete_item", delete_item)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/django_port"
        ))
        .build()?;
    let templates = lv.templates().clone();
    let page = move || async move { templates.page("page.html", ()) };
    Ok(axum::Router::new()
        .route("/", axum::routing::get(page))
        .merge(lv.router()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    liveview::serve(listener, router()?).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use liveview_test::TestApp;

    #[tokio::test]
    async fn the_ported_handlers_answer_as_before() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        let mut other = app.open("/").await?;

        page.fill("#name", "Ada").await?;
        page.submit("#hello-form").await?;
        assert_eq!(page.text("#greeting").trim(), "Hello, Ada!");

        page.click("#item-2 .delete").await?;
        assert_eq!(page.count("#items li"), 2);
        assert!(!page.exists("#item-2"));

        page.click("#notify").await?;
        assert_eq!(page.text("#notifications"), "Someone pressed the button");
        other.next_push().await?;
        assert_eq!(other.text("#notifications"), "Someone pressed the button");
        Ok(())
    }
}
