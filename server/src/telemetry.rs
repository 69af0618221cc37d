use tracing_subscriber::EnvFilter;

/// Logs to stderr; `RUST_LOG` overrides the default of `info` for our crates.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
