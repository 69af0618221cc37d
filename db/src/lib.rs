//! Persistence for the platform: one connection pool over SQLite (the embedded default) or
//! PostgreSQL (several replicas and workers sharing one database), migrations embedded for each, and
//! one module per table. The queries are written once, in SQL both engines accept; the few that must
//! differ ask [`Backend::of`]. Nothing here knows about HTTP or the UI.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Executor;

pub mod accounts;
pub mod audit;
pub mod feedback;
pub mod model_versions;
pub mod predictions;
pub mod preprocessing_logs;
pub mod series_results;
pub mod traffic;
pub mod training_sessions;
pub mod uploads;

/// A pool of connections to whichever database `DATABASE_URL` names.
pub type Pool = sqlx::AnyPool;

/// The database engine behind a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine a `DATABASE_URL` names, if it is one this build supports.
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    pub fn of(pool: &Pool) -> Backend {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// The tables the schema defines, in creation order.
pub const TABLES: [&str; 14] = [
    "model_versions",
    "training_sessions",
    "uploaded_images",
    "preprocessing_logs",
    "predictions",
    "users",
    "user_sessions",
    "api_tokens",
    "audit_events",
    "login_failures",
    "traffic_minutes",
    "prediction_feedback",
    "series_uid_key",
    "series_results",
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

/// Opens the database at `url` and applies every pending migration: `sqlite://path` (created if
/// missing, in WAL mode so readers never wait for the writer) or `postgres://user:pass@host/db`.
pub async fn connect(url: &str) -> DbResult<Pool> {
    let invalid = |reason: String| DbError::InvalidUrl {
        url: redact_password(url),
        reason,
    };
    // sqlx would take any other scheme as part of a file name and create that file.
    let backend = Backend::from_url(url).ok_or_else(|| {
        invalid(
            "expected sqlite://path/to/file.db or postgres://user:password@host:port/database"
                .to_owned(),
        )
    })?;
    sqlx::any::install_default_drivers();
    let mut options = AnyConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
    let pool_options = AnyPoolOptions::new().max_connections(8);
    let pool = match backend {
        Backend::Sqlite => {
            let sqlite = SqliteConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
            let file = sqlite.get_filename();
            if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                if file != Path::new(":memory:") {
                    std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
            }
            // The Any driver takes only the URL, so the file is created through it (mode=rwc) and
            // the settings that SqliteConnectOptions would apply are pragmas on each new connection.
            if !url.contains("mode=") {
                let separator = if url.contains('?') { '&' } else { '?' };
                options = AnyConnectOptions::from_str(&format!("{url}{separator}mode=rwc"))
                    .map_err(|e| invalid(e.to_string()))?;
            }
            pool_options
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        // NORMAL is durable in WAL mode except for the last transactions on power
                        // loss.
                        connection
                            .execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                            )
                            .await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?
        }
        Backend::Postgres => pool_options.connect_with(options).await?,
    };
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the migrations embedded at compile time from `db/migrations/<backend>`.
pub async fn migrate(pool: &Pool) -> DbResult<()> {
    match Backend::of(pool) {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(pool).await?,
    }
    Ok(())
}

/// `url` with its password, if any, replaced, for messages and logs.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// `COUNT` of the rows where `condition` holds: one spelling for both engines (SQLite can sum a
/// comparison, PostgreSQL cannot, and its SUM of BIGINT is NUMERIC, which the pool cannot decode).
pub(crate) fn count_where(condition: &str) -> String {
    format!("COUNT(CASE WHEN {condition} THEN 1 END)")
}

/// The current time as stored in every timestamp column.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_engine_and_passwords_never_show() {
        assert_eq!(
            Backend::from_url("sqlite://data/app.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://u:p@db:5432/app"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://db/app"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://db/app"), None);
        assert_eq!(Backend::from_url("data/app.db"), None);
        assert_eq!(
            redact_password("postgres://brainscan:s3cret@db:5432/app"),
            "postgres://brainscan:***@db:5432/app"
        );
        assert_eq!(
            redact_password("postgres://brainscan@db/app"),
            "postgres://brainscan@db/app"
        );
        assert_eq!(
            redact_password("sqlite://data/app.db"),
            "sqlite://data/app.db"
        );
    }
}
