use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;

/// What every long-running process needs, `serve` and `worker` alike: where the data lives, the
/// database and storage every process shares, the models, and how retraining runs. Every option is
/// also read from the environment variable named beside it.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct StateConfig {
    /// Everything the server writes (database, uploads, model versions) lives under this one
    /// directory unless the three options below say otherwise: one volume to mount in Docker.
    #[arg(long, env = "DATA_ROOT", default_value = "data")]
    pub data_root: PathBuf,

    /// Database URL: sqlite://path (the file and its directory are created on first start) or, for
    /// several replicas and workers sharing one database, postgres://user:password@host:port/db.
    /// [default: sqlite://<data-root>/app.db]
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// The shipped model: registered and served on a fresh database.
    #[arg(long, env = "MODEL_DIR", default_value = "models")]
    pub model_dir: PathBuf,

    /// Where retraining writes new model versions (one folder each), unless STORAGE_URL is set.
    /// [default: <data-root>/models]
    #[arg(long, env = "MODEL_STORE")]
    pub model_store: Option<PathBuf>,

    /// Directory where uploaded training images are stored, content-addressed, unless STORAGE_URL
    /// is set. [default: <data-root>/uploads]
    #[arg(long, env = "UPLOAD_DIR")]
    pub upload_dir: Option<PathBuf>,

    /// Object storage for uploads and model versions that several replicas and workers share:
    /// s3://bucket[/prefix] (credentials, region and endpoint from the standard AWS_* variables;
    /// AWS_ENDPOINT and AWS_ALLOW_HTTP=true for another S3-compatible store) or file:///folder.
    /// Unset: the local folders UPLOAD_DIR and MODEL_STORE.
    #[arg(long, env = "STORAGE_URL")]
    pub storage_url: Option<String>,

    /// This process's local copies of objects read from STORAGE_URL (uploads being trained on,
    /// model versions being served) and the staging folder of versions being trained; not shared
    /// with other processes. [default: <data-root>/cache]
    #[arg(long, env = "CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The original training images (one folder per class). When set, retraining replays a sample of
    /// them and validates on the same held-out split as the shipped model.
    #[arg(long, env = "TRAINING_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Backend retraining jobs run on: cpu, or wgpu for a GPU (a build with the `wgpu` cargo
    /// feature), e.g. `brainscan worker --backend wgpu` on a GPU machine. Predictions stay on the CPU.
    #[arg(long = "backend", env = "TRAINING_BACKEND", default_value = "cpu")]
    pub training_backend: ml::Backend,

    /// A retrained model is activated unless its validation accuracy falls by more than this many
    /// percentage points.
    #[arg(long, env = "ACTIVATION_TOLERANCE", default_value_t = 0.5)]
    pub activation_tolerance_points: f64,

    /// Name of the first admin, created at start when the database has no user yet.
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,

    /// Password of that first admin. Only read from the environment (never a flag, which `ps` would
    /// show); without it, create the first admin with `brainscan user add`.
    #[arg(skip = std::env::var("ADMIN_PASSWORD").ok().filter(|p| !p.is_empty()))]
    pub admin_password: Option<String>,
}

/// How the web server runs: the shared state plus what only a process that answers HTTP needs.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub state: StateConfig,

    /// Address to listen on; Docker and Render need 0.0.0.0.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (Render sets PORT).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Features of the training images, written by `brainscan extract-features`.
    #[arg(
        long,
        env = "FEATURES_CSV",
        default_value = "data/processed/image_features_train.csv"
    )]
    pub features_csv: PathBuf,

    /// Largest accepted upload per file, in megabytes.
    #[arg(long, env = "MAX_UPLOAD_MB", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_upload_mb: u64,

    /// Largest accepted total of all files in one request, in megabytes (a batch prediction or a
    /// bulk upload); bounds what one request can make the server hold.
    #[arg(long, env = "MAX_REQUEST_MB", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_request_mb: u64,

    /// Serve the web side only: retraining jobs queued here are run by `brainscan worker` processes
    /// sharing the database, and this process neither runs them nor fails them at start-up.
    #[arg(long, env = "NO_WORKER")]
    pub no_worker: bool,

    /// Whether predicting and reading pages and statistics work without logging in (uploads,
    /// retraining and administration always need an account). On by default so the original
    /// service's clients keep working; `--public-read false` closes the whole site to strangers.
    #[arg(long, env = "PUBLIC_READ", default_value_t = true, action = clap::ArgAction::Set)]
    pub public_read: bool,

    /// Trust the last address in `X-Forwarded-For` and `X-Forwarded-Proto` (set behind one reverse
    /// proxy such as Render's); otherwise a client could claim any address.
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_proxy: bool,

    /// Images one client address may have classified per minute (a batch of N costs N, an
    /// explanation 4); then 429.
    #[arg(long, env = "PREDICT_PER_MINUTE", default_value_t = 600)]
    pub predict_per_minute: u32,

    /// Upload requests one client address may send per minute; then 429.
    #[arg(long, env = "UPLOADS_PER_MINUTE", default_value_t = 60)]
    pub uploads_per_minute: u32,

    /// Login attempts one client address may make per minute; then 429. (Each account also
    /// locks for 30 s, doubling up to 15 min, after 5 failures in a row, wherever they come from.)
    #[arg(long, env = "LOGINS_PER_MINUTE", default_value_t = 10)]
    pub logins_per_minute: u32,

    /// Other changes (retraining, activation, administration) one client address may send per
    /// minute; then 429.
    #[arg(long, env = "WRITES_PER_MINUTE", default_value_t = 60)]
    pub writes_per_minute: u32,

    /// Page loads and reads one client address may send per minute; then 429.
    #[arg(long, env = "READS_PER_MINUTE", default_value_t = 1200)]
    pub reads_per_minute: u32,

    /// Refused requests (401, 403) one client address may send per minute; past that, everything
    /// it sends is answered 429 without a database lookup, an audit row or a log line.
    #[arg(long, env = "REFUSED_PER_MINUTE", default_value_t = 30)]
    pub refused_per_minute: u32,

    /// The longest a request may take, body upload included; a stalled client gets 408.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// The longest a client may take to send a request's headers, or keep an idle connection
    /// open between requests, before the connection is closed.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout_secs: u64,

    /// Directory with the built site (the WASM bundle, CSS and public assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Keep each prediction's slice (the pixels only, as an 8-bit PNG; never the DICOM file) so
    /// reviewers can confirm or correct the answer and a correction can become training data.
    /// Default: on with SQLite (the embedded mode), off with PostgreSQL.
    #[arg(long, env = "KEEP_PREDICTION_SLICES", action = clap::ArgAction::Set)]
    pub keep_prediction_slices: Option<bool>,

    /// Days a kept prediction slice is kept; then it is deleted.
    #[arg(long, env = "PREDICTION_SLICE_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub prediction_slice_retention_days: u64,

    /// Which of the serving model's predictions drift is measured on: a count of the newest
    /// (`500`) or a period before now (`24h`, `1d`, `90m`).
    #[arg(long, env = "DRIFT_WINDOW", default_value = "500")]
    pub drift_window: app::ssr::drift::DriftWindow,

    /// A drift signal whose population stability index is above this raises the Monitor page's
    /// banner and `/health`'s `drift` entry (0.1 is commonly read as a small shift, 0.2 as large).
    #[arg(long, env = "DRIFT_PSI_ALERT", default_value_t = 0.2, value_parser = psi_alert)]
    pub drift_psi_alert: f64,

    #[command(flatten)]
    pub pacs: PacsConfig,
}

/// The PACS the Studies page and `brainscan pacs` talk to over DICOMweb. Credentials belong in the
/// environment (a command line shows in `ps`); they are never logged.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct PacsConfig {
    /// DICOMweb service root of the PACS, e.g. http://orthanc:8042/dicom-web. Unset: no Studies
    /// page, and `/pacs/*` answers 503.
    #[arg(long = "dicomweb-url", env = "DICOMWEB_URL")]
    pub dicomweb_url: Option<String>,

    /// HTTP basic-auth user for the PACS (with DICOMWEB_PASSWORD).
    #[arg(long = "dicomweb-user", env = "DICOMWEB_USER")]
    pub dicomweb_user: Option<String>,

    /// HTTP basic-auth password for the PACS.
    #[arg(
        long = "dicomweb-password",
        env = "DICOMWEB_PASSWORD",
        hide_env_values = true
    )]
    pub dicomweb_password: Option<String>,

    /// Bearer token for the PACS, instead of a user and password.
    #[arg(
        long = "dicomweb-token",
        env = "DICOMWEB_TOKEN",
        hide_env_values = true
    )]
    pub dicomweb_token: Option<String>,
}

impl PacsConfig {
    /// The DICOMweb client, or `None` without DICOMWEB_URL (empty counts as unset).
    pub fn client(&self) -> Result<Option<pacs::DicomWebClient>, String> {
        let set = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let Some(url) = set(&self.dicomweb_url) else {
            return Ok(None);
        };
        let credentials = match (
            set(&self.dicomweb_user),
            set(&self.dicomweb_password),
            set(&self.dicomweb_token),
        ) {
            (None, None, None) => pacs::Credentials::None,
            (None, None, Some(token)) => pacs::Credentials::Bearer(token),
            (Some(user), Some(password), None) => pacs::Credentials::Basic { user, password },
            (_, _, Some(_)) => {
                return Err(
                    "set DICOMWEB_TOKEN or DICOMWEB_USER and DICOMWEB_PASSWORD, not both".into(),
                )
            }
            _ => return Err("DICOMWEB_USER and DICOMWEB_PASSWORD go together".into()),
        };
        pacs::DicomWebClient::new(&url, credentials)
            .map(Some)
            .map_err(|error| error.to_string())
    }
}

fn psi_alert(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(value),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

/// `brainscan worker`: the shared state only; it serves nothing, so it takes no web option.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct WorkerConfig {
    #[command(flatten)]
    pub state: StateConfig,
}

impl StateConfig {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_root.join("app.db").display()))
    }

    pub fn model_store(&self) -> PathBuf {
        self.model_store
            .clone()
            .unwrap_or_else(|| self.data_root.join("models"))
    }

    pub fn upload_dir(&self) -> PathBuf {
        self.upload_dir
            .clone()
            .unwrap_or_else(|| self.data_root.join("uploads"))
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_root.join("cache"))
    }

    /// Where uploads and model versions are kept: STORAGE_URL, else the two local folders. An empty
    /// STORAGE_URL counts as unset (deployment tools often define a variable empty).
    pub fn storage(&self) -> Result<storage::Storage, storage::StorageError> {
        let url = self.storage_url.as_deref().map(str::trim);
        match url.filter(|url| !url.is_empty()) {
            Some(url) => storage::Storage::open(url, &self.cache_dir()),
            None => storage::Storage::local(&self.upload_dir(), &self.model_store()),
        }
    }
}

impl ServeConfig {
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// What the server functions need to know about files and limits.
    /// Whether prediction slices are kept: as set, else only in the embedded (SQLite) mode.
    pub fn keeps_prediction_slices(&self) -> bool {
        self.keep_prediction_slices.unwrap_or_else(|| {
            db::Backend::from_url(&self.state.database_url()) == Some(db::Backend::Sqlite)
        })
    }

    pub fn service(
        &self,
        storage: storage::Storage,
        dicomweb: Option<pacs::DicomWebClient>,
    ) -> app::ssr::ServiceConfig {
        app::ssr::ServiceConfig {
            dicomweb,
            shipped_model_dir: self.state.model_dir.clone(),
            storage,
            data_dir: self.state.data_dir.clone(),
            features_csv: self.features_csv.clone(),
            max_upload_bytes: self.max_upload_mb * 1024 * 1024,
            max_files_per_request: 200,
            max_request_bytes: self.max_request_mb * 1024 * 1024,
            activation_tolerance: self.state.activation_tolerance_points / 100.0,
            public_read: self.public_read,
            trust_proxy: self.trust_proxy,
            budgets: app::ssr::RequestBudgets {
                predict_images: self.predict_per_minute,
                uploads: self.uploads_per_minute,
                logins: self.logins_per_minute,
                writes: self.writes_per_minute,
                reads: self.reads_per_minute,
                refused: self.refused_per_minute,
            },
            request_timeout: std::time::Duration::from_secs(self.request_timeout_secs),
            training_backend: self.state.training_backend,
            slice_retention: self.keeps_prediction_slices().then(|| {
                std::time::Duration::from_secs(self.prediction_slice_retention_days * 24 * 3600)
            }),
            drift: app::ssr::drift::DriftSettings {
                window: self.drift_window,
                psi_alert: self.drift_psi_alert,
            },
        }
    }
}

impl WorkerConfig {
    /// The configuration a worker builds its state from: its own shared options, and the web
    /// options at their declared defaults: a worker answers no request, so what the environment
    /// sets for the web side (`PORT`, limits) is not read into it.
    pub fn into_serve_config(self) -> ServeConfig {
        use clap::FromArgMatches;
        let defaults = ServeConfig::augment_args(clap::Command::new("brainscan"))
            .mut_args(|arg| arg.env(None))
            .try_get_matches_from(["brainscan"])
            .and_then(|matches| ServeConfig::from_arg_matches(&matches));
        let mut config = match defaults {
            Ok(config) => config,
            // Every option has a default and none is required, so parsing no argument cannot fail.
            Err(error) => unreachable!("the web options' defaults do not parse: {error}"),
        };
        config.state = self.state;
        config
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn serve_config(args: &[&str]) -> super::ServeConfig {
        let mut argv = vec!["brainscan"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)
            .expect("valid arguments")
            .command()
        {
            Command::Serve(config) => config,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    /// Set in the child processes [`in_clean_environment`] starts.
    const CLEAN_ENVIRONMENT: &str = "BRAINSCAN_CONFIG_TEST_CLEAN_ENVIRONMENT";

    /// Runs `check` where no variable can change the configuration: every option has an environment
    /// variable, and a developer's or CI's environment may set some. Clearing them in this process
    /// would race the other tests, so the test (`config::tests::<test>`) reruns itself in a child
    /// test process that starts with an empty environment, and `check` runs there.
    fn in_clean_environment(test: &str, check: impl FnOnce()) {
        if std::env::var_os(CLEAN_ENVIRONMENT).is_some() {
            check();
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", &format!("config::tests::{test}"), "--nocapture"])
            .env_clear()
            .env(CLEAN_ENVIRONMENT, "1")
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{test} failed in a clean environment:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        in_clean_environment("defaults_match_the_documented_ones", || {
            let config = serve_config(&[]);
            assert_eq!(config.port, 8000);
            assert_eq!(config.host.to_string(), "127.0.0.1");
            assert_eq!(config.state.database_url(), "sqlite://data/app.db");
            assert_eq!(config.state.model_dir.to_str(), Some("models"));
            assert_eq!(config.state.upload_dir().to_str(), Some("data/uploads"));
            assert_eq!(config.state.model_store().to_str(), Some("data/models"));
            assert_eq!(
                config.state.storage_url, None,
                "local folders unless a bucket is named"
            );
            assert_eq!(config.state.cache_dir().to_str(), Some("data/cache"));
            let root = tempfile::tempdir().unwrap();
            let root_arg = root.path().to_str().unwrap();
            let blank = serve_config(&["--storage-url", " ", "--data-root", root_arg]);
            let uploads = blank.state.storage().unwrap().uploads;
            assert_eq!(
                uploads.local_root(),
                Some(root.path().join("uploads").as_path()),
                "an empty STORAGE_URL means the local folders"
            );
            let scratch = tempfile::tempdir().unwrap();
            let storage = storage::Storage::local(scratch.path(), scratch.path()).unwrap();
            assert_eq!(
                config.service(storage.clone(), None).max_upload_bytes,
                20 * 1024 * 1024
            );
            assert_eq!(
                config.service(storage, None).max_request_bytes,
                100 * 1024 * 1024
            );
            assert_eq!(config.state.data_dir, None);
        });
    }

    #[test]
    fn flags_override_and_serve_is_the_default_subcommand() {
        let flags = [
            "--port",
            "9100",
            "--host",
            "0.0.0.0",
            "--database-url",
            "sqlite://x.db",
        ];
        let implicit = serve_config(&flags);
        let mut explicit_args = vec!["serve"];
        explicit_args.extend_from_slice(&flags);
        let explicit = serve_config(&explicit_args);
        assert_eq!(implicit, explicit);
        assert_eq!(implicit.socket_addr().to_string(), "0.0.0.0:9100");
        assert_eq!(implicit.state.database_url(), "sqlite://x.db");
    }

    #[test]
    fn one_data_root_holds_everything_written_unless_overridden() {
        in_clean_environment(
            "one_data_root_holds_everything_written_unless_overridden",
            || {
                let config = serve_config(&["--data-root", "/var/lib/brainscan"]);
                assert_eq!(
                    config.state.database_url(),
                    "sqlite:///var/lib/brainscan/app.db"
                );
                assert_eq!(
                    config.state.upload_dir().to_str(),
                    Some("/var/lib/brainscan/uploads")
                );
                assert_eq!(
                    config.state.model_store().to_str(),
                    Some("/var/lib/brainscan/models")
                );
                assert_eq!(
                    config.state.cache_dir().to_str(),
                    Some("/var/lib/brainscan/cache")
                );
                let overridden = serve_config(&["--data-root", "/v", "--upload-dir", "/elsewhere"]);
                assert_eq!(overridden.state.upload_dir().to_str(), Some("/elsewhere"));
                assert_eq!(overridden.state.database_url(), "sqlite:///v/app.db");
            },
        );
    }

    #[test]
    fn a_worker_takes_the_shared_options_and_refuses_the_web_ones() {
        let worker = |args: &[&str]| {
            let mut argv = vec!["brainscan", "worker"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv).map(Cli::command)
        };
        let shared = [
            "--database-url",
            "postgres://db/brainscan",
            "--storage-url",
            "s3://bucket/prefix",
            "--backend",
            "cpu",
            "--data-root",
            "/w",
        ];
        let Ok(Command::Worker(config)) = worker(&shared) else {
            panic!("a worker with the shared options")
        };
        assert_eq!(config.state.database_url(), "postgres://db/brainscan");
        assert_eq!(config.state.cache_dir().to_str(), Some("/w/cache"));
        let serve = config.clone().into_serve_config();
        assert_eq!(
            serve.state, config.state,
            "the worker's own options are kept"
        );
        // Declared defaults, whatever PORT or MAX_UPLOAD_MB this process's environment holds.
        assert_eq!(serve.port, 8000);
        assert_eq!(serve.max_upload_mb, 20);
        for web in [
            &["--port", "8000"][..],
            &["--public-read", "false"],
            &["--no-worker"],
            &["--max-upload-mb", "5"],
        ] {
            let error = worker(web).expect_err("a web option");
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{web:?}: {error}"
            );
        }
    }

    #[test]
    fn invalid_values_are_rejected() {
        assert!(Cli::try_parse_from(["brainscan", "--port", "99999"]).is_err());
        assert!(Cli::try_parse_from(["brainscan", "--host", "not-an-ip"]).is_err());
        assert!(Cli::try_parse_from(["brainscan", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["brainscan", "--max-upload-mb", "0"]).is_err());
    }
}
