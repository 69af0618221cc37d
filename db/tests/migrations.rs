use db::predictions::{self, NewPrediction, Source};

async fn fresh_database() -> (tempfile::TempDir, db::SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/nested/app.db", dir.path().display());
    let pool = db::connect(&url).await.expect("connect and migrate");
    (dir, pool)
}

#[tokio::test]
async fn connect_creates_the_file_and_every_table_in_wal_mode() {
    let (dir, pool) = fresh_database().await;
    assert!(
        dir.path().join("nested/app.db").is_file(),
        "database file created with its directory"
    );

    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut expected: Vec<String> = db::TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tables, expected);

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
async fn schema_rejects_invalid_rows() {
    let (_dir, pool) = fresh_database().await;
    let bad_confidence = NewPrediction {
        model_version: "v1",
        predicted_class: "glioma",
        confidence: 1.5,
        latency_ms: 1.0,
        source: Source::Ui,
    };
    assert!(predictions::insert(&pool, &bad_confidence).await.is_err());

    let unknown_class = sqlx::query(
        "INSERT INTO uploaded_images (filename, class_name, stored_path, size_bytes, sha256, width, height)
         VALUES ('a.jpg', 'banana', 'x', 10, ?, 1, 1)",
    )
    .bind("0".repeat(64))
    .execute(&pool)
    .await;
    assert!(
        unknown_class.is_err(),
        "class_name is constrained to the four classes"
    );

    let two_active = sqlx::query(
        "INSERT INTO model_versions (version, path, status) VALUES ('a', 'models/a', 'active'), ('b', 'models/b', 'active')",
    )
    .execute(&pool)
    .await;
    assert!(two_active.is_err(), "only one model version may be active");
}

#[tokio::test]
async fn invalid_url_is_a_clear_error() {
    let err = db::connect("postgres://nope").await.unwrap_err();
    assert!(err.to_string().contains("invalid database URL"), "{err}");
}
