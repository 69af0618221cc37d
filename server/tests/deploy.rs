//! The deployment files agree with each other and with the server: the Dockerfile, its build
//! script, `.dockerignore`, the Render Blueprints and the scale-out compose file. (The build script
//! itself runs in CI.)

use std::path::Path;

use clap::Parser;
use serde_yaml::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The README and every page under `docs/`, one text: where a setting may be documented.
fn documentation() -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let mut text = read("README.md");
    for entry in std::fs::read_dir(&docs).expect("docs/") {
        let path = entry.expect("docs entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            text.push_str(&std::fs::read_to_string(&path).expect("a docs page"));
        }
    }
    text
}

/// The value of `ENV NAME=value` in the Dockerfile (continuation lines included).
fn docker_env(dockerfile: &str, name: &str) -> Option<String> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .filter(|line| line.trim_start().starts_with("ENV "))
        .flat_map(|line| line.split_whitespace().skip(1))
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

#[test]
fn the_dockerfile_builds_with_the_ci_script_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage build expected");
    assert!(dockerfile.contains("RUN bash scripts/build-release.sh /dist"));
    assert!(dockerfile.contains("FROM debian:bookworm-slim"));
    let runtime_stage = dockerfile
        .rsplit_once("FROM ")
        .map(|(_, stage)| stage)
        .unwrap_or_default();
    assert!(
        runtime_stage.contains("ca-certificates"),
        "the runtime image has the TLS roots an S3 bucket's certificate is checked against"
    );
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert_ne!(user.trim(), "root");
    assert!(dockerfile.contains("HEALTHCHECK"));
    assert!(dockerfile.contains("\"/app/brainscan\", \"healthcheck\""));
    assert_eq!(docker_env(&dockerfile, "PORT").as_deref(), Some("8000"));
    assert_eq!(docker_env(&dockerfile, "HOST").as_deref(), Some("0.0.0.0"));
    // Every path the image's environment names is one the build script stages.
    let script = read("scripts/build-release.sh");
    for (variable, staged) in [
        ("MODEL_DIR", "models"),
        ("FEATURES_CSV", "data/processed"),
        ("LEPTOS_SITE_ROOT", "site"),
    ] {
        let value = docker_env(&dockerfile, variable).unwrap_or_default();
        assert!(value.starts_with("/app/"), "{variable}={value}");
        assert!(
            script.contains(&format!("$DIST/{staged}")),
            "{staged} is not staged"
        );
    }
}

#[test]
fn the_docker_context_leaves_out_builds_dependencies_and_data() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for entry in ["target/", "**/node_modules/", "data/*", ".git/"] {
        assert!(lines.contains(&entry), "{entry} missing from .dockerignore");
    }
    // The committed feature CSV must stay in: the Insights page needs it.
    assert!(lines.contains(&"!data/processed/"));
}

#[test]
fn the_render_blueprint_is_a_docker_service_with_a_disk_at_the_data_root() {
    let blueprint: Value = serde_yaml::from_str(&read("render.yaml")).expect("valid YAML");
    let service = &blueprint["services"][0];
    assert_eq!(service["type"], "web");
    assert_eq!(service["runtime"], "docker");
    assert_eq!(service["dockerfilePath"], "./Dockerfile");
    assert_eq!(service["healthCheckPath"], "/health");
    let mount = service["disk"]["mountPath"].as_str().expect("a disk");
    let env: Vec<(&str, &str)> = service["envVars"]
        .as_sequence()
        .expect("envVars")
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap(),
                v["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(env.contains(&("DATA_ROOT", mount)), "{env:?}");
    let dockerfile = read("Dockerfile");
    assert_eq!(docker_env(&dockerfile, "DATA_ROOT").as_deref(), Some(mount));
    assert!(dockerfile.contains(&format!("VOLUME [\"{mount}\"]")));
    // Every variable the blueprint sets is one the server reads, and the documentation names it.
    let readme = documentation();
    for (key, _) in &env {
        // Secrets are read from the environment only, never as a flag.
        assert!(server_reads(key), "server ignores {key}");
        assert!(
            readme.contains(&format!("`{key}`")),
            "neither the README nor docs/ document {key}"
        );
    }
}

/// Whether the server, or the object store client it uses, reads `key`.
fn server_reads(key: &str) -> bool {
    let config = read("server/src/config.rs");
    key == "RUST_LOG"
        // Credentials, region and endpoint of the bucket: read by object_store's S3 client.
        || key.starts_with("AWS_")
        || config.contains(&format!("env = \"{key}\""))
        || config.contains(&format!("env::var(\"{key}\")"))
}

/// The scale-out example: web replicas that only serve, a worker, PostgreSQL and a bucket; commands
/// the binary accepts, variables the server reads, and no shared volume (nothing but the database
/// and the bucket is shared).
#[test]
fn the_scale_out_compose_file_runs_web_replicas_and_a_worker_on_postgres_and_a_bucket() {
    let compose: Value = serde_yaml::from_str(&read("compose.scale-out.yaml")).expect("valid YAML");
    let services = &compose["services"];
    let dockerfile = read("Dockerfile");
    let data_root = docker_env(&dockerfile, "DATA_ROOT").expect("DATA_ROOT in the Dockerfile");
    for (name, subcommand) in [("web", "serve"), ("worker", "worker")] {
        let service = &services[name];
        let command: Vec<&str> = service["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name} has a command"))
            .iter()
            .map(|part| part.as_str().unwrap())
            .collect();
        assert_eq!(command[0], "/app/brainscan");
        assert_eq!(command[1], subcommand);
        brainscan::cli::Cli::try_parse_from(&command)
            .unwrap_or_else(|e| panic!("{name}: {command:?} does not parse: {e}"));
        let env = service["environment"].as_mapping().expect("environment");
        let value = |key: &str| env.get(key).and_then(Value::as_str);
        assert!(
            value("DATABASE_URL").is_some_and(|url| url.starts_with("postgres://")),
            "{name}: DATABASE_URL"
        );
        assert!(
            value("STORAGE_URL").is_some_and(|url| url.starts_with("s3://")),
            "{name}: STORAGE_URL"
        );
        let endpoint = value("AWS_ENDPOINT").expect("AWS_ENDPOINT");
        assert!(
            endpoint.starts_with("http://storage:"),
            "{name} reaches the storage service: {endpoint}"
        );
        assert_eq!(value("DATA_ROOT"), Some(data_root.as_str()));
        for key in env.keys().map(|key| key.as_str().unwrap()) {
            assert!(server_reads(key), "server ignores {key}");
        }
        assert!(
            service["volumes"].is_null(),
            "{name} shares no volume: everything shared is in the database or the bucket"
        );
    }
    assert!(
        services["web"]["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|part| part == "--no-worker"),
        "web replicas leave jobs to the worker"
    );
    assert!(services["postgres"]["image"]
        .as_str()
        .unwrap()
        .starts_with("postgres:"));
    assert!(services["storage"]["image"].as_str().is_some());
}

/// The scale-out Blueprint: replicas and a worker sharing a Render PostgreSQL database and a bucket,
/// with no disk (Render cannot share one between services).
#[test]
fn the_scale_out_blueprint_runs_replicas_and_a_worker_on_postgres_and_a_bucket() {
    let blueprint: Value =
        serde_yaml::from_str(&read("render.scale-out.yaml")).expect("valid YAML");
    let services = blueprint["services"].as_sequence().expect("services");
    let database = blueprint["databases"][0]["name"]
        .as_str()
        .expect("a database");
    let group = &blueprint["envVarGroups"][0];
    let group_name = group["name"].as_str().expect("an environment group");
    let group_keys: Vec<&str> = group["envVars"]
        .as_sequence()
        .expect("group variables")
        .iter()
        .map(|variable| variable["key"].as_str().unwrap())
        .collect();
    for key in ["STORAGE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(group_keys.contains(&key), "{key} in the shared group");
    }
    let readme = documentation();
    for key in &group_keys {
        assert!(server_reads(key), "server ignores {key}");
        assert!(readme.contains(&format!("`{key}`")), "README: {key}");
    }
    for (kind, subcommand) in [("web", "serve"), ("worker", "worker")] {
        let service = services
            .iter()
            .find(|service| service["type"] == kind)
            .unwrap_or_else(|| panic!("a {kind} service"));
        let command: Vec<&str> = service["dockerCommand"]
            .as_str()
            .expect("dockerCommand")
            .split_whitespace()
            .collect();
        assert_eq!(command[..2], ["/app/brainscan", subcommand]);
        brainscan::cli::Cli::try_parse_from(&command)
            .unwrap_or_else(|e| panic!("{kind}: {command:?} does not parse: {e}"));
        assert!(service["disk"].is_null(), "{kind} mounts no disk");
        let env = service["envVars"].as_sequence().expect("envVars");
        assert!(
            env.iter().any(|variable| variable["key"] == "DATABASE_URL"
                && variable["fromDatabase"]["name"] == database),
            "{kind} uses the Blueprint's database"
        );
        assert!(
            env.iter()
                .any(|variable| variable["fromGroup"] == group_name),
            "{kind} uses the shared group"
        );
    }
    let web = services
        .iter()
        .find(|service| service["type"] == "web")
        .unwrap();
    assert!(web["numInstances"].as_u64().unwrap_or(1) >= 2);
    assert!(web["dockerCommand"]
        .as_str()
        .unwrap()
        .contains("--no-worker"));
}
