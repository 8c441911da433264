#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    eprintln!("open http://127.0.0.1:3000");
    liveview::serve(listener, guide_app::router()?).await?;
    Ok(())
}
