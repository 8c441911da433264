//! The markup the browser client understands, in a real headless Chromium
//! against a real server: every `data-action` form, what an event carries
//! (`data`, `form`), debounce and throttle, keyboard maps, elements that
//! act when they appear (init, focus, intersection), permanent elements and
//! rooms. Assertions are on what the server's handlers received.
//!
//! Each test runs one browser through several pages, to keep the suite fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt, key};
use liveview_e2e::{Browser, Page};
use serde_json::json;

const FUNCTIONS: &[&str] = &[
    "btn",
    "link",
    "form_submit",
    "typed",
    "area",
    "chosen",
    "enter",
    "ctrl_s",
    "cb",
    "away",
    "outer",
    "inner",
    "inner2",
    "data",
    "signup",
    "lonely",
    "search",
    "burst",
    "help",
    "open",
    "close",
    "loaded",
    "show",
    "patched_init",
    "appear",
    "disappear",
    "half",
    "whoami",
    "rerender",
    "selfish",
    "add_field",
    "focused",
    "blurred",
    "appear2",
];

const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn actions_and_payloads_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run("actions_and_payloads_in_chromium", |page| async move {
        default_events(&app, &page).await;
        several_actions_and_key_filters(&app, &page).await;
        prevent_and_stop(&app, &page).await;
        data_and_form(&app, &page).await;
        debounce_and_throttle(&app, &page).await;
        keyboard_map(&app, &page).await;
        patched_in_event_types(&app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

#[tokio::test]
async fn appearing_elements_and_rooms_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run(
        "appearing_elements_and_rooms_in_chromium",
        |page| async move {
            init_and_focus(&app, &page).await;
            permanent(&app, &page).await;
            intersection(&app, &page).await;
            rooms(&app, &page).await;
            page.assert_no_js_errors().await;
        },
    )
    .await;
}

/// `data-action="page#run"` without an event: click for buttons and links,
/// submit for forms, input for inputs and textareas, change for selects.
async fn default_events(app: &App, page: &Page) {
    let url = app.room_page(
        "/defaults",
        r##"
        <button id="b" data-liveview-function="btn" data-action="page#run">B</button>
        <a id="link" href="#" data-liveview-function="link" data-action="page#run">link</a>
        <form id="f" data-liveview-function="form_submit" data-action="page#run">
          <input id="q" name="q" value="x"><button id="fs">Go</button>
        </form>
        <input id="in" name="in" data-liveview-function="typed" data-action="page#run">
        <textarea id="ta" name="ta" data-liveview-function="area" data-action="page#run"></textarea>
        <select id="sel" name="sel" data-liveview-function="chosen" data-action="page#run">
          <option value="a">A</option><option value="b">B</option>
        </select>"##,
    );
    page.goto(&url).await;
    page.eval("window.__marker = 1").await;

    page.click("#b").await;
    app.wait_events("btn", 1).await;

    page.click("#link").await;
    app.wait_events("link", 1).await;
    assert_eq!(page.eval_string("return location.hash").await, "");

    page.click("#fs").await;
    let ev = app.one_event("form_submit", Duration::ZERO).await;
    assert_eq!(ev["form"], json!({"q": "x"}));

    page.type_into("#in", "ab").await;
    let evs = app.wait_events("typed", 2).await;
    assert_eq!(evs[1]["form"], json!({"in": "ab"}));

    page.type_into("#ta", "z").await;
    let ev = app.one_event("area", Duration::ZERO).await;
    assert_eq!(ev["form"], json!({"ta": "z"}));

    page.click("#sel option[value=b]").await;
    let ev = app.one_event("chosen", Duration::ZERO).await;
    assert_eq!(ev["form"], json!({"sel": "b"}));

    tokio::time::sleep(SETTLE).await;
    // Nothing else fired (a click on the submit button is not a click action
    // of the form; typing is not a click…), and the page did not navigate.
    assert_eq!(app.events_of("form_submit").len(), 1);
    assert_eq!(app.events_of("btn").len(), 1);
    assert_eq!(app.events_of("typed").len(), 2);
    assert_eq!(page.eval("return window.__marker").await, json!(1));
    eprintln!("ok: default events");
}

/// Several actions on one element, key filters with exact modifiers, and
/// actions of another controller method ignored.
async fn several_actions_and_key_filters(app: &App, page: &Page) {
    let url = app.room_page(
        "/keys",
        r#"
        <input id="k" name="k" data-liveview-function="enter"
               data-action="keydown.enter->page#run click->page#run other#ignored">
        <input id="ctrl" name="ctrl" data-liveview-function="ctrl_s"
               data-action="keydown.ctrl+s->page#run:prevent">"#,
    );
    page.goto(&url).await;

    page.click("#k").await;
    app.wait_events("enter", 1).await;
    page.type_into("#k", "ab").await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        app.events_of("enter").len(),
        1,
        "typing letters is not Enter"
    );
    page.keys("#k", key::ENTER).await;
    let evs = app.wait_events("enter", 2).await;
    assert_eq!(evs[1]["form"], json!({"k": "ab"}));
    // shift+Enter does not match keydown.enter (modifiers match exactly).
    page.keys("#k", &format!("{}{}{}", key::SHIFT, key::ENTER, key::NULL))
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        app.events_of("enter").len(),
        2,
        "shift+Enter fired keydown.enter"
    );

    page.type_into("#ctrl", "s").await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("ctrl_s");
    page.keys("#ctrl", &format!("{}s{}", key::CONTROL, key::NULL))
        .await;
    let ev = app.one_event("ctrl_s", SETTLE).await;
    // :prevent kept the "s" of ctrl+s out of the field.
    assert_eq!(ev["form"], json!({"ctrl": "s"}));
    eprintln!("ok: several actions, key filters");
}

/// `:prevent` stops the default action, `:stop` the actions of ancestors.
async fn prevent_and_stop(app: &App, page: &Page) {
    let url = app.room_page(
        "/prevent",
        r#"
        <input type="checkbox" id="cb" data-liveview-function="cb" data-action="click->page#run:prevent">
        <a id="away" href="/elsewhere" data-liveview-function="away" data-action="click->page#run:prevent">away</a>
        <div id="outer" data-liveview-function="outer" data-action="click->page#run">
          <button id="stopper" data-liveview-function="inner" data-action="click->page#run:stop">stop</button>
          <button id="bubbler" data-liveview-function="inner2" data-action="click->page#run">bubble</button>
        </div>
        <div id="selfish" style="padding: 40px 0 40px 0" data-liveview-function="selfish"
             data-action="click->page#run:self"><span id="selfish-child">child</span></div>"#,
    );
    page.goto(&url).await;
    page.eval("window.__marker = 1").await;

    page.click("#cb").await;
    app.wait_events("cb", 1).await;
    assert!(
        !page
            .eval_bool("return document.getElementById('cb').checked")
            .await
    );

    page.click("#away").await;
    app.wait_events("away", 1).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        page.eval_string("return location.pathname").await,
        "/prevent"
    );
    assert_eq!(page.eval("return window.__marker").await, json!(1));

    page.click("#bubbler").await;
    app.wait_events("inner2", 1).await;
    app.wait_events("outer", 1).await;
    page.click("#stopper").await;
    app.wait_events("inner", 1).await;
    // :self: a click on a child does not count.
    page.click("#selfish-child").await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("selfish");
    page.click("#selfish").await;
    app.wait_events("selfish", 1).await;
    assert_eq!(
        app.events_of("outer").len(),
        1,
        ":stop let the ancestor's action run"
    );
    eprintln!("ok: :prevent, :stop, :self");
}

/// `data`: the element's dataset without liveview's own keys, snake_case on
/// the server. `form`: every kind of field, as a form submission sends it.
async fn data_and_form(app: &App, page: &Page) {
    let url = app.room_page(
        "/payloads",
        r#"
        <button id="d" data-user-id="7" data-item-count="3" data-x="y" data-controller="page"
                data-liveview-function="data" data-action="click->page#run">data</button>
        <form id="signup" data-liveview-function="signup" data-action="submit->page#run">
          <input name="email" value="a@b.c">
          <input type="password" name="secret" value="pw">
          <input type="hidden" name="token" value="t1">
          <input type="number" name="age" value="42">
          <textarea name="bio">line 1
line 2</textarea>
          <input type="checkbox" name="newsletter" value="yes" checked>
          <input type="checkbox" name="terms" value="ok">
          <input type="checkbox" name="plain" checked>
          <input type="radio" name="plan" value="free">
          <input type="radio" name="plan" value="pro" checked>
          <select name="country"><option value="fr">France</option><option value="de" selected>Germany</option></select>
          <select name="langs" multiple>
            <option value="rust" selected>Rust</option><option value="go">Go</option><option value="js" selected>JS</option>
          </select>
          <select name="none" multiple><option value="x">X</option></select>
          <input name="tag" value="one"><input name="tag" value="two">
          <input type="checkbox" name="pets" value="cat" checked><input type="checkbox" name="pets" value="dog" checked>
          <input id="no-name" value="by id">
          <input name="firstName" value="Ann">
          <input name="off" value="disabled" disabled>
          <fieldset disabled><input name="fs" value="in a disabled fieldset"></fieldset>
          <input type="file" name="file">
          <button id="submit" name="action" value="save">Save</button>
          <button type="button" name="other" value="x">Other</button>
        </form>
        <input id="lonely" name="lonely" value="alone" data-liveview-function="lonely"
               data-action="change->page#run">"#,
    );
    page.goto(&url).await;

    page.click("#d").await;
    let ev = app.one_event("data", Duration::ZERO).await;
    assert_eq!(
        ev["data"],
        json!({"user_id": "7", "item_count": "3", "x": "y"})
    );
    assert_eq!(ev["form"], json!({}));
    assert_eq!(ev["lang"], json!("en"));

    // The user changes a few fields before submitting.
    page.type_into("[name=email]", "m").await;
    page.click("[name=terms]").await;
    page.click("[name=newsletter]").await;
    page.click("[name=newsletter]").await; // checked again
    page.click("#submit").await;
    let ev = app.one_event("signup", Duration::ZERO).await;
    assert_eq!(
        ev["form"],
        json!({
            "email": "a@b.cm", "secret": "pw", "token": "t1", "age": "42",
            "bio": "line 1\nline 2", "newsletter": "yes", "terms": "ok", "plain": "on",
            "plan": "pro", "country": "de", "langs": ["rust", "js"], "none": [],
            "tag": ["one", "two"], "pets": ["cat", "dog"], "no-name": "by id", "first_name": "Ann",
            "action": "save",
        })
    );

    // A field outside any form sends itself.
    page.type_into("#lonely", "+solo").await;
    page.eval("document.getElementById('lonely').blur()").await; // change fires
    let ev = app.one_event("lonely", SETTLE).await;
    assert_eq!(ev["form"], json!({"lonely": "alone+solo"}));
    eprintln!("ok: data and form");
}

/// A burst of keystrokes on a debounced input sends one event with the
/// final value; a throttled one sends the first and drops the rest.
async fn debounce_and_throttle(app: &App, page: &Page) {
    let url = app.room_page(
        "/timing",
        r#"
        <input id="deb" name="q" data-liveview-function="search" data-action="input->page#run"
               data-liveview-debounce="400">
        <input id="thr" name="t" data-liveview-function="burst" data-action="input->page#run"
               data-liveview-throttle="1500">"#,
    );
    page.goto(&url).await;

    page.type_into("#deb", "hello world").await;
    let ev = app.one_event("search", Duration::from_millis(700)).await;
    assert_eq!(ev["form"], json!({"q": "hello world"}));
    assert!(
        ev["data"].as_object().unwrap().is_empty(),
        "liveview keys leaked into data"
    );

    let start = std::time::Instant::now();
    page.type_into("#thr", "abcdefgh").await;
    let typed = start.elapsed();
    let ev = app.one_event("burst", Duration::from_millis(300)).await;
    assert!(
        typed < Duration::from_millis(1200),
        "typing took {typed:?}: too slow to test"
    );
    assert_eq!(ev["form"], json!({"t": "a"}));
    // After the interval (counted from the first keystroke, which came
    // before the end of typing), the next keystroke goes out.
    let since_typed = start.elapsed() - typed;
    tokio::time::sleep(Duration::from_millis(1600).saturating_sub(since_typed)).await;
    page.type_into("#thr", "i").await;
    let evs = app.wait_events("burst", 2).await;
    assert_eq!(evs[1]["form"], json!({"t": "abcdefghi"}));
    eprintln!("ok: debounce and throttle");
}

/// `data-liveview-keyboard-map`: combos to functions, sent with the map
/// element's data; printable keys are ignored while typing in a field.
async fn keyboard_map(app: &App, page: &Page) {
    let url = app.room_page(
        "/keyboard",
        r#"
        <div id="km" data-scope="km"
             data-liveview-keyboard-map='{"ctrl+k": "search", "Escape": "close", "?": "help", "shift+o": "open"}'></div>
        <div id="pad" tabindex="0">pad</div>
        <input id="field" name="field">"#,
    );
    page.goto(&url).await;
    app.clear_events();

    page.keys("#pad", "?").await;
    let ev = app.one_event("help", Duration::ZERO).await;
    assert_eq!(ev["data"], json!({"scope": "km"}));
    page.keys("#pad", &format!("{}k{}", key::CONTROL, key::NULL))
        .await;
    app.wait_events("search", 1).await;
    page.keys("#pad", key::ESCAPE).await;
    app.wait_events("close", 1).await;
    page.keys("#pad", "O").await; // shift+o
    app.wait_events("open", 1).await;

    // In a field, "?" is text; Escape and ctrl+k still work.
    page.keys("#field", "?").await;
    page.keys("#field", key::ESCAPE).await;
    app.wait_events("close", 2).await;
    page.keys("#field", &format!("{}k{}", key::CONTROL, key::NULL))
        .await;
    app.wait_events("search", 2).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        app.events_of("help").len(),
        1,
        "'?' typed in a field fired the map"
    );
    assert_eq!(
        page.eval_string("return document.getElementById('field').value")
            .await,
        "?"
    );
    eprintln!("ok: keyboard map");
}

/// `data-liveview-init` on load (sent once the socket opens) and in a
/// patch; `data-liveview-focus` in a patch. Elements a morph keeps are not
/// new: they do not init again.
async fn init_and_focus(app: &App, page: &Page) {
    app.reply(
        "show",
        vec![Patch::html(
            "#slot",
            r#"<p>shown</p><input id="focus-me" data-liveview-focus>
               <div id="lazy" data-liveview-init="patched_init" data-n="2"></div>"#,
        )],
    );
    let url = app.room_page(
        "/init",
        r#"
        <div data-liveview-init="loaded" data-n="1" data-user-name="ann"></div>
        <input id="first" data-liveview-focus="false"><input id="on-load" data-liveview-focus>
        <button id="show" data-liveview-function="show" data-action="click->page#run">show</button>
        <div id="slot"></div>"#,
    );
    page.goto(&url).await;
    let ev = app.one_event("loaded", Duration::ZERO).await;
    assert_eq!(ev["data"], json!({"n": "1", "user_name": "ann"}));
    assert_eq!(
        page.eval_string("return document.activeElement.id").await,
        "on-load"
    );

    page.click("#show").await;
    page.wait_until("return document.activeElement && document.activeElement.id === 'focus-me'")
        .await;
    let ev = app.one_event("patched_init", Duration::ZERO).await;
    assert_eq!(ev["data"], json!({"n": "2"}));

    // The same render again: morphed in place, so no new init and no refocus.
    page.eval("document.getElementById('show').focus()").await;
    page.click("#show").await;
    app.wait_events("show", 2).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        app.events_of("patched_init").len(),
        1,
        "a kept element ran its init again"
    );
    assert_eq!(
        page.eval_string("return document.activeElement.id").await,
        "show"
    );
    eprintln!("ok: init and focus");
}

/// `data-liveview-permanent`: left as it is (attributes, content, typed
/// value, node) by a re-render; removed when the new content lacks it.
async fn permanent(app: &App, page: &Page) {
    let url = app.room_page(
        "/permanent",
        r#"
        <div id="area">
          <div id="perm" class="a" data-liveview-permanent>kept <input id="pin"></div>
          <p id="other">1</p>
        </div>
        <button id="rerender" data-liveview-function="rerender" data-action="click->page#run">go</button>"#,
    );
    app.reply(
        "rerender",
        vec![Patch::html(
            "#area",
            r#"<div id="perm" class="b" data-liveview-permanent>server <input id="pin" value="srv"></div><p id="other">2</p>"#,
        )],
    );
    page.goto(&url).await;
    page.type_into("#pin", "typed").await;
    page.eval("document.getElementById('perm').__tag = 'same'")
        .await;
    page.click("#rerender").await;
    page.wait_for_text("#other", "2").await;
    let perm = page
        .eval(
            "const p = document.getElementById('perm');
             return [p.__tag, p.className, p.firstChild.textContent, document.getElementById('pin').value]",
        )
        .await;
    assert_eq!(perm, json!(["same", "a", "kept ", "typed"]));

    // A patch that targets it directly applies.
    app.reply("rerender", vec![Patch::html("#perm", "direct")]);
    page.click("#rerender").await;
    page.wait_for_text("#perm", "direct").await;

    app.reply(
        "rerender",
        vec![Patch::html("#area", r#"<p id="other">3</p>"#)],
    );
    page.click("#rerender").await;
    page.wait_for_text("#other", "3").await;
    assert!(
        page.eval_bool("return !document.getElementById('perm')")
            .await
    );
    eprintln!("ok: permanent");
}

/// Intersection: appear when scrolled into view, disappear when scrolled
/// out (not at load, out of view), and a threshold.
async fn intersection(app: &App, page: &Page) {
    // Infinite scroll: the answer adds rows and a new sentinel (at the top,
    // out of view until the page scrolls back).
    app.reply(
        "appear",
        vec![Patch::append(
            "#feed",
            r#"<p class=row>more</p><div id="s2" style="height: 5px" data-liveview-intersect-appear="appear2"></div>"#,
        )],
    );
    let url = app.room_page(
        "/scroll",
        r#"
        <div id="feed"><p class="row">first</p></div>
        <div style="height: 3000px"></div>
        <div id="sentinel" style="height: 20px" data-id="s"
             data-liveview-intersect-appear="appear" data-liveview-intersect-disappear="disappear"></div>
        <div style="height: 1500px"></div>
        <div id="half" style="height: 400px" data-liveview-intersect-appear="half"
             data-liveview-intersect-threshold="0.9"></div>
        <div style="height: 1500px"></div>"#,
    );
    page.goto(&url).await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("appear");
    app.assert_no_event("disappear");

    page.eval("document.getElementById('sentinel').scrollIntoView()")
        .await;
    let ev = app.one_event("appear", Duration::ZERO).await;
    assert_eq!(ev["data"], json!({"id": "s"}));
    page.wait_until("return document.querySelectorAll('#feed .row').length === 2")
        .await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("appear2");
    page.eval("window.scrollTo(0, 0)").await;
    app.one_event("disappear", Duration::ZERO).await;
    app.one_event("appear2", Duration::ZERO).await;

    // 100 px of 400 in view: under the threshold; then all of it.
    page.eval(
        "const h = document.getElementById('half');
         window.scrollTo(0, h.offsetTop - innerHeight + 100)",
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    app.assert_no_event("half");
    page.eval("document.getElementById('half').scrollIntoView()")
        .await;
    app.one_event("half", Duration::ZERO).await;
    assert_eq!(app.events_of("appear").len(), 1);
    eprintln!("ok: intersection");
}

/// The room: `data-room`, else `data-liveview-room-uuid`, else a random one
/// kept for the tab (across a reload). The server sees it as `ctx.room()`.
async fn rooms(app: &App, page: &Page) {
    let body = r#"<button id="who" data-liveview-function="whoami" data-action="click->page#run">who</button>"#;
    app.page("/room-a", r#"data-room="room-a-1""#, "A", body);
    app.page(
        "/room-b",
        r#"data-liveview-room-uuid="room-b-2""#,
        "B",
        body,
    );
    app.page("/room-c", r#"lang="fr""#, "C", body);

    app.clear_events();
    page.goto(&app.url("/room-a")).await;
    page.click("#who").await;
    let ev = app.one_event("whoami", Duration::ZERO).await;
    assert_eq!(
        (&ev["room"], &ev["event_room"]),
        (&json!("room-a-1"), &json!("room-a-1"))
    );

    app.clear_events();
    page.goto(&app.url("/room-b")).await;
    page.click("#who").await;
    let ev = app.one_event("whoami", Duration::ZERO).await;
    assert_eq!(
        (&ev["room"], &ev["event_room"]),
        (&json!("room-b-2"), &json!("room-b-2"))
    );

    app.clear_events();
    page.goto(&app.url("/room-c")).await;
    let room = page.eval_string("return liveview.room").await;
    assert!(room.len() >= 16, "random room {room:?}");
    assert_eq!(
        page.eval_string("return sessionStorage.getItem('liveview-room')")
            .await,
        room
    );
    page.click("#who").await;
    let ev = app.one_event("whoami", Duration::ZERO).await;
    assert_eq!(
        (&ev["room"], &ev["event_room"], &ev["lang"]),
        (&json!(room), &json!(room), &json!("fr"))
    );
    // The same tab keeps it across a reload.
    page.client().refresh().await.unwrap();
    page.wait_until("return window.liveview && liveview.connected")
        .await;
    assert_eq!(page.eval_string("return liveview.room").await, room);
    page.click("#who").await;
    let evs = app.wait_events("whoami", 2).await;
    assert_eq!(evs[1]["room"], json!(room));
    // Another tab has another room.
    let first = page.client().window().await.unwrap();
    let tab = page.client().new_window(true).await.unwrap();
    page.client().switch_to_window(tab.handle).await.unwrap();
    page.goto(&app.url("/room-c")).await;
    let other = page.eval_string("return liveview.room").await;
    assert!(other.len() >= 16 && other != room, "{other:?} vs {room:?}");
    page.click("#who").await;
    let evs = app.wait_events("whoami", 3).await;
    assert_eq!(evs[2]["room"], json!(other));
    page.client().close_window().await.unwrap();
    page.client().switch_to_window(first).await.unwrap();
    eprintln!("ok: rooms");
}

/// Event types first seen in a patch (`focus` and `blur`, which do not
/// bubble) work on the patched elements without any binding.
async fn patched_in_event_types(app: &App, page: &Page) {
    app.reply(
        "add_field",
        vec![Patch::html(
            "#slot",
            r#"<input id="late" name="late" value="v" data-liveview-function="focused"
                      data-action="focus->page#run blur->page#blurred">
               <input id="late2" name="late2" data-liveview-function="blurred" data-action="blur->page#run">"#,
        )],
    );
    let url = app.room_page(
        "/late",
        r#"<button id="add" data-liveview-function="add_field" data-action="click->page#run">add</button>
        <div id="slot"></div>"#,
    );
    page.goto(&url).await;
    page.click("#add").await;
    page.find("#late").await;
    page.click("#late").await;
    let ev = app.one_event("focused", Duration::ZERO).await;
    assert_eq!(ev["form"], json!({"late": "v"}));
    page.click("#late2").await; // #late blurs: its blur action is not `run`
    page.click("#add").await; // #late2 blurs
    app.wait_events("blurred", 1).await;
    tokio::time::sleep(SETTLE).await;
    let evs = app.events_of("blurred");
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["form"], json!({"late2": ""}));
    assert_eq!(app.events_of("focused").len(), 1);
    eprintln!("ok: focus/blur on patched-in elements");
}
