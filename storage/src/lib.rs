//! Where uploads and model versions are kept, through the `object_store` crate: local folders by
//! default (one machine), or one S3-compatible bucket that every replica and worker shares.
//!
//! Objects are write-once: uploads are named by their content hash and model versions by their
//! training session, so a put never replaces anything ([`Area::put_once`] uses a conditional put,
//! `If-None-Match: *` on S3). The code that trains and serves models reads local files, so a remote
//! object is copied into a local cache first; the copies never go stale, since objects never change.
//! An object may be deleted ([`Area::delete`]: kept prediction slices at the end of their
//! retention), never rewritten.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "unsupported storage URL {0:?}: expected s3://bucket[/prefix] (credentials and endpoint from \
         the standard AWS_* variables) or file:///absolute/folder"
    )]
    UnsupportedUrl(String),
    #[error("no object {0} in the store")]
    NotFound(String),
    #[error("invalid object name {0:?}")]
    InvalidKey(String),
    #[error("the model version at {location} is incomplete: its {required} is missing")]
    Incomplete { location: String, required: String },
    #[error("{0} already exists in the store; stored objects are never overwritten")]
    AlreadyExists(String),
    #[error("model version stored at {registered}, but this process's storage is {url}")]
    ElsewhereStored { registered: String, url: String },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StorageError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// The two areas the service keeps objects in.
#[derive(Clone, Debug)]
pub struct Storage {
    /// Uploaded images, named `<first two hex digits>/<sha256>.<ext>`.
    pub uploads: Area,
    /// Model versions, one folder-like prefix each, named by version.
    pub models: Area,
}

impl Storage {
    /// The embedded default: uploads and versions are files in two local folders (created if
    /// missing), read in place.
    pub fn local(upload_dir: &Path, model_store: &Path) -> StorageResult<Self> {
        Ok(Self {
            uploads: Area::local(upload_dir)?,
            models: Area::local(model_store)?,
        })
    }

    /// `s3://bucket[/prefix]` (with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT` for a store other than AWS, `AWS_ALLOW_HTTP=true` for one without TLS) or
    /// `file:///folder`, holding `uploads/` and `models/`. Remote objects are copied under `cache`
    /// when read; `cache` belongs to this process.
    pub fn open(url: &str, cache: &Path) -> StorageResult<Self> {
        let url = url.trim_end_matches('/');
        if let Some(folder) = url.strip_prefix("file://") {
            let root = Path::new(folder);
            if !root.is_absolute() {
                return Err(StorageError::UnsupportedUrl(url.to_owned()));
            }
            return Self::local(&root.join("uploads"), &root.join("models"));
        }
        let Some(location) = url.strip_prefix("s3://") else {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        };
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(StorageError::UnsupportedUrl(url.to_owned()));
        }
        let bucket_store: Arc<dyn ObjectStore> = Arc::new(
            s3_builder_from(std::env::vars())
                .with_bucket_name(bucket)
                .build()?,
        );
        let area = |name: &str| -> StorageResult<Area> {
            let key = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let key = ObjectPath::parse(&key).map_err(|_| StorageError::InvalidKey(key.clone()))?;
            Ok(Area {
                store: Arc::new(PrefixStore::new(bucket_store.clone(), key)),
                local_root: None,
                cache: cache.join(name),
                url: format!("{url}/{name}"),
            })
        };
        Ok(Self {
            uploads: area("uploads")?,
            models: area("models")?,
        })
    }
}

/// Whether [`Area::put_once`] wrote the object or found it there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    AlreadyThere,
}

/// One area of the store: a local folder, or a prefix of a bucket with a local cache.
#[derive(Clone)]
pub struct Area {
    store: Arc<dyn ObjectStore>,
    /// Set for a local folder: its objects are files already, read in place.
    local_root: Option<PathBuf>,
    /// Local copies of remote objects, and the staging folders of versions before they are
    /// published.
    cache: PathBuf,
    url: String,
}

impl std::fmt::Debug for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Area").field("url", &self.url).finish()
    }
}

impl Area {
    fn local(root: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(root).map_err(|e| StorageError::io(root, e))?;
        // The store resolves symlinks in its root; names handed out stay the ones configured.
        let store = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self {
            store: Arc::new(store),
            local_root: Some(root.to_path_buf()),
            cache: root.to_path_buf(),
            url: format!("file://{}", root.display()),
        })
    }

    /// `file:///folder` or `s3://bucket/prefix/<area>`: for logs and the model registry.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// The folder of a local area, where objects are files under their names.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// Stores `bytes` as `key` unless an object of that name exists, which is then left as it is.
    pub async fn put_once(&self, key: &str, bytes: Vec<u8>) -> StorageResult<Written> {
        let location = object_path(key)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&location, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(Written::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Written::AlreadyThere),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn read(&self, key: &str) -> StorageResult<Vec<u8>> {
        let location = object_path(key)?;
        self.fetch(&location).await
    }

    async fn fetch(&self, location: &ObjectPath) -> StorageResult<Vec<u8>> {
        let found = match self.store.get(location).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::NotFound(format!("{}/{location}", self.url)))
            }
            Err(error) => return Err(error.into()),
        };
        Ok(found.bytes().await?.to_vec())
    }

    /// A local file with the object's bytes: the file itself in a local folder, else a copy in the
    /// cache, fetched on first use.
    pub async fn local_file(&self, key: &str) -> StorageResult<PathBuf> {
        let location = object_path(key)?;
        if let Some(root) = &self.local_root {
            return Ok(root.join(location.as_ref()));
        }
        let path = self.cache.join(location.as_ref());
        if tokio::fs::try_exists(&path)
            .await
            .map_err(|e| StorageError::io(&path, e))?
        {
            return Ok(path);
        }
        let bytes = self.fetch(&location).await?;
        write_atomically(&path, &bytes).await?;
        Ok(path)
    }

    /// The local folder a new version `name` is written into before [`Area::publish`] (its parent
    /// exists; the folder itself does not yet): its final place in a local store, a staging folder
    /// in the cache otherwise.
    pub fn staging_dir(&self, name: &str) -> StorageResult<PathBuf> {
        let location = object_path(name)?;
        let parent = match &self.local_root {
            Some(root) => root.clone(),
            None => self.cache.join(".staging"),
        };
        std::fs::create_dir_all(&parent).map_err(|e| StorageError::io(&parent, e))?;
        Ok(parent.join(location.as_ref()))
    }

    /// Where version `name` of this area is registered: its folder in a local store, its
    /// `s3://.../<name>` prefix in a bucket.
    pub fn location(&self, name: &str) -> String {
        match &self.local_root {
            Some(root) => root.join(name).to_string_lossy().into_owned(),
            None => format!("{}/{name}", self.url),
        }
    }

    /// Makes the version written in [`Area::staging_dir`] available to every process and answers
    /// its [`Area::location`]; a version without its `last` file (the manifest) is refused. Remote:
    /// its files are put under `name/`, `last` after all the others, so a version whose `last`
    /// object exists is complete.
    pub async fn publish(&self, name: &str, last: &str) -> StorageResult<String> {
        let staging = self.staging_dir(name)?;
        let mut files = Vec::new();
        let mut entries = tokio::fs::read_dir(&staging)
            .await
            .map_err(|e| StorageError::io(&staging, e))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| StorageError::io(&staging, e))?
        {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() {
                files.push(file_name);
            }
        }
        if !files.iter().any(|file| file == last) {
            return Err(StorageError::Incomplete {
                location: staging.display().to_string(),
                required: last.to_owned(),
            });
        }
        if self.local_root.is_some() {
            return Ok(self.location(name));
        }
        // The completion marker goes last; the others in a stable order.
        files.sort_by_key(|file| (file == last, file.clone()));
        for file in &files {
            let path = staging.join(file);
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| StorageError::io(&path, e))?;
            let key = format!("{name}/{file}");
            if self.put_once(&key, bytes).await? == Written::AlreadyThere {
                return Err(StorageError::AlreadyExists(format!("{}/{key}", self.url)));
            }
        }
        // The staged files are the cached copy: no download for this process.
        let cached = self.cache.join(name);
        if tokio::fs::rename(&staging, &cached).await.is_err() {
            let _ = tokio::fs::remove_dir_all(&staging).await;
        }
        Ok(self.location(name))
    }

    /// A local folder holding the complete version registered at `registered` under `name`: a
    /// local path is used as it is (the shipped model, or a local store), a version in this bucket
    /// is copied into the cache on first use; either only when its `last` file exists.
    pub async fn local_dir(
        &self,
        registered: &str,
        name: &str,
        last: &str,
    ) -> StorageResult<PathBuf> {
        let incomplete = || StorageError::Incomplete {
            location: registered.to_owned(),
            required: last.to_owned(),
        };
        if !registered.contains("://") {
            let dir = PathBuf::from(registered);
            return if dir.join(last).is_file() {
                Ok(dir)
            } else {
                Err(incomplete())
            };
        }
        if self.local_root.is_some() || registered != self.location(name) {
            return Err(StorageError::ElsewhereStored {
                registered: registered.to_owned(),
                url: self.url.clone(),
            });
        }
        let folder = object_path(name)?;
        let cached = self.cache.join(folder.as_ref());
        if cached.join(last).is_file() {
            return Ok(cached);
        }
        let listing = self.store.list_with_delimiter(Some(&folder)).await?;
        let names: Vec<String> = listing
            .objects
            .iter()
            .filter_map(|object| object.location.filename().map(str::to_owned))
            .collect();
        if !names.iter().any(|file| file == last) {
            return Err(incomplete());
        }
        let download = self
            .cache
            .join(format!(".download-{name}-{}", unique_suffix()));
        let _ = tokio::fs::remove_dir_all(&download).await;
        tokio::fs::create_dir_all(&download)
            .await
            .map_err(|e| StorageError::io(&download, e))?;
        for file in &names {
            let bytes = self.fetch(&folder.child(file.as_str())).await?;
            let path = download.join(file);
            tokio::fs::write(&path, &bytes)
                .await
                .map_err(|e| StorageError::io(&path, e))?;
        }
        if let Err(error) = tokio::fs::rename(&download, &cached).await {
            let _ = tokio::fs::remove_dir_all(&download).await;
            // Another thread of this process got there first.
            if !cached.join(last).is_file() {
                return Err(StorageError::io(&cached, error));
            }
        }
        Ok(cached)
    }

    /// Deletes `key` and this process's cached copy of it; deleting what is not there succeeds, so
    /// two processes sweeping the same expired objects do not fail each other.
    pub async fn delete(&self, key: &str) -> StorageResult<()> {
        let location = object_path(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        if self.local_root.is_none() {
            let cached = self.cache.join(location.as_ref());
            match tokio::fs::remove_file(&cached).await {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(StorageError::io(&cached, error)),
            }
        }
        Ok(())
    }

    /// The name of every object in the area, sorted (staging and cache folders are not objects).
    pub async fn keys(&self) -> StorageResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut folders = vec![None];
        while let Some(folder) = folders.pop() {
            let listing = self.store.list_with_delimiter(folder.as_ref()).await?;
            keys.extend(
                listing
                    .objects
                    .into_iter()
                    .map(|object| object.location.to_string()),
            );
            folders.extend(listing.common_prefixes.into_iter().map(Some));
        }
        keys.sort();
        Ok(keys)
    }

    /// Removes staging folders a previous run of this process left behind (a worker killed while
    /// training); nothing in them was published.
    pub fn remove_stale_staging(&self) -> StorageResult<()> {
        if self.local_root.is_some() {
            return Ok(());
        }
        let staging = self.cache.join(".staging");
        match std::fs::remove_dir_all(&staging) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StorageError::io(&staging, error)),
        }
    }
}

/// `AmazonS3Builder::from_env`, except that an empty variable counts as unset: deployment tools
/// (a Render environment group, a compose file) often define `AWS_ENDPOINT` empty for AWS itself.
fn s3_builder_from(variables: impl Iterator<Item = (String, String)>) -> AmazonS3Builder {
    variables
        .filter(|(key, value)| key.starts_with("AWS_") && !value.trim().is_empty())
        .filter_map(|(key, value)| Some((key.to_ascii_lowercase().parse().ok()?, value)))
        .fold(AmazonS3Builder::new(), |builder, (key, value)| {
            builder.with_config(key, value)
        })
}

/// Names come from the server (hashes, version names), but a name that could leave its area is
/// refused all the same.
fn object_path(key: &str) -> StorageResult<ObjectPath> {
    let valid = !key.is_empty()
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'));
    if !valid {
        return Err(StorageError::InvalidKey(key.to_owned()));
    }
    ObjectPath::parse(key).map_err(|_| StorageError::InvalidKey(key.to_owned()))
}

/// Through a temporary name and a rename, so a reader never sees half a file.
async fn write_atomically(path: &Path, bytes: &[u8]) -> StorageResult<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StorageError::io(dir, e))?;
    }
    let temporary = path.with_extension(format!("download-{}", unique_suffix()));
    tokio::fs::write(&temporary, bytes)
        .await
        .map_err(|e| StorageError::io(&temporary, e))?;
    tokio::fs::rename(&temporary, path)
        .await
        .map_err(|e| StorageError::io(path, e))
}

/// Distinct for every call in this process and across processes sharing a folder.
fn unique_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{next}", std::process::id())
}

#[cfg(test)]
mod tests {
    use object_store::aws::AmazonS3ConfigKey;

    #[test]
    fn empty_aws_variables_count_as_unset() {
        let variables = [
            ("AWS_ENDPOINT", ""),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ALLOW_HTTP", " "),
            ("HOME", "/root"),
        ]
        .map(|(key, value)| (key.to_owned(), value.to_owned()));
        let builder = super::s3_builder_from(variables.into_iter());
        assert_eq!(builder.get_config_value(&AmazonS3ConfigKey::Endpoint), None);
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .as_deref(),
            Some("eu-west-1")
        );
    }
}
