//! Optimistic updates (`data-liveview-optimistic`: commands and templates)
//! kept when the answer comes and rolled back on an error or a lost
//! socket; loading states (`data-liveview-loading`, `liveview:busy` /
//! `liveview:idle`); dirty forms (`data-liveview-dirty`) and the leave
//! guard; in a real headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt};
use liveview_e2e::{Browser, Page};
use std::time::Duration;

use serde_json::json;

const FUNCTIONS: &[&str] = &["like", "say", "other", "save_form"];

#[tokio::test]
async fn optimistic_loading_and_dirty_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run(
        "optimistic_loading_and_dirty_in_chromium",
        |page| async move {
            optimistic(&app, &page).await;
            loading(&app, &page).await;
            dirty(&app, &page).await;
            lost_socket(&app, &page).await;
            page.assert_no_js_errors().await;
        },
    )
    .await;
}

const LIKE: &str = "const b = document.getElementById('like');
    return [b.classList.contains('liked'), b.getAttribute('aria-pressed'), b.textContent]";
const PENDING: &str = "return Array.from(document.querySelectorAll('#messages li'), (li) => li.className + ':' + li.textContent)";

async fn optimistic(app: &App, page: &Page) {
    let url = app.room_page(
        "/optimistic",
        r##"
        <button id="like" data-liveview-function="like" data-action="page#run" aria-pressed="false"
          data-liveview-optimistic="add-class liked; set-attr aria-pressed true">Like</button>
        <form id="chat" data-liveview-function="say" data-action="submit->page#run">
          <input id="msg" name="message">
          <template data-liveview-optimistic="#messages"><li class="pending">{message} (sending)</li></template>
        </form>
        <ul id="messages"></ul>"##,
    );
    page.goto(&url).await;
    app.hold("like");
    app.hold("say");

    // Applied at once, kept when the answer comes.
    page.click("#like").await;
    app.wait_events("like", 1).await;
    assert_eq!(page.eval(LIKE).await, json!([true, "true", "Like"]));
    app.reply("like", vec![Patch::html("#like", "Liked")]);
    app.release();
    page.wait_for_text("#like", "Liked").await;
    assert_eq!(page.eval(LIKE).await, json!([true, "true", "Liked"]));

    // Rolled back on an error frame: the class and the attribute as before.
    page.eval("const b = document.getElementById('like'); b.classList.remove('liked'); b.setAttribute('aria-pressed', 'false')")
        .await;
    app.respond("like", |_| Err("cannot like".into()));
    page.click("#like").await;
    app.wait_events("like", 2).await;
    assert_eq!(page.eval(LIKE).await, json!([true, "true", "Liked"]));
    app.release();
    page.wait_until("return __lvErrors.length === 1").await;
    assert_eq!(page.eval(LIKE).await, json!([false, "false", "Liked"]));

    // A template, filled with the sent fields as text; replaced by the answer.
    page.type_into("#msg", "hi <b>there</b>").await;
    page.eval("document.getElementById('chat').requestSubmit()")
        .await;
    app.wait_events("say", 1).await;
    assert_eq!(
        page.eval(PENDING).await,
        json!(["pending:hi <b>there</b> (sending)"])
    );
    assert!(
        page.eval_bool("return !document.querySelector('#messages b')")
            .await
    );
    app.reply(
        "say",
        vec![Patch::html("#messages", r#"<li id="m1">hi there</li>"#)],
    );
    app.release();
    page.wait_until("return !!document.getElementById('m1')")
        .await;
    assert_eq!(page.eval(PENDING).await, json!([":hi there"]));

    // An error removes what the template added.
    app.respond("say", |_| Err("offline".into()));
    page.eval("document.getElementById('msg').value = 'second'; document.getElementById('chat').requestSubmit()")
        .await;
    app.wait_events("say", 2).await;
    assert_eq!(
        page.eval(PENDING).await,
        json!([":hi there", "pending:second (sending)"])
    );
    app.release();
    page.wait_until("return __lvErrors.length === 2").await;
    assert_eq!(page.eval(PENDING).await, json!([":hi there"]));
    eprintln!("ok: optimistic");
}

const SHOWN: &str = "return ['any', 'for', 'in-form', 'outside'].map((id) => {
      const el = document.getElementById(id); return id === 'for' ? el.classList.contains('on') : !el.hidden; })";

async fn loading(app: &App, page: &Page) {
    let url = app.room_page(
        "/loading",
        r#"
        <span id="any" data-liveview-loading hidden>working…</span>
        <span id="for" data-liveview-loading="add-class on" data-liveview-loading-for="like">liking</span>
        <form id="f" data-liveview-function="say" data-action="submit->page#run">
          <span id="in-form" data-liveview-loading hidden>sending…</span><button id="send">Send</button>
        </form>
        <button id="like" data-liveview-function="like" data-action="page#run">Like</button>
        <button id="other" data-liveview-function="other" data-action="page#run">Other</button>
        <span id="outside" data-liveview-loading-for="nothing" data-liveview-loading="show" hidden></span>
        <script>
          window.__busy = [];
          ['busy', 'idle'].forEach((t) => document.addEventListener('liveview:' + t, () => __busy.push(t)));
        </script>"#,
    );
    page.goto(&url).await;
    app.hold("like");
    app.hold("say");
    app.hold("other");
    app.reply("like", vec![]);
    app.reply("say", vec![]);
    app.reply("other", vec![]);
    assert_eq!(page.eval(SHOWN).await, json!([false, false, false, false]));

    // The events of one connection are handled in turn: one held at a time.
    let (likes, says) = (app.events_of("like").len(), app.events_of("say").len());
    page.click("#like").await;
    app.wait_events("like", likes + 1).await;
    assert_eq!(page.eval(SHOWN).await, json!([true, true, false, false]));
    app.release();
    page.wait_until("return __busy.length === 2").await;
    assert_eq!(page.eval(SHOWN).await, json!([false, false, false, false]));
    assert_eq!(page.eval("return __busy").await, json!(["busy", "idle"]));

    page.click("#send").await;
    app.wait_events("say", says + 1).await;
    assert_eq!(page.eval(SHOWN).await, json!([true, false, true, false]));
    app.release();
    page.wait_until("return __busy.length === 4").await;
    assert_eq!(page.eval(SHOWN).await, json!([false, false, false, false]));

    page.click("#other").await;
    app.wait_events("other", 1).await;
    assert_eq!(page.eval(SHOWN).await, json!([true, false, false, false]));
    app.release();
    page.wait_until("return __busy.length === 6").await;
    assert_eq!(page.eval(SHOWN).await, json!([false, false, false, false]));
    eprintln!("ok: loading");
}

const DIRTY: &str = "return document.getElementById('d').classList.contains('lv-dirty')";
const GUARDED: &str = "const e = new Event('beforeunload', { cancelable: true }); dispatchEvent(e); return e.defaultPrevented";

async fn dirty(app: &App, page: &Page) {
    let url = app.room_page(
        "/dirty",
        r#"
        <div id="region">
          <form id="d" data-liveview-dirty="guard" data-liveview-function="save_form" data-action="submit->page#run">
            <input id="title" name="title" value="a"><input id="done" name="done" type="checkbox">
            <button id="save">Save</button>
          </form>
        </div>
        <p id="note"></p>"#,
    );
    page.goto(&url).await;
    assert!(!page.eval_bool(DIRTY).await);
    assert!(!page.eval_bool(GUARDED).await);
    page.type_into("#title", "b").await;
    assert!(page.eval_bool(DIRTY).await);
    assert!(page.eval_bool(GUARDED).await, "the guard asks");
    page.keys("#title", "\u{E003}").await; // backspace: as it was
    assert!(!page.eval_bool(DIRTY).await);
    page.click("#done").await;
    assert!(page.eval_bool(DIRTY).await);

    // Sent, then answered with a cleared form: clean.
    app.hold("save_form");
    app.reply(
        "save_form",
        vec![Patch::html(
            "#region",
            r#"<form id="d" data-liveview-dirty="guard" data-liveview-function="save_form" data-action="submit->page#run">
                 <input id="title" name="title" value=""><input id="done" name="done" type="checkbox">
                 <button id="save">Save</button></form>"#,
        )],
    );
    page.click("#save").await;
    app.wait_events("save_form", 1).await;
    assert!(!page.eval_bool(DIRTY).await, "what was sent is clean");
    app.release();
    page.wait_until("return document.getElementById('title').value === ''")
        .await;
    page.wait_until(&format!("return !({})", &DIRTY[7..])).await;
    assert!(!page.eval_bool(GUARDED).await);

    // Typed while the answer was on its way: still dirty after it.
    app.reply("save_form", vec![Patch::html("#note", "saved")]);
    page.type_into("#title", "q").await;
    page.eval("document.getElementById('d').requestSubmit()")
        .await;
    app.wait_events("save_form", 2).await;
    assert!(!page.eval_bool(DIRTY).await);
    page.type_into("#title", "r").await;
    assert!(page.eval_bool(DIRTY).await);
    app.release();
    page.wait_for_text("#note", "saved").await;
    assert!(
        page.eval_bool(DIRTY).await,
        "typed after sending: still dirty"
    );
    eprintln!("ok: dirty");
}

/// Kept while the socket is down: the page's session parks, the event stays
/// in flight and its answer comes after the resume (a session that cannot
/// be resumed rolls it back, as an unanswered event).
async fn lost_socket(app: &App, page: &Page) {
    let url = app.room_page(
        "/lost",
        r#"<button id="like" data-liveview-function="like" data-action="page#run" aria-pressed="false"
             data-liveview-optimistic="add-class liked; set-attr aria-pressed true">Liked</button>"#,
    );
    page.goto(&url).await;
    app.hold("like");
    let likes = app.events_of("like").len();
    page.click("#like").await;
    app.wait_events("like", likes + 1).await;
    assert_eq!(page.eval(LIKE).await, json!([true, "true", "Liked"]));
    page.eval("dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))")
        .await;
    page.wait_until("return !liveview.connected").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.eval(LIKE).await,
        json!([true, "true", "Liked"]),
        "kept while parked"
    );
    page.eval("dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }))")
        .await;
    page.wait_until("return liveview.connected").await;
    app.reply("like", vec![Patch::html("#like", "Liked!")]);
    app.release();
    page.wait_for_text("#like", "Liked!").await;
    assert_eq!(page.eval(LIKE).await, json!([true, "true", "Liked!"]));
    eprintln!("ok: lost socket");
}
