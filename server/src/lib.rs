//! Wiring: configuration, state, the HTTP router and the server loop. `main.rs` stays thin so tests
//! build the same router with [`build_app`].

pub mod cli;
pub mod config;
pub mod http;
pub mod telemetry;

use std::time::Duration;

use anyhow::Context;
use app::ssr::AppState;
use axum::extract::ConnectInfo;
use axum::Router;
use leptos::prelude::LeptosOptions;

pub use config::{ServeConfig, StateConfig, WorkerConfig};

/// Opens the database (running migrations), marks jobs a previous run left unfinished as failed,
/// removes half-written model versions, loads the serving model and assembles the shared state.
pub async fn build_state(config: &ServeConfig) -> anyhow::Result<AppState> {
    let shared = &config.state;
    // A backend this build lacks would otherwise surface only when the first job fails.
    shared.training_backend.device().with_context(|| {
        format!(
            "--backend {} (TRAINING_BACKEND) cannot run retraining here",
            shared.training_backend
        )
    })?;
    let pool = db::connect(&shared.database_url()).await.with_context(|| {
        format!(
            "opening the database at {}",
            db::redact_password(&shared.database_url())
        )
    })?;
    let storage = shared.storage().with_context(|| {
        format!(
            "opening the storage for uploads and model versions ({})",
            shared.storage_url.as_deref().unwrap_or("local folders")
        )
    })?;
    // Staging folders are this process's own (CACHE_DIR): whatever is there was never published.
    storage
        .models
        .remove_stale_staging()
        .context("cleaning the staging folder")?;
    // On SQLite with the embedded worker this process is the only one running jobs, so whatever is
    // unfinished or half-written was left by its previous run. Otherwise (no worker here, or a
    // PostgreSQL database that other replicas and workers share) a worker elsewhere may be running
    // one: its heartbeat, not this start-up, decides whether it is alive.
    let owns_every_job = !config.no_worker && db::Backend::of(&pool) == db::Backend::Sqlite;
    if owns_every_job {
        let interrupted = db::training_sessions::fail_interrupted(&pool).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "marked retraining sessions interrupted by a restart as failed"
            );
        }
        if let Some(store) = storage.models.local_root() {
            let partial = ml::finetune::remove_partial_versions(store)
                .with_context(|| format!("cleaning the model store {}", store.display()))?;
            if partial > 0 {
                tracing::warn!(
                    partial,
                    "removed model versions a previous run left half-written"
                );
            }
        }
    }
    if let Some(password) = &shared.admin_password {
        let created = app::ssr::auth::bootstrap_admin(&pool, &shared.admin_username, password)
            .await
            .context("creating the first admin from ADMIN_PASSWORD")?;
        if created {
            tracing::warn!(user = %shared.admin_username, "created the first admin from ADMIN_PASSWORD");
        }
    }
    if db::accounts::count_admins(&pool).await? == 0 {
        tracing::warn!(
            "no admin account exists: nobody can upload, retrain or manage users until one is \
             created with `brainscan user add <name> --role admin` or ADMIN_PASSWORD"
        );
    }
    let dicomweb = config
        .pacs
        .client()
        .map_err(|reason| anyhow::anyhow!("DICOMWEB_URL: {reason}"))?;
    if let Some(client) = &dicomweb {
        tracing::info!(root = client.root(), "PACS over DICOMweb");
    }
    let state = AppState::new(
        leptos_options(config)?,
        pool,
        config.service(storage, dicomweb),
    )
    .context("starting the inference thread")?;
    match app::ssr::models::load_serving(&state).await {
        Ok(version) => tracing::info!(%version, "model loaded"),
        // The site, uploads and history stay useful without a model; /health reports it.
        Err(error) => tracing::error!(%error, "no model loaded; predictions are unavailable"),
    }
    if !config.no_worker {
        // The embedded worker: jobs queued in this database run in this process.
        app::ssr::retrain::spawn_worker(state.clone());
    }
    app::ssr::models::spawn_rollout(state.clone());
    app::ssr::auth::spawn_refusal_flush(state.clone());
    app::ssr::traffic::spawn_flush(state.traffic.clone(), state.db.clone());
    app::ssr::feedback::spawn_retention(state.clone());
    app::ssr::drift::spawn_refresh(state.clone());
    Ok(state)
}

/// The complete application: REST routes, server functions, SSR pages and static assets.
pub fn build_app(state: AppState) -> Router {
    http::router(state)
}

/// `brainscan worker`: runs retraining jobs queued in the shared database until Ctrl-C or SIGTERM,
/// serving nothing over HTTP. It fails stale jobs by their heartbeat, never at start-up, since
/// another worker may be running one.
pub async fn work(config: WorkerConfig) -> anyhow::Result<()> {
    let mut config = config.into_serve_config();
    config.no_worker = true;
    let state = build_state(&config).await?;
    tracing::info!(database = %db::redact_password(&config.state.database_url()), "retraining worker started");
    app::ssr::retrain::spawn_worker(state);
    shutdown_signal().await;
    Ok(())
}

/// Runs the server until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let addr = config.socket_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, database = %db::redact_password(&config.state.database_url()), "serving on http://{addr}");
    serve_on(
        listener,
        build_app(state),
        Duration::from_secs(config.header_timeout_secs),
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// How long in-flight requests may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves HTTP/1.1 connections until `shutdown` resolves, then lets open requests finish. Each
/// connection must send a request's headers within `header_timeout` (also the longest it may sit
/// idle between requests); requests see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running after the grace period were cut off");
        }
    }
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
