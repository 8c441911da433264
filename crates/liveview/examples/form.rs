//! Seed case 2, a form validated on the server: submitting sends the
//! form's fields, the handler answers with the message for `#errors`.
//! `cargo run -p liveview --example form`, then open http://127.0.0.1:8000.

use liveview::{Form, LiveView, Patch};

/// The form's fields, by name (`content.get('email')` in Django LiveView).
#[derive(serde::Deserialize)]
struct Email {
    #[serde(default)]
    email: String,
}

async fn validate_form(Form(form): Form<Email>) -> liveview::Result<Patch> {
    let html = if form.email.is_empty() || !form.email.contains('@') {
        r#"<p style="color:red;">Invalid email</p>"#
    } else {
        r#"<p style="color:green;">Valid email</p>"#
    };
    Ok(Patch::html("#errors", html))
}

fn router() -> Result<axum::Router, liveview::BuildError> {
    let lv = LiveView::builder()
        .handler("validate_form", validate_form)
        .templates(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/templates/form"
        ))
        .build()?;
    let templates = lv.templates().clone();
    let page = move || async move { templates.page("page.html", ()) };
    Ok(axum::Router::new()
        .route("/", axum::routing::get(page))
        .merge(lv.router()))
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
    async fn the_server_validates_the_email() -> Result<(), Box<dyn std::error::Error>> {
        let app = TestApp::new(super::router()?).await?;
        let mut page = app.open("/").await?;
        page.fill("#email-input", "nobody").await?;
        page.submit("#email-form").await?;
        assert_eq!(page.text("#errors"), "Invalid email");
        page.fill("#email-input", "ada@example.com").await?;
        page.click("#email-form button").await?;
        assert_eq!(page.text("#errors"), "Valid email");
        Ok(())
    }
}
