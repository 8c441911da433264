//! The smallest live page: a button asks the server, the server patches.
//! `cargo run -p liveview --example hello`, then open http://127.0.0.1:8000.
use liveview::{Event, LiveView, Patch};

const PAGE: &str = r#"<!DOCTYPE html><html data-room="{{ liveview_room() }}">
<head><title>Hello</title>{{ liveview_script() }}</head>
<body><p id="greeting">Who is there?</p>
<button id="greet" data-liveview-function="greet" data-action="click->page#run" data-name="world">Greet</button>
</body></html>"#;

async fn greet(event: Event) -> liveview::Result<Patch> {
    let name = event.data["name"].as_str().unwrap_or("stranger");
    Ok(Patch::html("#greeting", format!("Hello, {name}!")))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder().handler("greet", greet).build()?;
    let templates = lv.templates().clone();
    let page = move || async move {
        axum::response::Html(templates.render_str(PAGE, ()).unwrap_or_default())
    };
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
#[tokio::test]
async fn greets_the_world() -> Result<(), Box<dyn std::error::Error>> {
    let app = liveview_test::TestApp::new(router()?).await?;
    let mut page = app.open("/").await?;
    page.click("#greet").await?;
    assert_eq!(page.text("#greeting"), "Hello, world!");
    Ok(())
}
