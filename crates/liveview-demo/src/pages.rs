//! The pages over plain HTTP: the index, one page per case, the deep links
//! of case 5, the stylesheet and the page script.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use liveview::templates::Templates;
use liveview::{Channels, context};
use serde::Serialize;

use crate::handlers::{MAX_MESSAGE_CHARS, MAX_NAME_CHARS, MAX_UPLOAD_BYTES};
use crate::{AppState, Section, source, visitors};

/// What the page handlers share.
pub(crate) struct Site {
    pub(crate) templates: Templates,
    pub(crate) templates_dir: PathBuf,
    pub(crate) channels: Channels,
    pub(crate) app: AppState,
}

/// One case of the article.
#[derive(Debug, Serialize)]
struct Case {
    number: u8,
    slug: &'static str,
    path: &'static str,
    /// The name in the navigation bar.
    short: &'static str,
    title: &'static str,
    summary: &'static str,
    /// The template of the page; its `{# region: widget #}` is shown.
    template: &'static str,
    /// Templates the handlers render, shown whole.
    partials: &'static [&'static str],
    /// Regions of the sources shown (Rust, and the page script): (file,
    /// region).
    code: &'static [(&'static str, &'static str)],
    /// What the same thing looks like with htmx, from the article.
    htmx: &'static str,
}

const CASES: [Case; 7] = [
    Case {
        number: 1,
        slug: "click",
        path: "/click",
        short: "Click",
        title: "Update content with a click",
        summary: "A button runs a handler on the server, which answers with the HTML of a div. No route, no fetch: one WebSocket event.",
        template: "click.html",
        partials: &["partials/updated.html"],
        code: &[("src/handlers.rs", "update_content")],
        htmx: r##"<div id="content">Initial content</div>
<button hx-get="/update-content" hx-target="#content">
    Update
</button>"##,
    },
    Case {
        number: 2,
        slug: "form",
        path: "/form",
        short: "Forms",
        title: "Form validation on the server",
        summary: "The form's fields travel with the event; the server checks them and patches the errors in, without a reload. The second form is typed, with an error under each field and every value kept.",
        template: "form.html",
        partials: &["partials/signup_fields.html"],
        code: &[
            ("src/handlers.rs", "validate_form"),
            ("src/handlers.rs", "validate_signup"),
        ],
        htmx: r##"<form hx-post="/validate-form" hx-target="#errors">
    <input type="email" name="email">
    <div id="errors"></div>
    <button type="submit">Submit</button>
</form>"##,
    },
    Case {
        number: 3,
        slug: "search",
        path: "/search",
        short: "Search",
        title: "Search as you type",
        summary: "Typing sends one search event once you pause for 500 ms; the server queries SQLite and answers with the top five titles.",
        template: "search.html",
        partials: &["partials/search_results.html"],
        code: &[("src/handlers.rs", "search")],
        htmx: r##"<input type="text" name="query"
       hx-get="/search"
       hx-trigger="keyup changed delay:500ms"
       hx-target="#results">
<div id="results"></div>"##,
    },
    Case {
        number: 4,
        slug: "stats",
        path: "/stats",
        short: "Server push",
        title: "Figures pushed by the server",
        summary: "Every 2 s a background task renders these figures once and pushes them to every page open on this server (look at the footer of the other pages). The browser never polls.",
        template: "stats.html",
        partials: &["partials/stats.html"],
        code: &[
            ("src/stats.rs", "stats_task"),
            ("static/demo.js", "events_chart"),
        ],
        htmx: r##"<div hx-get="/stats" hx-trigger="every 2s" id="stats">
    {{ stats }}
</div>"##,
    },
    Case {
        number: 5,
        slug: "navigation",
        path: "/navigation",
        short: "SPA",
        title: "SPA navigation",
        summary: "The links swap About and Contact into the page over the socket, push their URL and set the title. Back and forward work, and each URL also renders the full page over plain HTTP.",
        template: "navigation.html",
        partials: &["partials/section.html", "partials/about.html"],
        code: &[("src/handlers.rs", "spa")],
        htmx: r##"<nav hx-boost="true">
    <a href="/about">About us</a>
    <a href="/contact">Contact</a>
</nav>
<div id="content"></div>"##,
    },
    Case {
        number: 6,
        slug: "chat",
        path: "/chat",
        short: "Chat",
        title: "Shared state: a chat room",
        summary: "A message is stored in SQLite and pushed to every open chat page at once. Open this page in two windows. A reload or a late joiner gets the history.",
        template: "chat.html",
        partials: &["partials/message.html", "partials/chat_form.html"],
        code: &[
            ("src/handlers.rs", "add_message"),
            ("src/handlers.rs", "join_chat"),
        ],
        htmx: "<!-- No native support: htmx needs Server-Sent Events\n     or WebSockets added by hand. -->",
    },
    Case {
        number: 7,
        slug: "upload",
        path: "/upload",
        short: "Upload",
        title: "File upload",
        summary: "Files travel over the same WebSocket in 64 KiB binary chunks, then the event names them; the handler gets each file's name, type, size and content, checked against limits the server enforces.",
        template: "upload.html",
        partials: &["partials/upload_result.html"],
        code: &[("src/handlers.rs", "upload_file")],
        htmx: r##"<form hx-post="/upload" hx-encoding="multipart/form-data"
      hx-target="#result">
    <input type="file" name="file">
    <button type="submit">Upload</button>
</form>
<div id="result"></div>"##,
    },
];

/// Sources whose regions the pages show; compiled in, so they are the code
/// that runs (and the page script the same text as served).
const SOURCES: [(&str, &str); 3] = [
    ("src/handlers.rs", include_str!("handlers.rs")),
    ("src/stats.rs", include_str!("stats.rs")),
    ("static/demo.js", SCRIPT),
];

const STYLESHEET: &str = include_str!("../static/demo.css");
/// The pages' only script besides the client (a hook of case 4).
const SCRIPT: &str = include_str!("../static/demo.js");

/// A piece of code shown beside a widget.
#[derive(Debug, Serialize)]
struct Snippet {
    label: String,
    code: String,
}

#[derive(Clone, Copy)]
enum Page {
    Index,
    Case(usize),
    Navigation(Section),
    NotFound,
}

pub(crate) fn router(site: Site) -> Router {
    let site = Arc::new(site);
    let mut router = Router::new()
        .route("/", get(|s: State<Arc<Site>>| render(s, Page::Index)))
        .route(
            "/about",
            get(|s: State<Arc<Site>>| render(s, Page::Navigation(Section::About))),
        )
        .route(
            "/contact",
            get(|s: State<Arc<Site>>| render(s, Page::Navigation(Section::Contact))),
        )
        .route(
            "/static/demo.css",
            get(|| asset("text/css; charset=utf-8", STYLESHEET)),
        )
        .route(
            "/static/demo.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        );
    for (index, case) in CASES.iter().enumerate() {
        let page = if case.slug == "navigation" {
            Page::Navigation(Section::Home)
        } else {
            Page::Case(index)
        };
        router = router.route(case.path, get(move |s: State<Arc<Site>>| render(s, page)));
    }
    router
        .fallback(|s: State<Arc<Site>>| render(s, Page::NotFound))
        .with_state(site)
}

/// A file of `static/`, compiled in; revalidated on every load (it is small,
/// and the demo is edited while it runs).
async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn render(State(site): State<Arc<Site>>, page: Page) -> Response {
    match render_page(&site, page).await {
        Ok(html) => {
            let status = if matches!(page, Page::NotFound) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            (status, Html(html)).into_response()
        }
        Err(err) => {
            tracing::error!(%err, "cannot render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered; the server log says why.",
            )
                .into_response()
        }
    }
}

async fn render_page(site: &Site, page: Page) -> Result<String, Box<dyn std::error::Error>> {
    let app = &site.app;
    let stats = app.figures(site.channels.local_connections(), 0).await?;
    // The reader is not connected yet: count them in. (On a reload, their
    // previous page may still be counted for a moment; the count pushed
    // when this page connects puts it right.)
    let visitors = visitors::visitors_html(visitors::count(&app.presence).await + 1);
    let (case, template, title) = match page {
        Page::Index => (None, "index.html", "liveview demo: from htmx to live views"),
        Page::NotFound => (None, "not_found.html", "Not found · liveview demo"),
        Page::Case(index) => {
            let case = CASES.get(index).ok_or("no such case")?;
            (Some(case), case.template, case.title)
        }
        Page::Navigation(section) => (
            CASES.iter().find(|c| c.slug == "navigation"),
            "navigation.html",
            section.title(),
        ),
    };
    let title = match (page, case) {
        (Page::Case(_), Some(case)) => format!("{} · liveview demo", case.title),
        _ => title.to_owned(),
    };
    let sources = case.map(|case| snippets(site, case)).unwrap_or_default();
    // Per-page data.
    let (section, section_template) = match page {
        Page::Navigation(section) => (Some(section.name()), Some(section.template())),
        _ => (None, None),
    };
    let (messages, last_id) = if case.is_some_and(|c| c.slug == "chat") {
        let messages = app.db.recent_messages(50).await?;
        let last_id = messages.last().map_or(0, |m| m.id);
        (messages, last_id)
    } else {
        (Vec::new(), 0)
    };
    let html = site.templates.render(
        template,
        context! {
            title,
            page => case.map_or(template.trim_end_matches(".html"), |c| c.slug),
            cases => &CASES,
            case,
            sources,
            stats,
            visitors,
            section,
            section_template,
            messages,
            last_id,
            max_message_chars => MAX_MESSAGE_CHARS,
            max_name_chars => MAX_NAME_CHARS,
            max_upload_mib => MAX_UPLOAD_BYTES / (1024 * 1024),
            author => "",
        },
    )?;
    Ok(html)
}

/// The code shown beside a case's widget: its template's widget region,
/// the partials its handlers render, and the handlers.
fn snippets(site: &Site, case: &Case) -> Vec<Snippet> {
    let mut out = Vec::new();
    let read = |name: &str| std::fs::read_to_string(site.templates_dir.join(name));
    match read(case.template) {
        Ok(text) => out.push(Snippet {
            label: format!("templates/{}", case.template),
            code: source::region(&text, "widget").unwrap_or(text),
        }),
        Err(err) => {
            tracing::warn!(%err, template = case.template, "cannot read a template to show")
        }
    }
    for partial in case.partials {
        match read(partial) {
            Ok(text) => out.push(Snippet {
                label: format!("templates/{partial}"),
                code: source::without_markers(&text),
            }),
            Err(err) => tracing::warn!(%err, template = partial, "cannot read a template to show"),
        }
    }
    for (file, region) in case.code {
        let text = SOURCES
            .iter()
            .find(|(name, _)| name == file)
            .and_then(|(_, text)| source::region(text, region));
        match text {
            Some(code) => out.push(Snippet {
                label: (*file).to_owned(),
                code,
            }),
            None => tracing::warn!(file, region, "no such source region"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_shows_real_code() {
        for case in &CASES {
            for (file, region) in case.code {
                let (_, text) = SOURCES.iter().find(|(n, _)| n == file).unwrap_or(&("", ""));
                let code = source::region(text, region);
                assert!(code.is_some(), "{file} has no region {region}");
            }
            let template = std::fs::read_to_string(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("templates")
                    .join(case.template),
            )
            .unwrap_or_default();
            assert!(
                source::region(&template, "widget").is_some(),
                "{} has no widget region",
                case.template
            );
        }
    }
}
