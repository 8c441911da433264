//! Seed case 4, figures the server pushes: no polling (htmx's `every 2s`);
//! a task sends every page in the `broadcast` group the new figures, all
//! at once, every two seconds.
//! `cargo run -p liveview --example stats`, then open http://127.0.0.1:8000.

use std::time::Duration;

use liveview::{LiveView, Patch};

/// The app, and the task that pushes the figures every `period` (to be
/// spawned on the runtime that serves it).
fn router(
    period: Duration,
) -> Result<(axum::Router, impl Future<Output = ()>), liveview::BuildError> {
    let lv = LiveView::builder()
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/stats"
        ))
        .build()?;
    let channels = lv.channels();
    let counter = lv.clone();
    // Django LiveView's thread with `group_send('broadcast', …)`.
    let push = async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let html = format!("<p>Active users: {}</p>", counter.connection_count());
            // A failed send (a layer down) is retried at the next tick.
            let _ = channels.broadcast(Patch::html("#stats", html)).await;
        }
    };
    let templates = lv.templates().clone();
    let page = move || async move { templates.page("page.html", ()) };
    let router = axum::Router::new()
        .route("/", axum::routing::get(page))
        .merge(lv.router());
    Ok((router, push))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (router, push) = router(Duration::from_secs(2))?;
    tokio::spawn(push);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    liveview::serve(listener, router).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use liveview_test::TestApp;

    #[tokio::test]
    async fn every_page_receives_the_figures() -> Result<(), Box<dyn std::error::Error>> {
        let (router, push) = super::router(Duration::from_millis(50))?;
        let pusher = tokio::spawn(push);
        let app = TestApp::new(router).await?;
        let mut first = app.open("/").await?;
        let mut second = app.open("/").await?;
        first.wait_for_text("#stats", "Active users: 2").await?;
        second.next_push().await?;
        assert!(second.text("#stats").starts_with("Active users: "));
        pusher.abort();
        Ok(())
    }
}
