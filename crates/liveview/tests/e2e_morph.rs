//! The client's morph in a real headless Chromium: a focused input keeps
//! its focus, caret and typed value when the server re-renders around it;
//! unchanged nodes stay the same objects; id-keyed elements move; and a
//! corpus of before/after cases applied with `window.liveview.morph`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use liveview::Patch;
use liveview_e2e::scripted::{App, PageExt, key};
use liveview_e2e::{Browser, Page};
use serde_json::{Value, json};

const FUNCTIONS: &[&str] = &["typing", "tick", "send_form", "shuffle"];

#[tokio::test]
async fn morph_in_chromium() {
    let app = App::start(FUNCTIONS).await;
    Browser::run("morph_in_chromium", |page| async move {
        focus_caret_and_value_kept(&app, &page).await;
        focused_fields_of_every_kind(&app, &page).await;
        submit_answer_clears_the_form(&app, &page).await;
        identity_and_keyed_moves(&app, &page).await;
        corpus(&app, &page).await;
        page.assert_no_js_errors().await;
    })
    .await;
}

/// The server re-renders the region around the input being typed in, with
/// a stale value: focus, caret and the typed value survive; the node is the
/// same; a field without focus takes the server's value.
async fn focus_caret_and_value_kept(app: &App, page: &Page) {
    let render = |hint: &str| {
        format!(
            r#"<p id="hint">{hint}</p>
            <label>Name <input id="name" name="name" value="stale" class="r-{hint}"
                   data-liveview-function="typing" data-action="input->page#run"></label>
            <input id="other" name="other" value="server {hint}">"#
        )
    };
    app.respond("typing", move |ev| {
        let typed = ev["form"]["name"].as_str().unwrap_or_default();
        Ok(vec![Patch::html("#area", render(&typed.len().to_string()))])
    });
    app.reply("tick", vec![Patch::html("#area", render("tick"))]);
    let url = app.room_page(
        "/focus",
        &format!(r#"<div id="area">{}</div>"#, render("0")),
    );
    page.goto(&url).await;
    page.eval("document.getElementById('name').__tag = 1").await;
    page.type_into("#other", " typed").await;
    page.clear("#name").await;
    page.type_into("#name", "hello").await;
    page.wait_for_text("#hint", "5").await;
    app.wait_events("typing", 5).await;
    let s = field_state(page).await;
    assert_eq!(
        s,
        json!(["name", "hello", 5, 5, 1, "r-5", "server 5"]),
        "after typing"
    );

    // Caret moved back by two; a push re-renders while the user is idle.
    page.keys("#name", &format!("{0}{0}", key::ARROW_LEFT))
        .await;
    page.eval("liveview.send('tick')").await;
    page.wait_for_text("#hint", "tick").await;
    let s = field_state(page).await;
    assert_eq!(
        s,
        json!(["name", "hello", 3, 3, 1, "r-tick", "server tick"]),
        "after a re-render"
    );

    // A selection survives too.
    page.eval("document.getElementById('name').setSelectionRange(1, 4)")
        .await;
    page.eval("liveview.send('typing', {}, {name: 'xy'})").await;
    page.wait_for_text("#hint", "2").await;
    let s = field_state(page).await;
    assert_eq!(
        s,
        json!(["name", "hello", 1, 4, 1, "r-2", "server 2"]),
        "selection"
    );

    // Typing goes on where the caret is.
    page.keys("#name", "J").await;
    page.wait_for_text("#hint", "3").await;
    let s = field_state(page).await;
    assert_eq!(
        s,
        json!(["name", "hJo", 2, 2, 1, "r-3", "server 3"]),
        "typing on"
    );
    eprintln!("ok: focus, caret and value kept");
}

async fn field_state(page: &Page) -> Value {
    page.eval(
        "const n = document.getElementById('name');
         return [document.activeElement.id, n.value, n.selectionStart, n.selectionEnd, n.__tag,
                 n.className, document.getElementById('other').value]",
    )
    .await
}

/// A focused textarea, select, multi-select or checkbox keeps what the
/// user entered through a morph that brings the server's (stale) state;
/// the same morph without focus applies the server's state.
async fn focused_fields_of_every_kind(app: &App, page: &Page) {
    let html = r#"<textarea id="t">server</textarea>
        <select id="s"><option value="a" selected>a</option><option value="b">b</option></select>
        <select id="m" multiple><option value="a" selected>a</option><option value="b">b</option><option value="c">c</option></select>
        <input id="c" type="checkbox"><p class="n">0</p>"#;
    let url = app.room_page("/fields", &format!(r#"<div id="area">{html}</div>"#));
    page.goto(&url).await;
    let result = page
        .client()
        .execute(
            "const [html] = arguments, area = document.getElementById('area'), out = {};
             const edit = () => {
               const t = document.getElementById('t');
               t.value = 'user text'; t.setSelectionRange(2, 4);
               document.getElementById('s').value = 'b';
               const m = document.getElementById('m');
               m.options[0].selected = false; m.options[1].selected = true; m.options[2].selected = true;
               document.getElementById('c').checked = true;
             };
             const state = () => {
               const t = document.getElementById('t');
               return [t.value, t.selectionStart, t.selectionEnd, document.getElementById('s').value,
                       Array.from(document.getElementById('m').selectedOptions, (o) => o.value).join(),
                       document.getElementById('c').checked, area.querySelector('.n').textContent];
             };
             for (const id of ['t', 's', 'm', 'c']) {
               area.innerHTML = html; edit();
               document.getElementById(id).focus();
               liveview.morph(area, html.replace('>0<', '>1<'));
               out[id] = [document.activeElement.id, ...state()];
             }
             area.innerHTML = html; edit(); document.activeElement.blur();
             liveview.morph(area, html.replace('>0<', '>1<'));
             out.none = ['', ...state().map((v, i) => i === 1 || i === 2 ? 0 : v)];
             return out;",
            vec![json!(html)],
        )
        .await
        .unwrap();
    let server = |focused: &str, t: bool, s: bool, m: bool, c: bool| {
        json!([
            focused,
            if t { "user text" } else { "server" },
            if t { 2 } else { 6 },
            if t { 4 } else { 6 },
            if s { "b" } else { "a" },
            if m { "b,c" } else { "a" },
            c,
            "1"
        ])
    };
    assert_eq!(
        result["t"],
        server("t", true, false, false, false),
        "{result:#}"
    );
    assert_eq!(
        result["s"],
        server("s", false, true, false, false),
        "{result:#}"
    );
    assert_eq!(
        result["m"],
        server("m", false, false, true, false),
        "{result:#}"
    );
    assert_eq!(
        result["c"],
        server("c", false, false, false, true),
        "{result:#}"
    );
    assert_eq!(
        result["none"],
        json!(["", "server", 0, 0, "a", "a", false, "1"]),
        "{result:#}"
    );
    eprintln!("ok: focused fields of every kind");
}

/// The answer to a submit of the focused field's own form: the server's
/// value wins (that is how a server clears a form after sending it).
async fn submit_answer_clears_the_form(app: &App, page: &Page) {
    let form = |value: &str, sent: &str| {
        format!(
            r#"<form id="chat" data-liveview-function="send_form" data-action="submit->page#run">
              <input id="msg" name="msg" value="{value}"></form><p id="sent">{sent}</p>"#
        )
    };
    app.respond("send_form", move |ev| {
        let msg = ev["form"]["msg"].as_str().unwrap_or_default();
        Ok(vec![Patch::html("#room", form("", msg))])
    });
    let url = app.room_page(
        "/chat",
        &format!(r#"<div id="room">{}</div>"#, form("", "")),
    );
    page.goto(&url).await;
    page.type_into("#msg", "hi there").await;
    page.keys("#msg", key::ENTER).await;
    page.wait_for_text("#sent", "hi there").await;
    assert_eq!(
        page.eval("return [document.activeElement.id, document.getElementById('msg').value]")
            .await,
        json!(["msg", ""])
    );
    eprintln!("ok: a submit's answer clears its form");
}

/// A re-render that changes one text: every other node is the same object;
/// a keyed list shuffled by the server: items are moved, not recreated.
async fn identity_and_keyed_moves(app: &App, page: &Page) {
    let card = |title: &str, order: &[&str]| {
        let items: String = order
            .iter()
            .map(|id| format!(r#"<li id="{id}"><span>{id}</span> <button>x</button></li>"#))
            .collect();
        format!(
            r#"<article class="card"><h2>{title}</h2><p>text <b>bold</b> tail</p>
            <ul id="items">{items}</ul><!-- note --><footer>f</footer></article>"#
        )
    };
    app.reply(
        "shuffle",
        vec![Patch::html("#area", card("Changed", &["c", "e", "a", "b"]))],
    );
    let url = app.room_page(
        "/identity",
        &format!(
            r#"<button id="shuffle" data-liveview-function="shuffle" data-action="click->page#run">go</button>
            <div id="area">{}</div>"#,
            card("Title", &["a", "b", "c", "d"])
        ),
    );
    page.goto(&url).await;
    page.eval(
        "window.__nodes = [];
         const walk = (n) => { __nodes.push(n); n.childNodes.forEach(walk); };
         walk(document.getElementById('area'));
         __nodes.forEach((n, i) => n.__tag = i);
         window.__d = document.getElementById('d');",
    )
    .await;
    // The focused button moves with its item and keeps the focus.
    page.eval("document.querySelector('#a button').focus(); liveview.send('shuffle')")
        .await;
    page.wait_for_text("#area h2", "Changed").await;
    assert!(
        page.eval_bool("return document.activeElement === document.querySelector('#a button')")
            .await
    );
    let result = page
        .eval(
            "const area = document.getElementById('area');
             const lost = __nodes.filter((n) => !area.contains(n) && !__d.contains(n)).map((n) => n.nodeName + ':' + n.textContent);
             const h2 = area.querySelector('h2');
             return {
               lost,
               order: Array.from(area.querySelectorAll('li'), (li) => li.id).join(','),
               kept: ['a', 'b', 'c'].every((id) => typeof document.getElementById(id).__tag === 'number'),
               fresh: document.getElementById('e').__tag === undefined,
               d: !document.getElementById('d'),
               h2: typeof h2.__tag === 'number' && typeof h2.firstChild.__tag === 'number',
               html: area.innerHTML,
             }",
        )
        .await;
    assert_eq!(result["lost"], json!([]), "nodes recreated: {result:#}");
    assert_eq!(result["order"], json!("c,e,a,b"));
    assert_eq!(
        (
            &result["kept"],
            &result["fresh"],
            &result["d"],
            &result["h2"]
        ),
        (&json!(true), &json!(true), &json!(true), &json!(true)),
        "{result:#}"
    );
    let expected = page
        .client()
        .execute(
            "const t = document.createElement('template'); t.innerHTML = arguments[0]; return t.innerHTML",
            vec![json!(card("Changed", &["c", "e", "a", "b"]))],
        )
        .await
        .unwrap();
    assert_eq!(result["html"], expected);
    eprintln!("ok: identity kept, keyed items moved");
}

/// A morph case: the container's content before, the content it is morphed
/// to, and the nodes that must stay the same objects (CSS selectors within
/// the container; `sel/N` is the Nth child node of `sel`, `/N` of the
/// container).
struct Case {
    name: &'static str,
    before: &'static str,
    after: &'static str,
    keep: &'static [&'static str],
    /// JavaScript run on the container `c` before the morph.
    prepare: &'static str,
}

const fn case(
    name: &'static str,
    before: &'static str,
    after: &'static str,
    keep: &'static [&'static str],
) -> Case {
    Case {
        name,
        before,
        after,
        keep,
        prepare: "",
    }
}

const CORPUS: &[Case] = &[
    case("text change", "<p>a</p>", "<p>b</p>", &["p", "p/0"]),
    case("bare text", "hello", "world", &["/0"]),
    case("empty to content", "", "<p>x</p>text", &[]),
    case("content to empty", "<p>x</p>text<!--c-->", "", &[]),
    case(
        "attribute change and addition",
        r#"<a href="/1" class="x">l</a>"#,
        r#"<a href="/2" class="y" title="t">l</a>"#,
        &["a", "a/0"],
    ),
    case(
        "attribute removal",
        r#"<div class="x" hidden data-k="1" style="color: red">d</div>"#,
        r#"<div data-k="2">d</div>"#,
        &["div"],
    ),
    case(
        "attribute setAttribute refuses",
        r#"<button @click="a" :class="b">b</button>"#,
        r#"<button @click="c" x-on:click.prevent="d">b</button>"#,
        &["button"],
    ),
    case(
        "insert at start",
        "<h1>T</h1><p>x</p>",
        "<nav>n</nav><h1>T</h1><p>x</p>",
        &["h1", "p"],
    ),
    case(
        "insert in the middle",
        "<h1>T</h1><p>x</p>",
        "<h1>T</h1><hr><p>x</p>",
        &["h1", "p"],
    ),
    case(
        "insert at end",
        "<p>1</p><!--c-->",
        "<p>1</p><!--c--><p>2</p>",
        &["p", "/1"],
    ),
    case(
        "remove at start",
        "<nav>n</nav><h1>T</h1><p>x</p>",
        "<h1>T</h1><p>x</p>",
        &["h1", "p"],
    ),
    case(
        "remove in the middle",
        "<h1>T</h1><hr><section>s</section><p>x</p>",
        "<h1>T</h1><p>x</p>",
        &["h1", "p"],
    ),
    case(
        "remove at end",
        "<p>1</p><p>2</p><p>3</p>",
        "<p>1</p>",
        &["p"],
    ),
    case(
        "unkeyed list grows and shrinks",
        "<ul><li>1</li><li>2</li></ul><ol><li>a</li><li>b</li><li>c</li></ol>",
        "<ul><li>1</li><li>2</li><li>3</li></ul><ol><li>a</li></ol>",
        &["ul", "ol", "ul li", "ol li"],
    ),
    case(
        "keyed reorder",
        r#"<li id="a">A</li><li id="b">B</li><li id="c">C</li>"#,
        r#"<li id="c">C</li><li id="a">A</li><li id="b">B</li>"#,
        &["#a", "#b", "#c", "#a/0"],
    ),
    case(
        "keyed reverse, insert and delete",
        r#"<li id="a">A</li><li id="b">B</li><li id="c">C</li><li id="d">D</li>"#,
        r#"<li id="d">D</li><li id="x">X</li><li id="b">B!</li><li id="a">A</li>"#,
        &["#a", "#b", "#d", "#b/0"],
    ),
    case(
        "keyed among unkeyed",
        r#"<h3>t</h3><div id="k1">1</div><p>p</p><div id="k2">2</div>"#,
        r#"<h3>t2</h3><div id="k2">2</div><p>p</p><div id="k1">1</div><span>new</span>"#,
        &["h3", "#k1", "#k2", "p"],
    ),
    case(
        "unkeyed separator between swapped keyed items",
        r#"<li id="a">A</li><p>sep</p><li id="b">B</li>"#,
        r#"<li id="b">B</li><p>sep</p><li id="a">A</li>"#,
        &["#a", "#b", "p", "p/0"],
    ),
    case(
        "unkeyed node moves ahead of a keyed one, a stale node goes",
        r#"<div id="k">k</div><hr><p>x</p>"#,
        r#"<p>x</p><div id="k">k</div>"#,
        &["#k", "p"],
    ),
    case(
        "text around a keyed element",
        r#"a<b id="x">x</b>c"#,
        r#"c<b id="x">x</b>a"#,
        &["#x"],
    ),
    case(
        "id added and removed",
        r#"<p>x</p><p id="y">y</p>"#,
        r#"<p id="x">x</p><p>y</p>"#,
        &[],
    ),
    case(
        "long unkeyed list with an insertion at the start",
        "<i>1</i><i>2</i><i>3</i><i>4</i><i>5</i><i>6</i><i>7</i><i>8</i><i>9</i><i>10</i><i>11</i><i>12</i><i>13</i><i>14</i><i>15</i><i>16</i><i>17</i><i>18</i><i>19</i><i>20</i><i>21</i><i>22</i><i>23</i><i>24</i><i>25</i><i>26</i><i>27</i><i>28</i><i>29</i><i>30</i>",
        "<b>0</b><i>1</i><i>2</i><i>3</i><i>4</i><i>5</i><i>6</i><i>7</i><i>8</i><i>9</i><i>10</i><i>11</i><i>12</i><i>13</i><i>14</i><i>15</i><i>16</i><i>17</i><i>18</i><i>19</i><i>20</i><i>21</i><i>22</i><i>23</i><i>24</i><i>25</i><i>26</i><i>27</i><i>28</i><i>29</i><i>30</i>",
        &["i", "i/0"],
    ),
    case(
        "keyed items separated by whitespace, swapped",
        "\n<li id=\"a\">A</li>\n<li id=\"b\">B</li>\n",
        "\n<li id=\"b\">B</li>\n<li id=\"a\">A</li>\n",
        &["#a", "#b"],
    ),
    case(
        "same id, other tag: recreated",
        r#"<div id="x">x</div><p>p</p>"#,
        r#"<span id="x">x</span><p>p</p>"#,
        &["p"],
    ),
    case(
        "select options replaced, another one selected",
        r#"<select name="s"><option value="1">1</option><option value="2" selected>2</option></select>"#,
        r#"<select name="s"><option value="0">0</option><option value="1">1</option><option value="3" selected>3</option></select>"#,
        &["select"],
    ),
    case(
        "keyed element moving to another parent is recreated, parents kept",
        r#"<div id="p1"><span id="s">s</span></div><div id="p2"></div>"#,
        r#"<div id="p2"><span id="s">s</span></div><div id="p1"></div>"#,
        &["#p1", "#p2"],
    ),
    case(
        "nested change",
        r#"<div class="card"><h2>T</h2><ul><li>1</li><li>2</li></ul></div>"#,
        r#"<div class="card big"><h2>T</h2><ul><li>1</li><li>two</li><li>3</li></ul></div>"#,
        &[".card", "h2", "h2/0", "ul", "li"],
    ),
    case(
        "tag change in place",
        "<p>x</p><b>y</b>",
        "<div>x</div><b>y</b>",
        &["b"],
    ),
    case(
        "element and text swap places",
        "text<b>b</b>",
        "<b>b</b>text",
        &[],
    ),
    case(
        "form fields take the server's state",
        r#"<input name="a" value="1"><input type="checkbox" name="c" checked><input type="radio" name="r" value="1"><select name="s"><option value="a">a</option><option value="b" selected>b</option></select><textarea name="t">t</textarea>"#,
        r#"<input name="a" value="2"><input type="checkbox" name="c"><input type="radio" name="r" value="1" checked><select name="s"><option value="a" selected>a</option><option value="b">b</option></select><textarea name="t">u</textarea>"#,
        &["input[name=a]", "input[name=c]", "select", "textarea", "option"],
    ),
    Case {
        name: "fields edited by the user (not focused) take the server's state",
        before: r#"<input name="a" value="1"><input type="checkbox" name="c"><select name="s" multiple><option value="a">a</option><option value="b">b</option></select><textarea name="t">t</textarea>"#,
        after: r#"<input name="a" value="1"><input type="checkbox" name="c"><select name="s" multiple><option value="a" selected>a</option><option value="b">b</option></select><textarea name="t">t</textarea>"#,
        keep: &["input[name=a]", "select", "textarea"],
        prepare: "c.querySelector('[name=a]').value = 'typed'; c.querySelector('[name=c]').checked = true;
                  c.querySelector('option[value=b]').selected = true; c.querySelector('textarea').value = 'edited';",
    },
    case(
        "comments",
        "<!-- a --><p>x</p><!-- b -->",
        "<!-- changed --><p>x</p>",
        &["/0", "p"],
    ),
    case(
        "whitespace removed",
        "<p>a</p>\n  <p>b</p>\n",
        "<p>a</p><p>b</p>",
        &["p"],
    ),
    case(
        "whitespace added",
        "<p>a</p><p>b</p>",
        "\n<p>a</p>\n\t<p>b</p>  ",
        &[],
    ),
    case(
        "pre keeps its text",
        "<pre>a\n  b</pre>",
        "<pre>a\n   b\n</pre>",
        &["pre", "pre/0"],
    ),
    case(
        "svg",
        r#"<svg viewBox="0 0 10 10"><circle r="1"></circle><path d="M0 0"></path></svg>"#,
        r#"<svg viewBox="0 0 20 20"><circle r="2" fill="red"></circle><rect width="1" height="1"></rect><path d="M1 1"></path></svg>"#,
        &["svg", "circle", "path"],
    ),
    case(
        "svg namespaced attribute",
        r##"<svg><use xlink:href="#a"></use></svg>"##,
        r##"<svg><use xlink:href="#b"></use></svg>"##,
        &["svg", "use"],
    ),
    case(
        "table rows",
        "<table><tbody><tr><td>1</td></tr></tbody></table>",
        "<table><tbody><tr><td>1</td></tr><tr><td>2</td></tr></tbody></table>",
        &["table", "tbody", "tr", "td"],
    ),
    case(
        "template content",
        "<template><b>x</b></template>",
        "<template><i>y</i></template>",
        &["template"],
    ),
    case(
        "entities and unicode",
        "<p>a &amp; b</p>",
        "<p>a &lt; b — é 🦀</p>",
        &["p", "p/0"],
    ),
    case(
        "details open removed",
        "<details open><summary>s</summary>x</details>",
        "<details><summary>s!</summary>x</details>",
        &["details", "summary"],
    ),
    case(
        "a long unkeyed list, one item replaced by another tag",
        "<p>1</p><p>2</p><p>3</p><p>4</p><p>5</p><p>6</p>",
        "<p>1</p><p>2</p><h4>3</h4><p>4</p><p>5</p><p>6</p>",
        &["p"],
    ),
];

/// Each case in a fresh container: the morphed content must equal the
/// `after` HTML as the browser parses it (attributes compared as sets, form
/// state by property), and the listed nodes must be the same objects.
async fn corpus(app: &App, page: &Page) {
    let url = app.room_page("/corpus", r#"<div id="c"></div>"#);
    page.goto(&url).await;
    let cases: Vec<Value> = CORPUS
        .iter()
        .map(|c| json!({"name": c.name, "before": c.before, "after": c.after, "keep": c.keep, "prepare": c.prepare}))
        .collect();
    let failures = page
        .client()
        .execute(
            r#"
            const canon = (n) => {
              if (n.nodeType === 3) return JSON.stringify(n.data);
              if (n.nodeType === 8) return '<!--' + n.data + '-->';
              const attrs = Array.from(n.attributes, (a) => (a.namespaceURI ? a.namespaceURI + ':' : '') + a.localName + '=' + JSON.stringify(a.value)).sort();
              let state = '';
              if (n.tagName === 'INPUT') state = ' .value=' + JSON.stringify(n.value) + ' .checked=' + n.checked;
              if (n.tagName === 'TEXTAREA') state = ' .value=' + JSON.stringify(n.value);
              if (n.tagName === 'OPTION') state = ' .selected=' + n.selected;
              const kids = n.tagName === 'TEMPLATE' ? n.content.childNodes : n.childNodes;
              return '<' + n.namespaceURI + ':' + n.localName + ' ' + attrs.join(' ') + state + '>' + Array.from(kids, canon).join('') + '</>';
            };
            const pick = (c, sel) => {
              const [css, idx] = sel.split('/');
              const el = css ? c.querySelector(css) : c;
              return el && idx != null ? el.childNodes[+idx] : el;
            };
            const c = document.getElementById('c'), failures = [];
            for (const k of arguments[0]) {
              c.innerHTML = k.before;
              if (k.prepare) new Function('c', k.prepare)(c);
              const kept = k.keep.map((s) => pick(c, s));
              const missing = k.keep.filter((s, i) => !kept[i]);
              liveview.morph(c, k.after);
              const want = document.createElement('div');
              want.innerHTML = k.after;
              const got = canon(c).slice(canon(c).indexOf('>') + 1), exp = canon(want).slice(canon(want).indexOf('>') + 1);
              const lost = k.keep.filter((s, i) => kept[i] && pick(c, s) !== kept[i]);
              if (got !== exp || lost.length || missing.length) {
                failures.push({ name: k.name, got, exp, lost, missing, html: c.innerHTML });
              }
            }
            c.innerHTML = '';
            return failures;
            "#,
            vec![json!(cases)],
        )
        .await
        .unwrap();
    assert!(CORPUS.len() >= 20);
    assert_eq!(failures, json!([]), "morph corpus failures: {failures:#}");
    // The target itself may be an SVG element: the content is parsed as SVG.
    let ns = page
        .eval(
            "const c = document.getElementById('c');
             c.innerHTML = '<svg id=\"s\"><circle r=\"1\"></circle></svg>';
             const s = document.getElementById('s');
             liveview.morph(s, '<circle r=\"2\"></circle><g><rect></rect></g>');
             return [s.firstChild.namespaceURI, s.querySelector('rect').namespaceURI, s.innerHTML]",
        )
        .await;
    let svg = "http://www.w3.org/2000/svg";
    assert_eq!(
        ns,
        json!([svg, svg, r#"<circle r="2"></circle><g><rect></rect></g>"#])
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    eprintln!("ok: morph corpus of {} cases", CORPUS.len());
}
