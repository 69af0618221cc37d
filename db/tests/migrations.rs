//! Connecting and migrating, on a SQLite file and on a PostgreSQL database, and what the schema refuses.

#[path = "common/postgres.rs"]
mod postgres_server;

use db::predictions::{self, NewPrediction, Source};

async fn fresh_database() -> (tempfile::TempDir, db::Pool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/app.db", dir.path().display());
    let pool = db::connect(&url).await.expect("connect and migrate");
    (dir, pool)
}

/// The tables `listing_sql` finds (one name per row, sorted) are exactly [`db::TABLES`].
async fn assert_the_tables_are_the_schemas(pool: &db::Pool, listing_sql: &str) {
    let tables: Vec<String> = sqlx::query_scalar(listing_sql)
        .fetch_all(pool)
        .await
        .unwrap();
    let mut expected: Vec<String> = db::TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tables, expected);
}

#[tokio::test]
async fn connect_creates_the_file_and_every_table_in_wal_mode() {
    let (dir, pool) = fresh_database().await;
    assert!(
        dir.path().join("nested/app.db").is_file(),
        "database file created with its directory"
    );

    assert_the_tables_are_the_schemas(
        &pool,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .await;

    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
}

#[tokio::test]
async fn reconnecting_keeps_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let row = NewPrediction {
        model_version: "v1",
        predicted_class: "glioma",
        confidence: 0.9,
        latency_ms: 4.2,
        source: Source::Api,
        probabilities: r#"{"glioma":0.9}"#,
        needs_review: false,
        margin: 0.85,
        signals: None,
    };
    {
        let pool = db::connect(&url).await.unwrap();
        predictions::insert(&pool, &row).await.unwrap();
        pool.close().await;
    }
    let pool = db::connect(&url).await.expect("migrations are idempotent");
    assert_eq!(predictions::count(&pool).await.unwrap(), 1);
    let stored = predictions::list_recent(&pool, 10).await.unwrap();
    assert_eq!(stored[0].predicted_class, "glioma");
    assert_eq!(stored[0].source, "api");
    assert!(
        stored[0].predicted_at.ends_with('Z'),
        "UTC RFC 3339: {}",
        stored[0].predicted_at
    );
    chrono::DateTime::parse_from_rfc3339(&stored[0].predicted_at).expect("RFC 3339");
}

#[tokio::test]
async fn the_sqlite_schema_rejects_invalid_rows() {
    let (_dir, pool) = fresh_database().await;
    schema_rejects_invalid_rows(&pool).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these with TEST_POSTGRES_URL set"]
async fn postgres_connect_creates_every_table_and_the_schema_rejects_invalid_rows() {
    let scratch = postgres_server::ScratchDatabase::create().await;
    let pool = db::connect(&scratch.url)
        .await
        .expect("connect and migrate");
    assert_eq!(db::Backend::of(&pool), db::Backend::Postgres);
    assert_the_tables_are_the_schemas(
        &pool,
        "SELECT table_name::TEXT FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' ORDER BY table_name",
    )
    .await;
    schema_rejects_invalid_rows(&pool).await;
    // Usernames are unique regardless of case, as on SQLite.
    let first = db::accounts::insert_user(&pool, "Ana", "hash", "admin")
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        db::accounts::insert_user(&pool, "ana", "hash", "viewer")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db::accounts::find_user(&pool, "ANA")
            .await
            .unwrap()
            .map(|u| u.username),
        Some("Ana".to_owned())
    );
    // Migrating again is a no-op.
    pool.close().await;
    let again = db::connect(&scratch.url)
        .await
        .expect("migrations are idempotent");
    assert_eq!(db::accounts::count_users(&again).await.unwrap(), 1);
}

async fn schema_rejects_invalid_rows(pool: &db::Pool) {
    let bad_confidence = NewPrediction {
        model_version: "v1",
        predicted_class: "glioma",
        confidence: 1.5,
        latency_ms: 1.0,
        source: Source::Ui,
        probabilities: "{}",
        needs_review: false,
        margin: 0.5,
        signals: None,
    };
    assert!(predictions::insert(pool, &bad_confidence).await.is_err());

    let unknown_class = sqlx::query(
        "INSERT INTO uploaded_images
             (filename, class_name, stored_path, size_bytes, sha256, width, height, uploaded_at)
         VALUES ('a.jpg', 'banana', 'x', 10, $1, 1, 1, '2026-11-27T10:00:00.000Z')",
    )
    .bind("0".repeat(64))
    .execute(pool)
    .await;
    assert!(
        unknown_class.is_err(),
        "class_name is constrained to the four classes"
    );

    let two_active = sqlx::query(
        "INSERT INTO model_versions (version, path, status, created_at)
         VALUES ('a', 'models/a', 'active', 'now'), ('b', 'models/b', 'active', 'now')",
    )
    .execute(pool)
    .await;
    assert!(two_active.is_err(), "only one model version may be active");
}

#[tokio::test]
async fn invalid_url_is_a_clear_error() {
    let err = db::connect("mysql://root:secret@db/app").await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("invalid database URL"), "{message}");
    assert!(
        message.contains("postgres://"),
        "names what is accepted: {message}"
    );
    assert!(
        !message.contains("secret"),
        "never echoes a password: {message}"
    );
}
