//! The same checks on a local folder and on a real S3-compatible server. The S3 ones need the server
//! `scripts/test.sh` starts (`scripts/s3.sh`: `TEST_S3_URL` and the AWS variables); a plain
//! `cargo test` lists them as ignored.

use std::path::Path;

use storage::{Storage, StorageError, Written};

const MANIFEST: &str = "manifest.json";

/// Two processes' views of one store: each has its own cache, as replicas on two machines do.
struct Stores {
    writer: Storage,
    reader: Storage,
    _dirs: tempfile::TempDir,
}

impl Stores {
    /// `url`, or with `None` a folder in the temporary directory the caches live in.
    fn open(url: Option<String>) -> Stores {
        let dirs = tempfile::tempdir().unwrap();
        let url = url.unwrap_or_else(|| format!("file://{}", dirs.path().join("bucket").display()));
        Stores {
            writer: Storage::open(&url, &dirs.path().join("cache-a")).unwrap(),
            reader: Storage::open(&url, &dirs.path().join("cache-b")).unwrap(),
            _dirs: dirs,
        }
    }
}

fn local_stores() -> Stores {
    Stores::open(None)
}

fn s3_stores(test: &str) -> Stores {
    let base = std::env::var("TEST_S3_URL").unwrap_or_else(|_| {
        panic!("TEST_S3_URL is not set: run scripts/test.sh, or source scripts/s3.sh and start_test_s3")
    });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // A fresh prefix per run: the bucket outlives a test.
    Stores::open(Some(format!("{base}/{test}-{nanos}")))
}

/// `result` is the error `pattern` (and the assertion shows what it was otherwise).
macro_rules! assert_refused {
    ($result:expr, $pattern:pat) => {{
        let result = $result;
        assert!(matches!(result, Err($pattern)), "{result:?}");
    }};
}

async fn an_object_is_written_once_and_never_replaced(stores: Stores) {
    let uploads = &stores.writer.uploads;
    let first = uploads
        .put_once("ab/abcd.jpg", b"first".to_vec())
        .await
        .unwrap();
    assert_eq!(first, Written::Created);
    let again = stores
        .reader
        .uploads
        .put_once("ab/abcd.jpg", b"second".to_vec())
        .await
        .unwrap();
    assert_eq!(again, Written::AlreadyThere);
    assert_eq!(
        stores.reader.uploads.read("ab/abcd.jpg").await.unwrap(),
        b"first"
    );
    uploads
        .put_once("cd/cdef.png", b"png".to_vec())
        .await
        .unwrap();
    assert_eq!(
        stores.reader.uploads.keys().await.unwrap(),
        ["ab/abcd.jpg", "cd/cdef.png"]
    );
    let file = stores
        .reader
        .uploads
        .local_file("ab/abcd.jpg")
        .await
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"first");
    assert_refused!(
        uploads.read("ab/missing.jpg").await,
        StorageError::NotFound(_)
    );
}

async fn a_deleted_object_is_gone_for_every_process_and_deleting_twice_succeeds(stores: Stores) {
    let key = "slices/7-abcdef.png";
    stores
        .writer
        .uploads
        .put_once(key, b"slice".to_vec())
        .await
        .unwrap();
    stores
        .writer
        .uploads
        .put_once("ab/keep.jpg", b"kept".to_vec())
        .await
        .unwrap();
    // The reader holds a cached copy, as a replica that served the slice would.
    let cached = stores.reader.uploads.local_file(key).await.unwrap();
    assert!(cached.exists());
    stores.writer.uploads.delete(key).await.unwrap();
    stores.reader.uploads.delete(key).await.unwrap();
    assert_refused!(
        stores.reader.uploads.read(key).await,
        StorageError::NotFound(_)
    );
    assert!(
        !stores
            .reader
            .uploads
            .local_file(key)
            .await
            .is_ok_and(|path| path.exists()),
        "no cached copy outlives the object"
    );
    assert_eq!(stores.reader.uploads.keys().await.unwrap(), ["ab/keep.jpg"]);
    assert_refused!(
        stores.writer.uploads.delete("../outside").await,
        StorageError::InvalidKey(_)
    );
}

fn stage_version(stores: &Stores, name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
    let staging = stores.writer.models.staging_dir(name).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    for (file, bytes) in files {
        std::fs::write(staging.join(file), bytes).unwrap();
    }
    staging
}

async fn a_published_version_reaches_another_process_whole(stores: Stores) {
    let files: [(&str, &[u8]); 3] = [
        (MANIFEST, b"{\"version\":\"v1\"}"),
        ("model.bpk", &[7u8; 70_000]),
        ("trust.json", b"{}"),
    ];
    stage_version(&stores, "v1", &files);
    let registered = stores.writer.models.publish("v1", MANIFEST).await.unwrap();
    let dir = stores
        .reader
        .models
        .local_dir(&registered, "v1", MANIFEST)
        .await
        .unwrap();
    for (file, bytes) in files {
        assert_eq!(std::fs::read(dir.join(file)).unwrap(), bytes, "{file}");
    }
    // The writer serves the version it published without fetching it back.
    let own = stores
        .writer
        .models
        .local_dir(&registered, "v1", MANIFEST)
        .await
        .unwrap();
    assert_eq!(std::fs::read(own.join("model.bpk")).unwrap(), files[1].1);
}

async fn a_version_without_its_manifest_is_not_served(stores: Stores) {
    let models = &stores.writer.models;
    // As a worker killed mid-publication leaves it: weights, no manifest.
    models
        .put_once("v-broken/model.bpk", vec![1, 2, 3])
        .await
        .unwrap();
    let registered = models.location("v-broken");
    assert_refused!(
        stores
            .reader
            .models
            .local_dir(&registered, "v-broken", MANIFEST)
            .await,
        StorageError::Incomplete { .. }
    );
    // And a staged version missing its manifest is never published.
    stage_version(&stores, "v-unfinished", &[("model.bpk", b"weights")]);
    assert_refused!(
        models.publish("v-unfinished", MANIFEST).await,
        StorageError::Incomplete { .. }
    );
}

/// Only for a bucket: in a local store the staging folder is the version's final folder, and
/// `ml::artifact::write_version` refuses to write over an existing one.
async fn a_version_name_is_published_only_once(stores: Stores) {
    stage_version(&stores, "v2", &[(MANIFEST, b"{}")]);
    stores.writer.models.publish("v2", MANIFEST).await.unwrap();
    stage_version(&stores, "v2", &[(MANIFEST, b"{\"other\":true}")]);
    assert_refused!(
        stores.writer.models.publish("v2", MANIFEST).await,
        StorageError::AlreadyExists(_)
    );
    let dir = stores
        .reader
        .models
        .local_dir(
            &format!("{}/v2", stores.reader.models.url()),
            "v2",
            MANIFEST,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.join(MANIFEST)).unwrap(), b"{}");
}

async fn names_that_could_leave_their_area_are_refused(stores: Stores) {
    for key in [
        "../escape.jpg",
        "/absolute.jpg",
        "a//b.jpg",
        "",
        "ab/.hidden",
        "a/./b",
    ] {
        assert_refused!(
            stores.writer.uploads.put_once(key, b"x".to_vec()).await,
            StorageError::InvalidKey(_)
        );
    }
    assert_refused!(
        stores
            .writer
            .models
            .local_dir("s3://another-bucket/models/v1", "v1", MANIFEST)
            .await,
        StorageError::ElsewhereStored { .. }
    );
}

macro_rules! on_each_store {
    ($($check:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::local_stores()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                #[ignore = "needs an S3-compatible server: scripts/test.sh starts one (TEST_S3_URL)"]
                async fn $check() {
                    super::$check(super::s3_stores(stringify!($check))).await;
                }
            )*
        }
    };
}

on_each_store!(
    an_object_is_written_once_and_never_replaced,
    a_deleted_object_is_gone_for_every_process_and_deleting_twice_succeeds,
    a_published_version_reaches_another_process_whole,
    a_version_without_its_manifest_is_not_served,
    names_that_could_leave_their_area_are_refused,
);

#[tokio::test]
#[ignore = "needs an S3-compatible server: scripts/test.sh starts one (TEST_S3_URL)"]
async fn s3_a_version_name_is_published_only_once() {
    a_version_name_is_published_only_once(s3_stores("published_once")).await;
}

#[test]
fn only_s3_and_absolute_file_urls_are_accepted() {
    let cache = Path::new("/tmp/unused-cache");
    for url in [
        "http://example.com/bucket",
        "file://relative/folder",
        "s3://",
        "gs://bucket",
        "/plain/path",
    ] {
        assert_refused!(Storage::open(url, cache), StorageError::UnsupportedUrl(_));
    }
}

#[test]
fn the_default_layout_keeps_uploads_and_versions_in_their_folders() {
    let dirs = tempfile::tempdir().unwrap();
    let uploads = dirs.path().join("uploads");
    let models = dirs.path().join("models");
    let storage = Storage::local(&uploads, &models).unwrap();
    assert!(uploads.is_dir() && models.is_dir());
    assert_eq!(
        storage.models.staging_dir("v3").unwrap(),
        models.join("v3"),
        "a local version is written in place"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        storage
            .uploads
            .put_once("cd/cdef.png", b"png".to_vec())
            .await
            .unwrap();
        let file = storage.uploads.local_file("cd/cdef.png").await.unwrap();
        assert_eq!(file, uploads.join("cd/cdef.png"));
        assert_eq!(std::fs::read(file).unwrap(), b"png");
    });
}
