//! `LiveView::check_templates` on a template directory, and the warning a
//! debug build logs at start for each function without a handler.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};

use liveview::LiveView;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps the message of every warning.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(&mut Message(&mut text));
            self.0.lock().unwrap().push(text);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn unknown_functions_are_found_and_warned_about_at_start() {
    let dir = std::env::temp_dir().join(format!(
        "liveview-check-{}",
        liveview::templates::new_room_id()
    ));
    std::fs::create_dir_all(dir.join("partials")).unwrap();
    std::fs::write(
        dir.join("page.html"),
        r#"<button data-liveview-function="save" data-action="click->page#run">Save</button>
           <div data-liveview-init="{{ init_name }}"></div>"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("partials/list.html"),
        r#"<div data-liveview-keyboard-map='{"ctrl+k": "palete"}' data-liveview-intersect-appear="more"></div>"#,
    )
    .unwrap();
    let warnings = Warnings::default();
    let lv = tracing::subscriber::with_default(warnings.clone(), || {
        LiveView::builder()
            .auto_register(false)
            .handler("save", || async { Ok::<_, liveview::Error>(()) })
            .handler("more", || async { Ok::<_, liveview::Error>(()) })
            .templates(&dir)
            .build()
            .unwrap()
    });
    let unknown = lv.check_templates();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(
        (
            unknown[0].template.as_str(),
            unknown[0].function.as_str(),
            unknown[0].attribute.as_str()
        ),
        ("partials/list.html", "palete", "data-liveview-keyboard-map")
    );
    let expected: &[&str] = if cfg!(debug_assertions) {
        &[
            r#"template partials/list.html names function "palete" (data-liveview-keyboard-map) but no handler is registered under it"#,
        ]
    } else {
        &[]
    };
    assert_eq!(
        *warnings.0.lock().unwrap(),
        expected,
        "debug builds warn at start"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
