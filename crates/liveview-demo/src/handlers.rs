//! The handlers of the seven cases, named as in the article. Each sits in a
//! `// region: name` that the page of its case shows beside the live widget.

use std::collections::BTreeMap;

use liveview::upload::UploadConfig;
use liveview::{Ctx, Data, Error, Form, Patch, Reply, Result, State, Uploads, context};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::db::Message;

/// Longest chat message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Longest chat name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Longest search query looked up, in characters (the rest is ignored).
pub const MAX_QUERY_CHARS: usize = 100;
/// The group every open chat page joins.
pub const CHAT_GROUP: &str = "chat_room";

// region: update_content
/// Clicks on this tab's page, kept as long as its page session lives:
/// across reconnects, and across processes with Redis.
#[derive(Default, serde::Serialize, Deserialize)]
struct Clicks(u32);

#[liveview::handler("update_content")]
async fn update_content(ctx: Ctx) -> Result<Patch> {
    let clicks = ctx.with_state(|c: &mut Clicks| {
        c.0 += 1;
        c.0
    });
    let html = ctx.render("partials/updated.html", context! { clicks })?;
    Ok(Patch::html("#content", html))
}
// endregion

// region: validate_form
#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
}

#[liveview::handler("validate_form")]
async fn validate_form(Form(form): Form<EmailForm>) -> Patch {
    let html = match check_email(&form.email) {
        Ok(()) => r#"<p class="valid">Valid email</p>"#.to_owned(),
        Err(why) => format!(r#"<p class="invalid">Invalid email: {why}</p>"#),
    };
    Patch::html("#errors", html)
}

/// A plain check, not RFC 5322: one `@`, something before it, a dotted
/// domain after it, no spaces.
fn check_email(email: &str) -> Result<(), &'static str> {
    let email = email.trim();
    if email.is_empty() {
        return Err("type an address first.");
    }
    if email.len() > 254 || email.contains(char::is_whitespace) {
        return Err("no spaces, at most 254 characters.");
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.split('.').count() >= 2
                && domain.split('.').all(|part| !part.is_empty()) =>
        {
            Ok(())
        }
        _ => Err("it needs a name, an @ and a domain, as in ada@example.com."),
    }
}
// endregion

// region: validate_signup
/// What the form sends: every field as typed, so that a mistake in one
/// field is reported next to it rather than rejecting the whole event.
#[derive(Debug, Default, Deserialize, Serialize)]
struct SignupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    age: String,
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    topics: Vec<String>,
    #[serde(default)]
    newsletter: bool,
    #[serde(default)]
    terms: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Plan {
    Hobby,
    Pro,
    Team,
}

/// What a valid form becomes.
#[derive(Debug, Serialize)]
struct Signup {
    name: String,
    email: String,
    age: u8,
    plan: Plan,
    topics: Vec<String>,
    newsletter: bool,
}

#[liveview::handler("validate_signup")]
async fn validate_signup(ctx: Ctx, Form(form): Form<SignupForm>) -> Result<Patch> {
    let (signup, errors) = match check_signup(&form) {
        Ok(signup) => (Some(signup), BTreeMap::new()),
        Err(errors) => (None, errors),
    };
    // The form is rendered again with the values as typed and an error
    // under each field that has one.
    let html = ctx.render(
        "partials/signup_fields.html",
        context! { form, errors, signup },
    )?;
    Ok(Patch::html("#signup", html))
}

fn check_signup(form: &SignupForm) -> Result<Signup, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let name = form.name.trim();
    if name.is_empty() {
        errors.insert("name", "Tell us your name.".to_owned());
    } else if name.chars().count() > 60 {
        errors.insert("name", "At most 60 characters.".to_owned());
    }
    if let Err(why) = check_email(&form.email) {
        errors.insert("email", format!("Invalid email: {why}"));
    }
    let age = match form.age.trim().parse::<u64>() {
        Ok(age @ 13..=120) => u8::try_from(age).ok(),
        Ok(_) => {
            errors.insert("age", "You must be between 13 and 120.".to_owned());
            None
        }
        Err(_) if form.age.trim().is_empty() => {
            errors.insert("age", "Your age, please.".to_owned());
            None
        }
        Err(_) => {
            errors.insert("age", "A whole number, like 36.".to_owned());
            None
        }
    };
    if form.plan.is_none() {
        errors.insert("plan", "Pick a plan.".to_owned());
    }
    if !form.terms {
        errors.insert("terms", "Please accept the terms to continue.".to_owned());
    }
    match (age, form.plan) {
        (Some(age), Some(plan)) if errors.is_empty() => Ok(Signup {
            name: name.to_owned(),
            email: form.email.trim().to_owned(),
            age,
            plan,
            topics: form.topics.clone(),
            newsletter: form.newsletter,
        }),
        _ => Err(errors),
    }
}
// endregion

// region: search
#[derive(Deserialize)]
struct SearchForm {
    #[serde(default)]
    query: String,
}

/// A title cut around the first match, for `<mark>`.
#[derive(Serialize)]
struct Hit {
    before: String,
    matched: String,
    after: String,
    author: String,
    minutes: i64,
}

#[liveview::handler("search")]
async fn search(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(form): Form<SearchForm>,
) -> Result<Patch> {
    let query: String = form.query.trim().chars().take(MAX_QUERY_CHARS).collect();
    let html = if query.is_empty() {
        ctx.render("partials/search_results.html", context! { query })?
    } else {
        let results = app.db.search_articles(&query, 5).await?;
        let hits: Vec<Hit> = results
            .articles
            .into_iter()
            .map(|a| highlight(&a.title, &query, a.author, a.minutes))
            .collect();
        ctx.render(
            "partials/search_results.html",
            context! { query, hits, total => results.total },
        )?
    };
    Ok(Patch::html("#results", html))
}

/// SQLite's LIKE ignores the case of ASCII letters only; so does this.
fn highlight(title: &str, query: &str, author: String, minutes: i64) -> Hit {
    let at = title
        .to_ascii_lowercase()
        .find(&query.to_ascii_lowercase())
        .unwrap_or(title.len());
    let end = (at + query.len()).min(title.len());
    Hit {
        before: title[..at].to_owned(),
        matched: title[at..end].to_owned(),
        after: title[end..].to_owned(),
        author,
        minutes,
    }
}
// endregion

// region: spa
#[liveview::handler("load_home")]
async fn load_home(ctx: Ctx) -> Result<Patch> {
    section(&ctx, crate::Section::Home)
}

#[liveview::handler("load_about")]
async fn load_about(ctx: Ctx) -> Result<Patch> {
    section(&ctx, crate::Section::About)
}

#[liveview::handler("load_contact")]
async fn load_contact(ctx: Ctx) -> Result<Patch> {
    section(&ctx, crate::Section::Contact)
}

/// The section (with the tabs, so the current one is marked) in `#content`, its URL pushed on the history (so
/// reload and deep links work: the same URL renders the full page over
/// HTTP) and its title set.
fn section(ctx: &Ctx, section: crate::Section) -> Result<Patch> {
    let html = ctx.render(
        "partials/section.html",
        context! { section => section.name(), section_template => section.template() },
    )?;
    Ok(Patch::html("#content", html)
        .with_url(section.path())
        .with_title(section.title()))
}
// endregion

// region: add_message
/// The name this page last wrote under (its page session's state).
#[derive(Clone, Default, serde::Serialize, Deserialize)]
struct ChatName(String);

/// Registers the per-page state that travels with a page session.
pub(crate) fn session_states(builder: liveview::LiveViewBuilder) -> liveview::LiveViewBuilder {
    builder
        .session_state::<Clicks>("clicks")
        .session_state::<ChatName>("chat_name")
}

#[derive(Deserialize)]
struct ChatForm {
    #[serde(default)]
    author: String,
    #[serde(default)]
    message: String,
}

#[liveview::handler("add_message")]
async fn add_message(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(form): Form<ChatForm>,
) -> Result<Patch> {
    let body = form.message.trim();
    if body.is_empty() {
        return Err(Error::user("Write a message before sending it."));
    }
    let length = body.chars().count();
    if length > MAX_MESSAGE_CHARS {
        return Err(Error::user(format!(
            "This message is {length} characters long; the limit is {MAX_MESSAGE_CHARS}."
        )));
    }
    // The name this page used last, when the field was emptied.
    let remembered = ctx.connection_state::<ChatName>().map(|n| n.0);
    let author = match form.author.trim() {
        "" => remembered.as_deref().unwrap_or("Anonymous"),
        name if name.chars().count() > MAX_NAME_CHARS => {
            return Err(Error::user(format!(
                "Names are limited to {MAX_NAME_CHARS} characters."
            )));
        }
        name => name,
    };
    ctx.set_state(ChatName(author.to_owned()));
    // Stored first: a reload or a late joiner sees it in the history.
    let message = app.db.add_message(author, body).await?;
    // Every open chat page, this one included, appends it (escaped by the template).
    let html = ctx.render("partials/message.html", context! { message })?;
    ctx.group_send(CHAT_GROUP, Patch::append("#messages", html))
        .await?;
    // This page's form is emptied; the name stays.
    let form = ctx.render(
        "partials/chat_form.html",
        context! { author, max_message_chars => MAX_MESSAGE_CHARS },
    )?;
    Ok(Patch::html("#chat-form", form))
}
// endregion

// region: join_chat
#[derive(Deserialize)]
struct Seen {
    /// The id of the last message the page shows.
    #[serde(default)]
    after: i64,
}

/// Sent by the chat page once it is live (`data-liveview-init`): joins the
/// room's group, and sends what was said since the page was rendered. A
/// socket that drops and comes back resumes the page's session, with its
/// groups and the messages it missed; a session that cannot be resumed
/// (the server restarted) has the client fetch the page again and send
/// this again for the fresh session.
#[liveview::handler("join_chat")]
async fn join_chat(ctx: Ctx, State(app): State<AppState>, Data(seen): Data<Seen>) -> Result<Reply> {
    ctx.join(CHAT_GROUP).await?;
    let missed: Vec<Message> = app.db.messages_after(seen.after, 100).await?;
    let mut reply = Reply::none();
    if !missed.is_empty() {
        let html = ctx.render("partials/messages.html", context! { messages => missed })?;
        // Messages are keyed by id: one that also arrives by the group is not doubled.
        reply = reply.and(Patch::append("#messages", html));
    }
    Ok(reply.and(Patch::html(
        "#chat-presence",
        "Live: messages appear here as soon as anyone sends one.",
    )))
}
// endregion

// region: upload_file
/// What the server accepts for `upload_file`: it checks these limits itself
/// (the input's `accept` is only a hint to the browser).
pub fn upload_config() -> UploadConfig {
    UploadConfig::default()
        .max_file_size(MAX_UPLOAD_BYTES)
        .max_files(3)
        .accept(["image/*", "text/*", ".txt", ".md", ".csv", ".json", ".pdf"])
}

/// What the page shows of a received file.
#[derive(Serialize)]
struct Received {
    name: String,
    content_type: String,
    size: String,
    on_disk: bool,
    summary: String,
    /// A `data:` URL to preview images.
    preview: Option<String>,
}

#[liveview::handler("upload_file")]
async fn upload_file(ctx: Ctx, files: Uploads) -> Result<Patch> {
    let mut received = Vec::new();
    for file in files.iter() {
        // Small files are in memory; larger ones in a temporary file that
        // is deleted when `files` is dropped, after this handler.
        let bytes = file.bytes().await?;
        let image = file.content_type().starts_with("image/") && bytes.len() <= MAX_PREVIEW_BYTES;
        received.push(Received {
            name: file.name().to_owned(),
            content_type: file.content_type().to_owned(),
            size: human_size(file.size()),
            on_disk: file.path().is_some(),
            summary: describe(&bytes),
            preview: image
                .then(|| format!("data:{};base64,{}", file.content_type(), base64(&bytes))),
        });
    }
    let html = ctx.render(
        "partials/upload_result.html",
        context! { files => received },
    )?;
    Ok(Patch::html("#result", html))
}
// endregion

/// Largest accepted upload.
pub const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024;
/// Largest image previewed inline.
const MAX_PREVIEW_BYTES: usize = 1024 * 1024;

/// A line about the content: the size of a PNG, the lines of a text.
fn describe(bytes: &[u8]) -> String {
    if let Some(ihdr) = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n")
        && let (Some(w), Some(h)) = (ihdr.get(8..12), ihdr.get(12..16))
    {
        let dim = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        return format!("PNG image, {} × {} pixels", dim(w), dim(h));
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return "JPEG image".to_owned();
    }
    if bytes.starts_with(b"GIF8") {
        return "GIF image".to_owned();
    }
    if bytes.starts_with(b"%PDF-") {
        return "PDF document".to_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let lines = text.lines().count();
            let first: String = text.lines().next().unwrap_or("").chars().take(80).collect();
            format!(
                "text, {lines} line{}: “{first}”",
                if lines == 1 { "" } else { "s" }
            )
        }
        Err(_) => "binary data".to_owned(),
    }
}

/// `512 bytes`, `12.3 KiB`, `4.0 MiB`.
fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// Standard base64 with padding (for `data:` URLs).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The names of every handler above (the build checks they all registered).
pub const NAMES: [&str; 10] = [
    "update_content",
    "validate_form",
    "validate_signup",
    "search",
    "load_home",
    "load_about",
    "load_contact",
    "add_message",
    "join_chat",
    "upload_file",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("ada@example.com").is_ok());
        for bad in [
            "",
            "nobody",
            "a@b",
            "@example.com",
            "a@@b.c",
            "a b@c.d",
            "a@b..c",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signup_reports_each_field() {
        let errors = check_signup(&SignupForm::default()).unwrap_err();
        let fields: Vec<&str> = errors.keys().copied().collect();
        assert_eq!(fields, ["age", "email", "name", "plan", "terms"]);
        let form = SignupForm {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            age: "36".into(),
            plan: Some(Plan::Pro),
            terms: true,
            ..SignupForm::default()
        };
        assert_eq!(check_signup(&form).unwrap().age, 36);
        let old = SignupForm {
            age: "300".into(),
            ..form
        };
        assert!(check_signup(&old).unwrap_err()["age"].contains("between"));
        let typo = SignupForm {
            age: "3x".into(),
            ..old
        };
        assert!(check_signup(&typo).unwrap_err()["age"].contains("whole number"));
    }

    #[test]
    fn base64_and_descriptions() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(describe(b"hello\nworld\n"), "text, 2 lines: “hello”");
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 2, 128, 0, 0, 1, 224]);
        assert_eq!(describe(&png), "PNG image, 640 × 480 pixels");
        assert_eq!(describe(&[0, 159, 146, 150]), "binary data");
        assert_eq!(human_size(25), "25 bytes");
        assert_eq!(human_size(12_595), "12.3 KiB");
        assert_eq!(human_size(5 * 1_048_576), "5.0 MiB");
    }

    #[test]
    fn highlight_keeps_the_title_case() {
        let hit = highlight("Practical Rust Recipes", "rust", String::new(), 3);
        assert_eq!(
            (
                hit.before.as_str(),
                hit.matched.as_str(),
                hit.after.as_str()
            ),
            ("Practical ", "Rust", " Recipes")
        );
        let miss = highlight("Abc", "é", String::new(), 3);
        assert_eq!(miss.before, "Abc");
    }
}
