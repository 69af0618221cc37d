//! A throw-away database on the PostgreSQL server the test script starts (`TEST_POSTGRES_URL`, an
//! account allowed to create databases). Each test gets its own database, so tests run in parallel
//! and leave nothing behind that matters: the script deletes the whole server directory at the end.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

/// Why the PostgreSQL tests are ignored by a plain `cargo test`.
pub const NEEDS_POSTGRES: &str =
    "needs PostgreSQL: scripts/test.sh starts one and runs these with TEST_POSTGRES_URL set";

pub struct ScratchDatabase {
    /// `postgres://...` of the new, empty database.
    pub url: String,
}

impl ScratchDatabase {
    pub async fn create() -> ScratchDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var("TEST_POSTGRES_URL").expect(NEEDS_POSTGRES);
        let name = format!(
            "brainscan_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at TEST_POSTGRES_URL: {e}"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let (server, _) = admin_url
            .rsplit_once('/')
            .expect("TEST_POSTGRES_URL ends with /<database>");
        ScratchDatabase {
            url: format!("{server}/{name}"),
        }
    }
}
