//! Wiring: configuration, state, the HTTP router and the server loop. `main.rs` stays thin so tests
//! build the same router with [`build_app`].

pub mod cli;
pub mod config;
pub mod http;
pub mod telemetry;

use anyhow::Context;
use app::ssr::AppState;
use axum::Router;
use leptos::prelude::LeptosOptions;

pub use config::ServeConfig;

/// Opens the database (running migrations), marks jobs a previous run left unfinished as failed,
/// removes half-written model versions, loads the serving model and assembles the shared state.
pub async fn build_state(config: &ServeConfig) -> anyhow::Result<AppState> {
    let pool = db::connect(&config.database_url())
        .await
        .with_context(|| format!("opening the database at {}", config.database_url()))?;
    let interrupted = db::training_sessions::fail_interrupted(&pool).await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "marked retraining sessions interrupted by a restart as failed"
        );
    }
    let store = config.model_store();
    let partial = ml::finetune::remove_partial_versions(&store)
        .with_context(|| format!("cleaning the model store {}", store.display()))?;
    if partial > 0 {
        tracing::warn!(
            partial,
            "removed model versions a previous run left half-written"
        );
    }
    let state = AppState::new(leptos_options(config)?, pool, config.service())
        .context("starting the inference thread")?;
    match app::ssr::models::load_serving(&state).await {
        Ok(version) => tracing::info!(%version, "model loaded"),
        // The site, uploads and history stay useful without a model; /health reports it.
        Err(error) => tracing::error!(%error, "no model loaded; predictions are unavailable"),
    }
    Ok(state)
}

/// The complete application: REST routes, server functions, SSR pages and static assets.
pub fn build_app(state: AppState) -> Router {
    http::router(state)
}

/// Runs the server until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let addr = config.socket_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, database = %config.database_url(), "serving on http://{addr}");
    axum::serve(listener, build_app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server failed")
}

/// Leptos's own settings (output name, pkg dir) come from the variables cargo-leptos sets or bakes in
/// at build time; where the site lives and which address we serve on come from our configuration.
fn leptos_options(config: &ServeConfig) -> anyhow::Result<LeptosOptions> {
    let mut options = leptos::config::get_configuration(None)
        .context("reading the Leptos configuration")?
        .leptos_options;
    options.site_addr = config.socket_addr();
    options.site_root = config.site_root.as_str().into();
    Ok(options)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
