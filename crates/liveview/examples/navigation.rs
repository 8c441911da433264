//! Seed case 5, SPA navigation: a link's handler swaps `#content` and the
//! patch's `url` and `title` update the address bar and the tab (htmx's
//! `hx-boost`). Each URL also renders the whole page, for deep links and
//! reloads; links keep their `href`, so they work without the socket too.
//! `cargo run -p liveview --example navigation`, then open http://127.0.0.1:8000.

use liveview::{Ctx, LiveView, Patch, context};

/// The sections: path, title, template.
const SECTIONS: [(&str, &str, &str); 3] = [
    ("/", "Home", "home.html"),
    ("/about", "About us", "about.html"),
    ("/contact", "Contact", "contact.html"),
];

/// One handler per link, as in the seed; both render a section.
fn section(ctx: &Ctx, index: usize) -> liveview::Result<Patch> {
    let (path, title, template) = SECTIONS[index];
    Ok(Patch::html("#content", ctx.render(template, ())?)
        .with_url(path)
        .with_title(title))
}

async fn load_about(ctx: Ctx) -> liveview::Result<Patch> {
    section(&ctx, 1)
}

async fn load_contact(ctx: Ctx) -> liveview::Result<Patch> {
    section(&ctx, 2)
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("load_about", load_about)
        .handler("load_contact", load_contact)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/navigation"
        ))
        .build()?;
    let mut router = axum::Router::new();
    for (index, (path, _, _)) in SECTIONS.iter().enumerate() {
        let templates = lv.templates().clone();
        router = router.route(
            path,
            axum::routing::get(move || async move {
                let (_, title, section) = SECTIONS[index];
                templates.page("page.html", context! { title, section })
            }),
        );
    }
    Ok(router.merge(lv.router()))
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
    async fn links_swap_the_content_url_and_title() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        assert_eq!(page.title(), "Home");
        page.click("#about-link").await?;
        assert_eq!(
            (page.path(), page.title()),
            ("/about".to_owned(), "About us".to_owned())
        );
        assert!(page.text("#content").contains("live pages in Rust"));
        page.click("#contact-link").await?;
        assert_eq!(page.path(), "/contact");
        // A deep link renders the same content in the whole page.
        let mut deep = app.open("/contact").await?;
        assert_eq!(deep.html("#content"), page.html("#content"));
        assert_eq!(deep.title(), "Contact");
        Ok(())
    }
}
