//! The load run's yardstick: an axum endpoint that answers every callback with an empty
//! 200 and does nothing else, on `127.0.0.1:<port>` (first argument, default 8081).

use axum::Router;
use axum::routing::any;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8081);
    let app = Router::new().route("/wecom/callback", any(|| async { "" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare endpoint on http://127.0.0.1:{port}/wecom/callback");
    axum::serve(listener, app).await?;
    Ok(())
}
