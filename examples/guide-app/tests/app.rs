use liveview_test::TestApp;

#[tokio::test]
async fn search_finds_rust() -> Result<(), Box<dyn std::error::Error>> {
    let app = TestApp::new(guide_app::router()?).await?;
    let mut page = app.open("/").await?;
    assert_eq!(page.count("#results li"), 5);
    page.fill("#search-input", "ru").await?;
    assert_eq!(page.text("#results"), "RustRuby");
    page.fill("#search-input", "cobol").await?;
    assert_eq!(page.text("#results"), "No language matches");
    Ok(())
}

#[tokio::test]
async fn a_shout_reaches_every_page() -> Result<(), Box<dyn std::error::Error>> {
    let app = TestApp::new(guide_app::router()?).await?;
    let mut alice = app.open("/").await?;
    let mut bob = app.open("/").await?;
    alice.fill("#shout-input", "Hello <everyone>").await?;
    alice.submit("#shout-form").await?;
    bob.next_push().await?;
    assert_eq!(bob.html("#shouts"), "<li>Hello &lt;everyone&gt;</li>");
    assert_eq!(alice.text("#shouts"), "Hello <everyone>");
    Ok(())
}
