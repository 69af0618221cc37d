//! SQLite persistence for the platform: one connection pool, embedded migrations, and one module per
//! table. Nothing here knows about HTTP or the UI.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub mod accounts;
pub mod audit;
pub mod model_versions;
pub mod predictions;
pub mod preprocessing_logs;
pub mod training_sessions;
pub mod uploads;

pub use sqlx::SqlitePool;

/// The tables the schema defines, in creation order.
pub const TABLES: [&str; 9] = [
    "model_versions",
    "training_sessions",
    "uploaded_images",
    "preprocessing_logs",
    "predictions",
    "users",
    "user_sessions",
    "api_tokens",
    "audit_events",
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database allows one queued or running retraining job; this one is.
    #[error("retraining session {session_id} has not finished")]
    JobUnfinished { session_id: i64 },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

pub type DbResult<T> = Result<T, DbError>;

/// Opens (creating if needed) the SQLite database at `url`, in WAL mode so readers never wait for the
/// writer, and applies every pending migration.
pub async fn connect(url: &str) -> DbResult<SqlitePool> {
    // sqlx would take any other scheme as part of a file name and create that file.
    if !url.starts_with("sqlite:") {
        return Err(DbError::InvalidUrl {
            url: url.to_owned(),
            reason: "expected a sqlite: URL such as sqlite://data/app.db".to_owned(),
        });
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| DbError::InvalidUrl {
            url: url.to_owned(),
            reason: source.to_string(),
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable in WAL mode except for the last transactions on power loss.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));

    let file = options.get_filename();
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if file != Path::new(":memory:") {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }

    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the migrations embedded from `db/migrations` at compile time.
pub async fn migrate(pool: &SqlitePool) -> DbResult<()> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}

/// The current time as stored in every timestamp column.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
