//! The retraining tables through a real database, each test once on a SQLite file and once on a
//! PostgreSQL database: uploads, sessions and model versions behave the same on both.

#[path = "common/postgres.rs"]
mod postgres_server;

use db::model_versions::{self, NewModelVersion};
use db::training_sessions::{self, Finished, Scores, SessionStatus};
use db::uploads::{self, InsertOutcome, NewUpload};

async fn sqlite_database() -> (tempfile::TempDir, db::Pool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let pool = db::connect(&url).await.expect("connect and migrate");
    (dir, pool)
}

async fn postgres_database() -> db::Pool {
    let scratch = postgres_server::ScratchDatabase::create().await;
    db::connect(&scratch.url)
        .await
        .expect("connect and migrate")
}

/// Runs each named test, an `async fn(db::Pool)`, as `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_each_backend {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let (_dir, pool) = super::sqlite_database().await;
                    super::$test(pool).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these with TEST_POSTGRES_URL set"]
                async fn $test() {
                    super::$test(super::postgres_database().await).await;
                }
            )+
        }
    };
}

on_each_backend!(
    uploads_are_stored_once_per_content_hash_and_consumed_by_a_session,
    unknown_classes_and_bad_hashes_are_refused_by_the_schema,
    sessions_move_through_their_states_and_restarts_fail_unfinished_ones,
    exactly_one_version_is_active_and_unknown_versions_are_not_activated,
    reference_uploads_are_never_pending_for_training,
    held_uploads_wait_for_one_decision_and_only_kept_ones_become_pending,
    the_database_allows_one_unfinished_job_and_fails_one_whose_worker_fell_silent,
    refusals_are_counted_into_one_row_per_client_action_and_minute,
    failed_logins_are_counted_per_account_until_one_succeeds,
    a_queued_job_cancels_at_once_a_running_one_is_flagged_and_an_ended_one_is_left,
    traffic_minutes_add_up_per_minute_and_instance,
    feedback_is_once_per_reviewer_and_the_queue_puts_hesitant_answers_first,
    drift_reads_one_versions_newest_measured_predictions,
    series_results_are_found_from_their_study_and_keep_no_uid,
);

fn upload<'a>(sha256: &'a str, class_name: &'a str) -> NewUpload<'a> {
    NewUpload {
        filename: "scan.jpg",
        class_name,
        stored_path: "uploads/ab/abcd.jpg",
        size_bytes: 1234,
        sha256,
        width: 512,
        height: 512,
        metadata: "{}",
        purpose: db::uploads::Purpose::Training,
        uploaded_by: Some("ana"),
        review: uploads::Review::None,
        review_detail: None,
        prediction_id: None,
    }
}

async fn uploads_are_stored_once_per_content_hash_and_consumed_by_a_session(pool: db::Pool) {
    let first_hash = "a".repeat(64);
    let second_hash = "b".repeat(64);
    let InsertOutcome::Stored(first) = uploads::insert(&pool, &upload(&first_hash, "glioma"))
        .await
        .unwrap()
    else {
        panic!("first upload must be stored");
    };
    assert_eq!(
        uploads::insert(&pool, &upload(&first_hash, "glioma"))
            .await
            .unwrap(),
        InsertOutcome::Duplicate(first)
    );
    uploads::insert(&pool, &upload(&second_hash, "pituitary"))
        .await
        .unwrap();

    let stats = uploads::stats(&pool).await.unwrap();
    assert_eq!((stats.total, stats.pending, stats.processed), (2, 2, 0));
    assert_eq!(stats.by_class.get("glioma"), Some(&1));
    assert_eq!(stats.by_class.get("pituitary"), Some(&1));

    let session = training_sessions::create(&pool, 3, 1, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    let pending = uploads::pending(&pool, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    let ids: Vec<i64> = pending.iter().map(|image| image.id).collect();
    let mut connection = pool.acquire().await.unwrap();
    uploads::mark_used(&mut connection, &ids, session)
        .await
        .unwrap();
    drop(connection);
    assert!(uploads::pending(&pool, db::uploads::TrainingSources::Both)
        .await
        .unwrap()
        .is_empty());
    let stats = uploads::stats(&pool).await.unwrap();
    assert_eq!((stats.pending, stats.processed), (0, 2));
}

async fn unknown_classes_and_bad_hashes_are_refused_by_the_schema(pool: db::Pool) {
    let hash = "c".repeat(64);
    assert!(uploads::insert(&pool, &upload(&hash, "banana"))
        .await
        .is_err());
    assert!(uploads::insert(&pool, &upload("short", "glioma"))
        .await
        .is_err());
    assert_eq!(uploads::stats(&pool).await.unwrap().total, 0);
}

async fn sessions_move_through_their_states_and_restarts_fail_unfinished_ones(pool: db::Pool) {
    let finished = training_sessions::create(&pool, 3, 1, db::uploads::TrainingSources::Feedback)
        .await
        .unwrap();
    assert_eq!(
        training_sessions::claim_next(&pool, "worker-a")
            .await
            .unwrap(),
        Some(finished)
    );
    model_versions::insert_candidate(
        &pool,
        &NewModelVersion {
            version: "v2",
            path: "models/versions/v2",
            metrics_json: "{}",
            parent_version: None,
        },
    )
    .await
    .unwrap();
    let scores = Scores {
        accuracy: 0.9,
        precision: 0.9,
        recall: 0.9,
        f1: 0.9,
    };
    training_sessions::finish(
        &pool,
        finished,
        &Finished {
            status: SessionStatus::Completed,
            images_used: 12,
            feedback_images: 5,
            before: scores,
            after: Scores {
                accuracy: 0.95,
                ..scores
            },
            history_json: "[]",
            model_version: "v2",
            message: "activated",
            outcome_json: r#"{"kind":"activated"}"#,
        },
    )
    .await
    .unwrap();
    let interrupted = training_sessions::create(&pool, 2, 0, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    assert_eq!(
        training_sessions::claim_next(&pool, "worker-a")
            .await
            .unwrap(),
        Some(interrupted)
    );

    assert_eq!(training_sessions::fail_interrupted(&pool).await.unwrap(), 1);
    let row = training_sessions::find(&pool, interrupted)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Failed);
    assert!(row.error.unwrap().contains("interrupted"));
    let row = training_sessions::find(&pool, finished)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Completed);
    assert_eq!(row.scores.accuracy_after, Some(0.95));
    assert_eq!(
        (row.sources, row.feedback_images),
        (db::uploads::TrainingSources::Feedback, 5)
    );
    assert_eq!(training_sessions::counts(&pool).await.unwrap(), (2, 1));
    let recent = training_sessions::recent(&pool, 1).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].id, interrupted);
}

async fn exactly_one_version_is_active_and_unknown_versions_are_not_activated(pool: db::Pool) {
    let shipped = NewModelVersion {
        version: "v1",
        path: "models",
        metrics_json: r#"{"accuracy":0.94}"#,
        parent_version: None,
    };
    model_versions::insert_candidate(&pool, &shipped)
        .await
        .unwrap();
    assert!(
        model_versions::active(&pool).await.unwrap().is_none(),
        "candidates do not serve"
    );
    assert!(model_versions::activate(&pool, "v1").await.unwrap());
    let active = model_versions::active(&pool).await.unwrap().unwrap();
    assert_eq!(
        (active.version.as_str(), active.status.as_str()),
        ("v1", "active")
    );
    assert!(active.activated_at.is_some());
    // Versions are unique.
    assert!(model_versions::insert_candidate(&pool, &shipped)
        .await
        .is_err());
    model_versions::insert_candidate(
        &pool,
        &NewModelVersion {
            version: "v2",
            path: "data/models/v2",
            metrics_json: "{}",
            parent_version: Some("v1"),
        },
    )
    .await
    .unwrap();
    assert!(model_versions::activate(&pool, "v2").await.unwrap());
    assert!(!model_versions::activate(&pool, "v404").await.unwrap());
    let versions = model_versions::list(&pool).await.unwrap();
    let statuses: Vec<(&str, &str)> = versions
        .iter()
        .map(|v| (v.version.as_str(), v.status.as_str()))
        .collect();
    assert_eq!(statuses, [("v2", "active"), ("v1", "archived")]);
    assert_eq!(
        model_versions::active(&pool)
            .await
            .unwrap()
            .unwrap()
            .version,
        "v2"
    );
}

async fn reference_uploads_are_never_pending_for_training(pool: db::Pool) {
    let training_hash = "c".repeat(64);
    let reference_hash = "d".repeat(64);
    uploads::insert(&pool, &upload(&training_hash, "glioma"))
        .await
        .unwrap();
    let reference = NewUpload {
        purpose: db::uploads::Purpose::Reference,
        ..upload(&reference_hash, "pituitary")
    };
    uploads::insert(&pool, &reference).await.unwrap();
    let pending = uploads::pending(&pool, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].sha256, training_hash);
    assert_eq!(
        uploads::count_pending(&pool, db::uploads::TrainingSources::Both)
            .await
            .unwrap(),
        1
    );
    let references = uploads::reference(&pool).await.unwrap();
    assert_eq!(references.len(), 1);
    assert_eq!(references[0].class_name, "pituitary");
    let stats = uploads::stats(&pool).await.unwrap();
    assert_eq!((stats.total, stats.pending, stats.reference), (2, 1, 1));
}

async fn held_uploads_wait_for_one_decision_and_only_kept_ones_become_pending(pool: db::Pool) {
    let hashes: Vec<String> = ["e", "f", "0"].iter().map(|c| c.repeat(64)).collect();
    let detail = r#"{"predicted_class":"glioma"}"#;
    let mut ids = Vec::new();
    for hash in &hashes {
        let held = NewUpload {
            review: uploads::Review::Held,
            review_detail: Some(detail),
            ..upload(hash, "pituitary")
        };
        let InsertOutcome::Stored(id) = uploads::insert(&pool, &held).await.unwrap() else {
            panic!("stored");
        };
        ids.push(id);
    }
    assert_eq!(
        uploads::count_pending(&pool, db::uploads::TrainingSources::Both)
            .await
            .unwrap(),
        0
    );
    let (listed, total) = uploads::held(&pool, 2).await.unwrap();
    assert_eq!((listed.len(), total), (2, 3));
    assert_eq!(listed[0].review_detail.as_deref(), Some(detail));
    assert_eq!(uploads::stats(&pool).await.unwrap().held, 3);

    let decided = |id, review, class| {
        let pool = pool.clone();
        async move {
            uploads::decide(&pool, id, review, class, "{}")
                .await
                .unwrap()
        }
    };
    assert!(decided(ids[0], uploads::Review::Confirmed, "pituitary").await);
    assert!(decided(ids[1], uploads::Review::Relabelled, "glioma").await);
    assert!(decided(ids[2], uploads::Review::Discarded, "pituitary").await);
    assert!(
        !decided(ids[0], uploads::Review::Discarded, "pituitary").await,
        "a decided upload cannot be decided again"
    );
    assert!(uploads::held_one(&pool, ids[0]).await.unwrap().is_none());

    let pending = uploads::pending(&pool, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    let kept: Vec<(i64, &str)> = pending
        .iter()
        .map(|image| (image.id, image.class_name.as_str()))
        .collect();
    assert_eq!(kept, vec![(ids[0], "pituitary"), (ids[1], "glioma")]);
    let stats = uploads::stats(&pool).await.unwrap();
    assert_eq!((stats.held, stats.pending, stats.total), (0, 2, 3));
}

async fn the_database_allows_one_unfinished_job_and_fails_one_whose_worker_fell_silent(
    pool: db::Pool,
) {
    let first = training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    // A second trigger, from this process or any other, is refused and told which job runs.
    match training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both).await {
        Err(db::DbError::JobUnfinished { session_id }) => assert_eq!(session_id, first),
        other => panic!("expected JobUnfinished, got {other:?}"),
    }
    // One worker claims it; there is nothing left for a second.
    assert_eq!(
        training_sessions::claim_next(&pool, "worker-a")
            .await
            .unwrap(),
        Some(first)
    );
    assert_eq!(
        training_sessions::claim_next(&pool, "worker-b")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both).await,
        Err(db::DbError::JobUnfinished { .. })
    ));
    training_sessions::heartbeat(&pool, first, r#"{"phase":"training"}"#)
        .await
        .unwrap();
    let row = training_sessions::find(&pool, first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.progress.as_deref(), Some(r#"{"phase":"training"}"#));
    // A heartbeat newer than the cut-off keeps it running; once the worker is silent past it, the
    // job is failed with that reason and a new one may be queued.
    assert_eq!(
        training_sessions::fail_silent(&pool, "2000-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        training_sessions::fail_silent(&pool, "2999-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        1
    );
    let row = training_sessions::find(&pool, first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Failed);
    assert!(row.error.unwrap().contains("heartbeats"));
    assert_eq!(row.progress, None);
    let second = training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    assert!(second > first);
}

async fn refusals_are_counted_into_one_row_per_client_action_and_minute(pool: db::Pool) {
    use db::audit::{AuditOutcome, NewAuditEvent};
    let long = "x".repeat(5000);
    let refusal = |client: &'static str| NewAuditEvent {
        actor: "anonymous",
        action: "POST /retrain/trigger",
        target: None,
        outcome: AuditOutcome::Refused,
        client: Some(client),
        detail: Some(&long),
    };
    for count in [1, 4] {
        let event = refusal("10.0.0.1");
        let key = db::audit::refusal_key(&event);
        db::audit::record_refusals(&pool, &event, &key, count)
            .await
            .unwrap();
    }
    let event = refusal("10.0.0.2");
    let key = db::audit::refusal_key(&event);
    db::audit::record_refusals(&pool, &event, &key, 1)
        .await
        .unwrap();
    for _ in 0..2 {
        db::audit::record(
            &pool,
            &NewAuditEvent {
                outcome: AuditOutcome::Ok,
                ..refusal("10.0.0.1")
            },
        )
        .await
        .unwrap();
    }
    let events = db::audit::page(&pool, 100, None).await.unwrap();
    let counts: Vec<i64> = events.iter().map(|e| e.count).collect();
    // Counted rows for refusals (unless the minute turned meanwhile), one row per ordinary event.
    assert!(
        events.len() <= 6 && counts.iter().sum::<i64>() == 8,
        "{counts:?}"
    );
    assert!(events
        .iter()
        .all(|e| e.detail.as_deref().unwrap().chars().count() <= 200));
    let older = db::audit::page(&pool, 2, Some(events[1].id)).await.unwrap();
    assert!(older.iter().all(|e| e.id < events[1].id));
    assert!(db::audit::page(&pool, 100_000, None).await.unwrap().len() <= 500);
}

async fn failed_logins_are_counted_per_account_until_one_succeeds(pool: db::Pool) {
    use db::accounts;
    assert_eq!(
        accounts::login_locked_until(&pool, "ana").await.unwrap(),
        None
    );
    for expected in 1..=3 {
        assert_eq!(
            accounts::add_login_failure(&pool, "ana").await.unwrap(),
            expected
        );
    }
    assert_eq!(accounts::add_login_failure(&pool, "bob").await.unwrap(), 1);
    accounts::lock_login(&pool, "ana", "2999-01-01T00:00:00.000Z")
        .await
        .unwrap();
    assert_eq!(
        accounts::login_locked_until(&pool, "ana")
            .await
            .unwrap()
            .as_deref(),
        Some("2999-01-01T00:00:00.000Z")
    );
    accounts::clear_login_failures(&pool, "ana").await.unwrap();
    assert_eq!(
        accounts::login_locked_until(&pool, "ana").await.unwrap(),
        None
    );
    assert_eq!(accounts::add_login_failure(&pool, "ana").await.unwrap(), 1);
}

async fn a_queued_job_cancels_at_once_a_running_one_is_flagged_and_an_ended_one_is_left(
    pool: db::Pool,
) {
    use training_sessions::CancelRequest;
    let queued = training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    assert_eq!(
        training_sessions::request_cancel(
            &pool,
            queued,
            "root",
            "cancelled",
            r#"{"kind":"cancelled"}"#
        )
        .await
        .unwrap(),
        CancelRequest::EndedQueued
    );
    let row = training_sessions::find(&pool, queued)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Failed);
    assert_eq!(row.outcome.as_deref(), Some(r#"{"kind":"cancelled"}"#));
    assert_eq!(row.cancel_requested_by.as_deref(), Some("root"));
    // Ended: a second request changes nothing, and a new job may be queued.
    assert_eq!(
        training_sessions::request_cancel(&pool, queued, "root", "cancelled", "{}")
            .await
            .unwrap(),
        CancelRequest::NotUnfinished
    );

    let running = training_sessions::create(&pool, 1, 0, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    training_sessions::claim_next(&pool, "worker-a")
        .await
        .unwrap();
    assert_eq!(
        training_sessions::cancel_requested_by(&pool, running)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        training_sessions::request_cancel(&pool, running, "root", "cancelled", "{}")
            .await
            .unwrap(),
        CancelRequest::Requested
    );
    // Still running until its worker stops it; the worker sees who asked.
    let row = training_sessions::find(&pool, running)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Running);
    assert_eq!(
        training_sessions::cancel_requested_by(&pool, running)
            .await
            .unwrap(),
        Some("root".to_owned())
    );
    training_sessions::fail(
        &pool,
        running,
        "cancelled by root",
        r#"{"kind":"cancelled"}"#,
    )
    .await
    .unwrap();
    let row = training_sessions::find(&pool, running)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, SessionStatus::Failed);
    assert_eq!(row.progress, None);
}

async fn traffic_minutes_add_up_per_minute_and_instance(pool: db::Pool) {
    use db::traffic::{add, since, TrafficMinute};
    let delta = |minute: &str, instance: &str, counts: &str| TrafficMinute {
        minute: minute.into(),
        instance: instance.into(),
        requests: 10,
        client_errors: 2,
        server_errors: 1,
        predictions: 4,
        refused: 1,
        flagged: 1,
        latency_counts: counts.into(),
    };
    add(&pool, &delta("2026-12-03T01:00", "a", "[1,3]"))
        .await
        .unwrap();
    add(&pool, &delta("2026-12-03T01:00", "a", "[0,1,2]"))
        .await
        .unwrap();
    add(&pool, &delta("2026-12-03T01:00", "b", "[4]"))
        .await
        .unwrap();
    add(&pool, &delta("2026-12-03T00:59", "a", "[1]"))
        .await
        .unwrap();
    let rows = since(&pool, "2026-12-03T01:00").await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let a = rows.iter().find(|row| row.instance == "a").unwrap();
    assert_eq!((a.requests, a.client_errors, a.predictions), (20, 4, 8));
    assert_eq!(a.latency_counts, "[1,4,2]");
    assert_eq!(since(&pool, "2026-12-03T00:00").await.unwrap().len(), 3);
}

async fn feedback_is_once_per_reviewer_and_the_queue_puts_hesitant_answers_first(pool: db::Pool) {
    use db::feedback::{self, NewFeedback, Verdict};
    use db::predictions::{self, NewPrediction, QueueFilter, Source};
    let predict = |class: &'static str, needs_review: bool, margin: f64| NewPrediction {
        model_version: if class == "pituitary" { "v2" } else { "v1" },
        predicted_class: class,
        confidence: 0.5 + margin / 2.0,
        latency_ms: 3.0,
        source: Source::Api,
        probabilities: "{}",
        needs_review,
        margin,
        signals: None,
    };
    let confident = predictions::insert(&pool, &predict("glioma", false, 0.9))
        .await
        .unwrap();
    let hesitant = predictions::insert(&pool, &predict("glioma", false, 0.1))
        .await
        .unwrap();
    let flagged = predictions::insert(&pool, &predict("meningioma", true, 0.5))
        .await
        .unwrap();
    let other_version = predictions::insert(&pool, &predict("pituitary", false, 0.05))
        .await
        .unwrap();
    let unkept = predictions::insert(&pool, &predict("glioma", true, 0.0))
        .await
        .unwrap();
    for (id, expires) in [
        (confident, "2030-01-01T00:00:00.000Z"),
        (hesitant, "2030-01-01T00:00:00.000Z"),
        (flagged, "2030-01-01T00:00:00.000Z"),
        (other_version, "2020-01-01T00:00:00.000Z"),
    ] {
        predictions::keep_slice(&pool, id, &format!("slices/{id}.png"), expires)
            .await
            .unwrap();
    }

    let all = QueueFilter {
        limit: 10,
        ..QueueFilter::default()
    };
    let (queue, total) = predictions::review_queue(&pool, &all).await.unwrap();
    let order: Vec<i64> = queue.iter().map(|p| p.id).collect();
    // Flagged first, then by margin; a prediction whose slice was not kept cannot be reviewed.
    assert_eq!(order, [flagged, other_version, hesitant, confident]);
    assert_eq!(total, 4);
    assert!(!order.contains(&unkept));
    let v1_glioma = QueueFilter {
        model_version: Some("v1"),
        predicted_class: Some("glioma"),
        limit: 1,
    };
    let (page, total) = predictions::review_queue(&pool, &v1_glioma).await.unwrap();
    assert_eq!((page.len(), total), (1, 2));
    assert_eq!(page[0].id, hesitant);

    let verdict = |prediction_id, reviewer, verdict, true_class| NewFeedback {
        prediction_id,
        reviewer,
        verdict,
        true_class,
    };
    let first = feedback::insert(&pool, &verdict(hesitant, "ana", Verdict::Wrong, "notumor"))
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(
        feedback::insert(&pool, &verdict(hesitant, "ana", Verdict::Right, "glioma"))
            .await
            .unwrap(),
        None,
        "one verdict per reviewer and prediction"
    );
    feedback::insert(&pool, &verdict(hesitant, "bo", Verdict::Right, "glioma"))
        .await
        .unwrap()
        .expect("another reviewer may judge it too");
    feedback::insert(&pool, &verdict(confident, "ana", Verdict::Right, "glioma"))
        .await
        .unwrap();
    let (queue, _) = predictions::review_queue(&pool, &all).await.unwrap();
    assert_eq!(
        queue.iter().map(|p| p.id).collect::<Vec<_>>(),
        [flagged, other_version],
        "reviewed predictions leave the queue"
    );
    let answers = feedback::reviewed_answers(&pool).await.unwrap();
    let count = |predicted: &str, truth: &str| {
        answers
            .iter()
            .find(|a| {
                a.model_version == "v1" && a.predicted_class == predicted && a.true_class == truth
            })
            .map_or(0, |a| a.count)
    };
    assert_eq!(
        (count("glioma", "glioma"), count("glioma", "notumor")),
        (2, 1)
    );

    // A correction made into an upload is pending for jobs that learn from feedback only.
    let correction_hash = "c".repeat(64);
    let mut correction = upload(&correction_hash, "notumor");
    correction.prediction_id = Some(hesitant);
    uploads::insert(&pool, &correction).await.unwrap();
    uploads::insert(&pool, &upload(&"d".repeat(64), "glioma"))
        .await
        .unwrap();
    let from = |sources| {
        let pool = pool.clone();
        async move {
            uploads::pending(&pool, sources)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.prediction_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        from(uploads::TrainingSources::Feedback).await,
        [Some(hesitant)]
    );
    assert_eq!(from(uploads::TrainingSources::Uploads).await, [None]);
    assert_eq!(from(uploads::TrainingSources::Both).await.len(), 2);

    let expired = predictions::expired_slices(&pool, "2026-06-01T00:00:00.000Z", 10)
        .await
        .unwrap();
    assert_eq!(
        expired,
        [(other_version, format!("slices/{other_version}.png"))]
    );
    predictions::forget_slice(&pool, other_version)
        .await
        .unwrap();
    let forgotten = predictions::get(&pool, other_version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(forgotten.slice_key, None);
    assert!(
        forgotten.slice_expires_at.is_some(),
        "the expiry stays to answer 410"
    );
    assert!(
        predictions::expired_slices(&pool, "2026-06-01T00:00:00.000Z", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn drift_reads_one_versions_newest_measured_predictions(pool: db::Pool) {
    use db::predictions::{self, InputSignals, NewPrediction, RecentWindow, Source};
    let predict = |version: &'static str, mean: Option<f64>| NewPrediction {
        model_version: version,
        predicted_class: "glioma",
        confidence: 0.9,
        latency_ms: 3.0,
        source: Source::Api,
        probabilities: "{}",
        needs_review: false,
        margin: 0.8,
        signals: mean.map(|mean| InputSignals {
            ood_distance: (mean > 10.0).then_some(0.7),
            mean_intensity: mean,
            contrast: 40.0,
            slice_size: 512.0,
        }),
    };
    predictions::insert(&pool, &predict("v1", None))
        .await
        .unwrap();
    for mean in [1.0, 20.0, 30.0] {
        predictions::insert(&pool, &predict("v1", Some(mean)))
            .await
            .unwrap();
    }
    predictions::insert(&pool, &predict("v2", Some(99.0)))
        .await
        .unwrap();

    let newest = predictions::recent_signals(&pool, "v1", &RecentWindow::Last(2))
        .await
        .unwrap();
    let means: Vec<f64> = newest.iter().map(|row| row.mean_intensity).collect();
    assert_eq!(means, vec![30.0, 20.0], "newest first, v1 only");
    assert_eq!(newest[0].ood_distance, Some(0.7));
    let all = predictions::recent_signals(&pool, "v1", &RecentWindow::Last(500))
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        3,
        "the unmeasured prediction is left out: {all:?}"
    );
    assert_eq!(all[2].ood_distance, None);
    let today = predictions::recent_signals(
        &pool,
        "v1",
        &RecentWindow::Since("2000-01-01T00:00:00Z".into()),
    )
    .await
    .unwrap();
    assert_eq!(today.len(), 3);
    let future = predictions::recent_signals(
        &pool,
        "v1",
        &RecentWindow::Since("2999-01-01T00:00:00Z".into()),
    )
    .await
    .unwrap();
    assert!(future.is_empty());
}

async fn series_results_are_found_from_their_study_and_keep_no_uid(pool: db::Pool) {
    use db::series_results::{self, NewSeriesResult, Source};
    let key = series_results::uid_key(&pool).await.unwrap();
    assert!(key.len() >= 64, "a per-database key: {key}");
    let study = "1.2.826.0.1.3680043.8.498.77";
    let row = |series: &'static str, class_name: Option<&'static str>| NewSeriesResult {
        study_uid: Some(study),
        series_uid: Some(series),
        source: Source::Pacs,
        model_version: "v1",
        class_name,
        confidence: class_name.map(|_| 0.93),
        needs_review: class_name.is_none(),
        slices: 12,
        answered: if class_name.is_some() { 12 } else { 0 },
        driving_slices: &[5, 6],
        summary: Some("{\"modality\":\"MR\"}".into()),
        requested_by: Some("ana"),
    };
    let first = series_results::insert(&pool, &key, &row("1.2.3.1", Some("glioma")))
        .await
        .unwrap();
    let second = series_results::insert(&pool, &key, &row("1.2.3.2", None))
        .await
        .unwrap();
    series_results::mark_sent(&pool, first).await.unwrap();

    let found = series_results::for_study(&pool, &key, study).await.unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second, first]
    );
    assert_eq!(found[0].class_name, None);
    assert_eq!(found[0].confidence, None, "no verdict, no confidence");
    assert_eq!(found[1].class_name.as_deref(), Some("glioma"));
    assert_eq!(found[1].confidence, Some(0.93));
    assert!(found[1].sent_to_pacs_at.is_some());
    let latest = series_results::latest_for_series(&pool, &key, study, "1.2.3.1")
        .await
        .unwrap();
    assert_eq!(latest.map(|r| r.id), Some(first));
    assert!(series_results::for_study(&pool, &key, "1.2.999")
        .await
        .unwrap()
        .is_empty());

    // Nothing stored holds a UID in the clear.
    let stored: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT study_uid_hash, series_uid_hash FROM series_results")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (study_hash, series_hash) in stored {
        let (study_hash, series_hash) = (study_hash.unwrap(), series_hash.unwrap());
        assert!(!study_hash.contains("3680043") && !series_hash.contains("1.2.3"));
        assert_eq!(study_hash, series_results::hash_uid(&key, study));
    }
}
