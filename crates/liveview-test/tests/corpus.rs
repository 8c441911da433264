//! The shared corpus (corpus/events.json): for each case, the kit sends
//! exactly the events listed, and the server receives them. The same file
//! is checked against the browser client in Chromium
//! (crates/liveview/tests/e2e_corpus.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview_e2e::scripted::App;
use liveview_test::{TestApp, TestError, TestPage};
use serde_json::{Value, json};

const CORPUS: &str = include_str!("../corpus/events.json");

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

async fn step(page: &mut TestPage, step: &Value) -> Result<(), TestError> {
    let (kind, args) = step.as_object().unwrap().iter().next().unwrap();
    let arg = |i: usize| args[i].as_str().unwrap();
    match kind.as_str() {
        "click" => page.click(args.as_str().unwrap()).await,
        "submit" => page.submit(args.as_str().unwrap()).await,
        "fill" => page.fill(arg(0), arg(1)).await,
        "press" => page.press(arg(0), arg(1)).await,
        "select" => {
            let values: Vec<&str> = args[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            page.select(arg(0), &values).await
        }
        other => panic!("unknown step {other}"),
    }
}

#[tokio::test]
async fn the_kit_sends_the_corpus_events() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let cases = corpus["cases"].as_array().unwrap();
    let app = App::start(&functions(cases)).await;
    let kit = TestApp::at(app.addr);
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let path = format!("/case{i}");
        let room = liveview::templates::new_room_id();
        app.page(
            &path,
            &format!(r#"data-room="{room}""#),
            "Corpus",
            case["body"].as_str().unwrap(),
        );
        let mut page = kit
            .open(&path)
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        for s in case["steps"].as_array().unwrap() {
            match step(&mut page, s).await {
                // A step that sends nothing is what the corpus says when it lists no event for it.
                Ok(()) | Err(TestError::NoAction { .. }) => {}
                Err(err) => panic!("{name}: {s}: {err}"),
            }
        }
        let sent: Vec<Value> = page
            .sent()
            .iter()
            .map(|e| json!({"function": e["function"], "data": e["data"], "form": e["form"]}))
            .collect();
        assert_eq!(
            Value::Array(sent),
            case["events"],
            "{name}: what the kit sent"
        );
        let received: Vec<Value> = app
            .events()
            .into_iter()
            .filter(|e| e["room"] == json!(room))
            .map(|e| json!({"function": e["function"], "data": e["data"], "form": e["form"]}))
            .collect();
        let expected: Vec<Value> = case["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let snake = |v: &Value| Value::Object(liveview::protocol::snake_case_keys(v.as_object().unwrap().clone()));
                json!({"function": e["function"], "data": snake(&e["data"]), "form": snake(&e["form"])})
            })
            .collect();
        assert_eq!(received, expected, "{name}: what the server received");
    }
}
