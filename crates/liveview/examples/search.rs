//! Seed case 3, search as you type: the input sends its value 500 ms
//! after the last keystroke (`data-liveview-debounce`, htmx's
//! `delay:500ms`), the handler renders the results with a template.
//! `cargo run -p liveview --example search`, then open http://127.0.0.1:8000.

use liveview::{Ctx, Form, LiveView, Patch, context};

const ARTICLES: [&str; 6] = [
    "Rust for web developers",
    "Server-rendered UIs over WebSockets",
    "Why Rust's ownership model helps",
    "Django LiveView in practice",
    "From htmx to live views",
    "SQLite is enough",
];

#[derive(serde::Deserialize)]
struct Query {
    #[serde(default)]
    query: String,
}

/// The first five titles containing the query, case-insensitively
/// (`Article.objects.filter(title__icontains=query)[:5]`).
fn find(query: &str) -> Vec<&'static str> {
    let query = query.trim().to_lowercase();
    ARTICLES
        .into_iter()
        .filter(|title| title.to_lowercase().contains(&query))
        .take(5)
        .collect()
}

async fn search(ctx: Ctx, Form(q): Form<Query>) -> liveview::Result<Patch> {
    let html = ctx.render(
        "results.html",
        context! { query => q.query, results => find(&q.query) },
    )?;
    Ok(Patch::html("#results", html))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("search", search)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/search"
        ))
        .build()?;
    let templates = lv.templates().clone();
    let page = move || async move { templates.page("page.html", context! { query => "" }) };
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
    async fn typing_shows_the_matching_titles() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        assert_eq!(page.text("#results"), "Type to search");
        page.fill("#search-input", "rust").await?;
        assert_eq!(page.count("#results li"), 2);
        assert!(page.text("#results").contains("Rust for web developers"));
        page.fill("#search-input", "<b>").await?;
        assert_eq!(
            page.html("#results"),
            "<ul><li>Nothing matches “&lt;b&gt;”</li></ul>"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_burst_of_typing_waits_for_the_debounce() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        page.honour_debounce(true);
        let start = std::time::Instant::now();
        page.fill("#search-input", "sql").await?;
        assert!(start.elapsed() >= std::time::Duration::from_millis(500));
        assert_eq!(page.text("#results"), "SQLite is enough");
        Ok(())
    }

    #[test]
    fn every_function_in_the_templates_has_a_handler() {
        let lv = liveview::LiveView::builder()
            .handler("search", super::search)
            .templates(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/examples/templates/search"
            ))
            .build();
        assert_eq!(lv.map(|lv| lv.check_templates()).ok(), Some(vec![]));
    }
}
