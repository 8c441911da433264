//! Seed case 6, shared state between users: every page joins the
//! `chat_room` group when it loads (`data-liveview-init`), and a message
//! is sent to the whole group at once. htmx has no equivalent.
//! `cargo run -p liveview --example chat`, then open http://127.0.0.1:8000 in two tabs.

use liveview::{Ctx, Form, LiveView, Patch, context};

const GROUP: &str = "chat_room";

/// Runs once per page load: the connection joins the group.
async fn join_chat(ctx: Ctx) -> liveview::Result<()> {
    ctx.join(GROUP).await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct Message {
    #[serde(default)]
    message: String,
}

/// `channel_layer.group_send('chat_room', …)`: every page in the group,
/// this one included, gets the message appended.
async fn add_message(ctx: Ctx, Form(form): Form<Message>) -> liveview::Result<Patch> {
    let message = form.message.trim();
    if message.is_empty() {
        return Err(liveview::Error::user("Write a message before sending it."));
    }
    let html = ctx.render("message.html", context! { message })?;
    ctx.group_send(GROUP, Patch::append("#messages", html))
        .await?;
    // The sender's own answer: clear the field.
    Ok(Patch::replace(
        "#message",
        r#"<input type="text" name="message" id="message">"#,
    ))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("join_chat", join_chat)
        .handler("add_message", add_message)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/chat"
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
    use liveview_test::{TestApp, TestError};

    #[tokio::test]
    async fn a_message_reaches_every_page() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut alice = app.open("/").await?;
        let mut bob = app.open("/").await?;
        alice.fill("#message", "Hello <Bob>").await?;
        alice.submit("#chat-form").await?;
        assert_eq!(alice.html("#messages").trim(), "<p>Hello &lt;Bob&gt;</p>");
        assert_eq!(alice.value("#message"), "", "the sender's field is cleared");
        bob.next_push().await?;
        assert_eq!(bob.text("#messages").trim(), "Hello <Bob>");

        let refused = alice.submit("#chat-form").await;
        assert!(
            matches!(refused, Err(TestError::Server { .. })),
            "{refused:?}"
        );
        assert_eq!(
            alice.text("[data-liveview-error]"),
            "Write a message before sending it."
        );
        Ok(())
    }
}
