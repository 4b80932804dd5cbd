//! How fast `wecom-sim load` can drive a bot: a trivial axum endpoint that answers every
//! callback with an empty 200, and the load generator against it with full encryption and
//! signing — the load generator's own ceiling on this machine.
//!
//! ```text
//! cargo run --release -p wecom-sdk-sim --example load_bare -- [SECONDS] [CUSTOMERS]
//! ```

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use wecom_sdk_sim::load::{self, LoadConfig, Stop};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let customers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let app = Router::new().route("/wecom/callback", post(|| async { "" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/wecom/callback", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = LoadConfig::new(
        &url,
        "QDG6eK",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        "wx5823bf96d3bd56c7",
    )
    .customers(customers)
    .stop(Stop::Duration(Duration::from_secs(seconds)))
    .expect_reply(false);
    let report = load::run(&config, None).await?;
    println!("bare axum endpoint, empty 200:\n{report}");
    Ok(())
}
