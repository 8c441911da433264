//! Patches from a real server applied by the browser client in a real
//! headless Chromium: every patch kind, batches, inline scripts and their
//! cleanup, a patch of hundreds of elements, and history (back, forward,
//! reload of a pushed URL).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt, click_and_apply};
use liveview_e2e::{Browser, Page};
use serde_json::json;

const FUNCTIONS: &[&str] = &["go", "to1", "to2", "to3", "big"];

#[tokio::test]
async fn patch_kinds_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run("patch_kinds_in_chromium", |page| async move {
        patch_kinds(&app, &page).await;
        scroll(&app, &page).await;
        scripts_and_cleanup(&app, &page).await;
        large_patch(&app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

#[tokio::test]
async fn history_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run("history_in_chromium", |page| async move {
        back_forward_and_reload(&app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

const GO: &str =
    r#"<button id="go" data-liveview-function="go" data-action="click->page#run">go</button>"#;

/// html (morph), append, prepend, append of an existing id, remove, outer
/// (morphed and swapped), url+title, a patch without target, and a batch
/// frame applied in order.
async fn patch_kinds(app: &App, page: &Page) {
    let url = app.room_page(
        "/kinds",
        &format!(
            r#"{GO}
            <div id="target"><p id="keep">kept</p><span>old</span></div>
            <ul id="list"><li id="a">A</li><li id="b">B</li></ul>
            <div id="gone">gone</div>
            <div id="box" class="x"><b>in box</b></div>
            <div id="swap">swap me</div>"#
        ),
    );
    page.goto(&url).await;
    page.eval("document.getElementById('keep').__tag = 1").await;

    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::html(
            "#target",
            r#"<p id="keep">kept</p><span>new</span>"#,
        )],
    )
    .await;
    assert_eq!(
        page.eval_string("return document.getElementById('target').innerHTML")
            .await,
        r#"<p id="keep">kept</p><span>new</span>"#
    );
    assert_eq!(
        page.eval("return document.getElementById('keep').__tag")
            .await,
        json!(1)
    );

    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::append("#list", r#"<li id="c">C</li>"#)],
    )
    .await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::prepend("#list", r#"<li id="z">Z</li>"#)],
    )
    .await;
    assert_eq!(list(page).await, "Z A B C");
    // Appending an id that is already a child updates and moves it.
    page.eval("document.getElementById('a').__tag = 1").await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::append("#list", r#"<li id="a">A2</li>"#)],
    )
    .await;
    assert_eq!(list(page).await, "Z B C A2");
    assert_eq!(
        page.eval("return document.getElementById('a').__tag").await,
        json!(1)
    );
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::prepend("#list", r#"<li id="c">C2</li>"#)],
    )
    .await;
    assert_eq!(list(page).await, "C2 Z B A2");

    click_and_apply(app, page, "#go", "go", vec![Patch::remove("#gone")]).await;
    assert!(
        page.eval_bool("return !document.getElementById('gone')")
            .await
    );

    // outer, same tag: morphed (same node); other tag: swapped.
    page.eval("document.getElementById('box').__tag = 1").await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::replace(
            "#box",
            r#"<div id="box" class="y"><i>new box</i></div>"#,
        )],
    )
    .await;
    assert_eq!(
        page.eval("const b = document.getElementById('box'); return [b.__tag, b.outerHTML]")
            .await,
        json!([1, r#"<div id="box" class="y"><i>new box</i></div>"#])
    );
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::replace(
            "#swap",
            r#"<section id="swapped">swapped</section>"#,
        )],
    )
    .await;
    assert!(page.eval_bool("return !document.getElementById('swap') && document.getElementById('swapped').tagName === 'SECTION'").await);

    // url + title: pushed on the history.
    let length = page.eval("return history.length").await.as_u64().unwrap();
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![
            Patch::html("#target", "page two")
                .with_url("/kinds/2")
                .with_title("Two"),
        ],
    )
    .await;
    assert_eq!(
        page.eval("return [location.pathname, document.title, history.length, document.getElementById('target').textContent]").await,
        json!(["/kinds/2", "Two", length + 1, "page two"])
    );
    // A patch without a target: only the URL and title.
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::navigate("/kinds/3?x=1").with_title("Three")],
    )
    .await;
    assert_eq!(
        page.eval("return [location.pathname + location.search, document.title, document.getElementById('target').textContent]").await,
        json!(["/kinds/3?x=1", "Three", "page two"])
    );

    // The URL already shown: the entry is replaced, not added.
    let length = page.eval("return history.length").await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::navigate("/kinds/3?x=1").with_title("Three again")],
    )
    .await;
    assert_eq!(
        page.eval("return [history.length, document.title]").await,
        json!([length, "Three again"])
    );

    // Several patches: one frame, applied in order.
    page.eval("window.__frames = []; document.addEventListener('liveview:patched', (e) => __frames.push(e.detail))").await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![
            Patch::html("#target", "<p id=t1>one</p>"),
            Patch::append("#t1", " two"),
            Patch::remove("#a"),
            Patch::prepend("#list", "<li id=first>F</li>"),
        ],
    )
    .await;
    assert_eq!(page.text("#target").await, "one two");
    assert_eq!(list(page).await, "F C2 Z B");
    let frames = page.eval("return __frames").await;
    assert_eq!(frames.as_array().unwrap().len(), 1, "one frame: {frames}");
    assert_eq!(
        frames[0]["patches"].as_array().map(Vec::len),
        Some(4),
        "a batch frame: {frames}"
    );
    eprintln!("ok: patch kinds");
}

async fn list(page: &Page) -> String {
    page.eval_string("return Array.from(document.querySelectorAll('#list li'), (li) => li.textContent).join(' ')").await
}

/// `scroll` brings an element into view; `scrollTop` goes back to the top.
async fn scroll(app: &App, page: &Page) {
    let url = app.room_page(
        "/scrolling",
        &format!(
            r#"{GO}<div id="msg"></div><div style="height: 4000px"></div><p id="far">far</p><div style="height: 2000px"></div>"#
        ),
    );
    page.goto(&url).await;
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::html("#msg", "1").with_scroll("#far")],
    )
    .await;
    let (y, top) = scroll_state(page).await;
    assert!(
        y > 3000.0 && (0.0..900.0).contains(&top),
        "#far not in view: scrollY {y}, top {top}"
    );

    page.eval("window.scrollTo(0, 2500)").await;
    app.reply("go", vec![Patch::html("#msg", "2").with_scroll_top()]);
    page.eval("liveview.send('go')").await;
    page.wait_for_text("#msg", "2").await;
    assert_eq!(scroll_state(page).await.0, 0.0);
    eprintln!("ok: scroll, scrollTop");
}

async fn scroll_state(page: &Page) -> (f64, f64) {
    let v = page
        .eval("return [scrollY, document.getElementById('far').getBoundingClientRect().top]")
        .await;
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

/// Inline scripts in a patch run once, with `el` (and `this`) bound to the
/// patched element, and are not inserted; `__cleanup` runs before the
/// element's content is replaced, and before it or an ancestor is removed.
async fn scripts_and_cleanup(app: &App, page: &Page) {
    let url = app.room_page(
        "/scripts",
        &format!(r#"{GO}<div id="holder"><div id="widget"></div></div><div id="other"></div>"#),
    );
    page.goto(&url).await;
    page.eval("window.__ran = []; window.__cleaned = []").await;

    let widget = r#"<span id="w">1</span><script>
        __ran.push([el.id, this === el, document.getElementById('w').textContent]);
        el.__cleanup = () => __cleaned.push(el.id + ':' + document.getElementById('w').textContent);
        </script><script type="application/json" id="conf">{"a": 1}</script>"#;
    click_and_apply(app, page, "#go", "go", vec![Patch::html("#widget", widget)]).await;
    assert_eq!(
        page.eval("return __ran").await,
        json!([["widget", true, "1"]])
    );
    assert_eq!(
        page.eval("return [document.querySelectorAll('#widget script').length, document.getElementById('conf').type]").await,
        json!([1, "application/json"]),
        "the inline script stays out of the DOM, the JSON one is content"
    );

    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::html("#widget", r#"<span id="w">2</span>"#)],
    )
    .await;
    // The cleanup ran before the replacement (it saw the old content), once.
    assert_eq!(page.eval("return __cleaned").await, json!(["widget:1"]));
    assert_eq!(page.eval("return __ran.length").await, json!(1));

    // outer: `el` is the new element.
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::replace(
            "#other",
            r#"<section id="other2">x</section><script>__ran.push([el.id, this === el, el.tagName])</script>"#,
        )],
    )
    .await;
    assert_eq!(
        page.eval("return __ran[1]").await,
        json!(["other2", true, "SECTION"])
    );

    // Removing an ancestor cleans up the descendants.
    click_and_apply(
        app,
        page,
        "#go",
        "go",
        vec![Patch::html(
            "#widget",
            r#"<i id="child">c</i><script>
               el.__cleanup = () => __cleaned.push('widget');
               el.querySelector('#child').__cleanup = () => __cleaned.push('child');
               </script>"#,
        )],
    )
    .await;
    click_and_apply(app, page, "#go", "go", vec![Patch::remove("#holder")]).await;
    let mut cleaned: Vec<String> =
        serde_json::from_value(page.eval("return __cleaned").await).unwrap();
    cleaned.sort();
    assert_eq!(cleaned, ["child", "widget", "widget:1"]);
    eprintln!("ok: scripts and cleanup");
}

/// A patch of 600 rows, then a re-render that changes every tenth: right
/// content, unchanged rows are the same nodes.
async fn large_patch(app: &App, page: &Page) {
    let rows = |round: u32| -> String {
        (0..600)
            .map(|i| {
                let v = if i % 10 == 0 { format!("{i}-{round}") } else { i.to_string() };
                format!(r#"<tr id="r{i}"><td class="n">{v}</td><td><a href="/item/{i}">item {i}</a></td><td><input value="{v}"></td></tr>"#)
            })
            .collect()
    };
    let url = app.room_page(
        "/large",
        r#"<button id="big" data-liveview-function="big" data-action="click->page#run">big</button><table><tbody id="rows"></tbody></table>"#,
    );
    page.goto(&url).await;
    let start = std::time::Instant::now();
    click_and_apply(
        app,
        page,
        "#big",
        "big",
        vec![Patch::html("#rows", rows(0))],
    )
    .await;
    let first = start.elapsed();
    assert_eq!(
        page.eval("const r = document.querySelectorAll('#rows tr'); return [r.length, r[599].querySelector('.n').textContent, r[590].querySelector('input').value]").await,
        json!([600, "599", "590-0"])
    );
    page.eval("document.querySelectorAll('#rows tr').forEach((tr) => { tr.__tag = tr.id; tr.firstChild.__tag = tr.id })").await;
    let start = std::time::Instant::now();
    click_and_apply(
        app,
        page,
        "#big",
        "big",
        vec![Patch::html("#rows", rows(1))],
    )
    .await;
    let second = start.elapsed();
    let check = page
        .eval(
            "const r = document.querySelectorAll('#rows tr');
             return [r.length, Array.from(r).every((tr) => tr.__tag === tr.id && tr.firstChild.__tag === tr.id),
                     r[590].querySelector('.n').textContent, r[590].querySelector('input').value, r[591].querySelector('.n').textContent]",
        )
        .await;
    assert_eq!(check, json!([600, true, "590-1", "590-1", "591"]));
    // The same morph, timed inside the page.
    let ms = page
        .client()
        .execute(
            "const t = performance.now(); liveview.morph('#rows', arguments[0]); return performance.now() - t",
            vec![json!(rows(2))],
        )
        .await
        .unwrap();
    eprintln!(
        "600 rows (1800 cells): first patch {first:?} and re-render {second:?} click to applied; \
         morph alone in the page {ms} ms"
    );
    eprintln!("ok: large patch");
}

/// Pushed URLs: Back and Forward restore the content and the title without
/// reloading; reloading a pushed URL asks the server for that page.
async fn back_forward_and_reload(app: &App, page: &Page) {
    let room = liveview::templates::new_room_id();
    let attrs = format!(r#"data-room="{room}""#);
    let nav = r#"<button id="to1" data-liveview-function="to1" data-action="click->page#run">1</button>
        <button id="to2" data-liveview-function="to2" data-action="click->page#run">2</button>
        <button id="to3" data-liveview-function="to3" data-action="click->page#run">3</button>
        <aside id="side">side</aside>"#;
    app.page(
        "/h",
        &attrs,
        "Home",
        &format!(r#"{nav}<main id="main"><p>home</p></main>"#),
    );
    app.page(
        "/h/1",
        &attrs,
        "One (server)",
        &format!(r#"{nav}<main id="main"><p>page one rendered by the server</p></main>"#),
    );
    app.reply(
        "to1",
        vec![
            Patch::html("#main", "<p>page one</p>")
                .with_url("/h/1")
                .with_title("One"),
        ],
    );
    app.reply(
        "to2",
        vec![
            Patch::html("#main", "<p>page two</p>")
                .with_url("/h/2")
                .with_title("Two"),
        ],
    );
    // Several patches and a URL-only patch in one frame: one history step
    // that covers every region the frame changed.
    app.reply(
        "to3",
        vec![
            Patch::html("#main", "<p>page three</p>"),
            Patch::html("#side", "side three"),
            Patch::navigate("/h/3").with_title("Three"),
        ],
    );

    page.goto(&app.url("/h")).await;
    page.eval("window.__marker = 1").await;
    page.click("#to1").await;
    page.wait_for_text("#main", "page one").await;
    page.click("#to2").await;
    page.wait_for_text("#main", "page two").await;
    assert_eq!(state(page).await, json!(["/h/2", "Two", "page two", 1]));

    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    assert_eq!(state(page).await, json!(["/h/1", "One", "page one", 1]));
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "home").await;
    assert_eq!(state(page).await, json!(["/h", "Home", "home", 1]));
    page.client().forward().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    assert_eq!(state(page).await, json!(["/h/1", "One", "page one", 1]));
    page.client().forward().await.unwrap();
    page.wait_for_text("#main", "page two").await;
    assert_eq!(state(page).await, json!(["/h/2", "Two", "page two", 1]));
    // The page still works after travelling.
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    page.click("#to2").await;
    page.wait_for_text("#main", "page two").await;
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    assert_eq!(state(page).await, json!(["/h/1", "One", "page one", 1]));

    page.click("#to3").await;
    page.wait_for_text("#main", "page three").await;
    assert_eq!(state(page).await, json!(["/h/3", "Three", "page three", 1]));
    assert_eq!(page.text("#side").await, "side three");
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    assert_eq!(state(page).await, json!(["/h/1", "One", "page one", 1]));
    assert_eq!(page.text("#side").await, "side");
    page.client().forward().await.unwrap();
    page.wait_for_text("#main", "page three").await;
    assert_eq!(state(page).await, json!(["/h/3", "Three", "page three", 1]));
    assert_eq!(page.text("#side").await, "side three");
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one").await;
    assert!(
        !app.hits().iter().any(|p| p.starts_with("/h/")),
        "travelling requested pages: {:?}",
        app.hits()
    );

    // Reload: the server renders the pushed URL.
    page.client().refresh().await.unwrap();
    page.wait_for_text("#main", "page one rendered by the server")
        .await;
    page.wait_until("return window.liveview && liveview.connected")
        .await;
    assert_eq!(app.hits().last().map(String::as_str), Some("/h/1"));
    assert_eq!(
        page.eval("return document.title").await,
        json!("One (server)")
    );

    // After a reload the page still travels: to /h/2, back to /h/1.
    page.click("#to2").await;
    page.wait_for_text("#main", "page two").await;
    page.client().back().await.unwrap();
    page.wait_for_text("#main", "page one rendered by the server")
        .await;
    assert_eq!(
        page.eval("return document.title").await,
        json!("One (server)")
    );

    // Leaving for another page and coming back: connected and working
    // (from the back/forward cache, or loaded again).
    app.page("/away", &attrs, "Away", "<p>away</p>");
    page.eval("window.__marker = 2").await;
    page.goto(&app.url("/away")).await;
    page.client().back().await.unwrap();
    page.wait_until("return location.pathname === '/h/1' && window.liveview && liveview.connected")
        .await;
    let from_cache = page.eval("return window.__marker === 2").await;
    page.click("#to2").await;
    page.wait_for_text("#main", "page two").await;
    eprintln!("back from another page (from the bfcache: {from_cache})");
    tokio::time::sleep(Duration::from_millis(100)).await;
    eprintln!("ok: back, forward, reload");
}

async fn state(page: &Page) -> serde_json::Value {
    page.eval(
        "return [location.pathname, document.title, document.getElementById('main').textContent, window.__marker]",
    )
    .await
}
