//! The shared corpus (crates/liveview-test/corpus/events.json) against the
//! browser client in Chromium: for each case, the server receives exactly
//! the events listed. The test kit checks the same file
//! (crates/liveview-test/tests/corpus.rs), so the two cannot drift.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview_e2e::scripted::{App, PageExt};
use liveview_e2e::{Browser, Page};
use serde_json::{Value, json};

const CORPUS: &str = include_str!("../../liveview-test/corpus/events.json");

fn functions(cases: &[Value]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for case in cases {
        for event in case["events"].as_array().unwrap() {
            let name: &'static str = Box::leak(
                event["function"]
                    .as_str()
                    .unwrap()
                    .to_owned()
                    .into_boxed_str(),
            );
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Each step as a browser does it: a WebDriver click, or the DOM events
/// typing, choosing and pressing fire.
async fn step(page: &Page, step: &Value) {
    let (kind, args) = step.as_object().unwrap().iter().next().unwrap();
    let js = |args: &Value| args.to_string();
    match kind.as_str() {
        "click" => page.click(args.as_str().unwrap()).await,
        "submit" => {
            page.eval(&format!(
                "document.querySelector({}).requestSubmit()",
                js(args)
            ))
            .await;
        }
        "fill" => {
            page.eval(&format!(
                "const [s, v] = {}; const el = document.querySelector(s); el.value = v;
                 for (const t of ['input', 'change']) el.dispatchEvent(new Event(t, {{bubbles: true}}));",
                js(args)
            ))
            .await;
        }
        "select" => {
            page.eval(&format!(
                "const [s, v] = {}; const el = document.querySelector(s);
                 for (const o of el.options) o.selected = v.includes(o.value);
                 for (const t of ['input', 'change']) el.dispatchEvent(new Event(t, {{bubbles: true}}));",
                js(args)
            ))
            .await;
        }
        "press" => {
            page.eval(&format!(
                "const [s, combo] = {}; const parts = combo.split('+'), key = parts.pop(), has = (m) => parts.includes(m);
                 document.querySelector(s).dispatchEvent(new KeyboardEvent('keydown', {{key, bubbles: true, cancelable: true,
                   ctrlKey: has('ctrl'), altKey: has('alt'), metaKey: has('meta'), shiftKey: has('shift')}}));",
                js(args)
            ))
            .await;
        }
        other => panic!("unknown step {other}"),
    }
}

#[tokio::test]
async fn the_browser_client_sends_the_corpus_events() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let cases = corpus["cases"].as_array().unwrap().clone();
    let app = App::start(&functions(&cases)).await;
    Browser::run("the_browser_client_sends_the_corpus_events", |page| async move {
        for (i, case) in cases.iter().enumerate() {
            let name = case["name"].as_str().unwrap();
            let path = format!("/case{i}");
            let room = liveview::templates::new_room_id();
            app.page(&path, &format!(r#"data-room="{room}""#), "Corpus", case["body"].as_str().unwrap());
            page.goto(&app.url(&path)).await;
            for s in case["steps"].as_array().unwrap() {
                step(&page, s).await;
            }
            let expected: Vec<Value> = case["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let snake = |v: &Value| Value::Object(liveview::protocol::snake_case_keys(v.as_object().unwrap().clone()));
                    json!({"function": e["function"], "data": snake(&e["data"]), "form": snake(&e["form"])})
                })
                .collect();
            let received = || -> Vec<Value> {
                app.events()
                    .into_iter()
                    .filter(|e| e["room"] == json!(room))
                    .map(|e| json!({"function": e["function"], "data": e["data"], "form": e["form"]}))
                    .collect()
            };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while received().len() < expected.len() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Late extras (a debounce, a second bubbling action) would show here.
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(received(), expected, "{name}");
        }
        page.assert_no_js_errors().await;
    })
    .await;
}
