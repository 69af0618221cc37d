//! The deployment files agree with each other and with the server: the Dockerfile, its build
//! script, `.dockerignore` and the Render Blueprint. (The build script itself runs in CI.)

use std::path::Path;

use clap::Parser;
use serde_yaml::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
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
    // Every variable the blueprint sets is one the server reads, and the README documents it.
    let config = read("server/src/config.rs");
    let readme = read("README.md");
    for (key, _) in &env {
        if *key != "RUST_LOG" {
            // Secrets are read from the environment only, never as a flag.
            assert!(
                config.contains(&format!("env = \"{key}\""))
                    || config.contains(&format!("env::var(\"{key}\")")),
                "server ignores {key}"
            );
        }
        assert!(
            readme.contains(&format!("`{key}`")),
            "README does not document {key}"
        );
    }
}

/// The scale-out example: web replicas that only serve, a worker, PostgreSQL, one shared volume at
/// the data root, commands the binary accepts and variables the server reads.
#[test]
fn the_scale_out_compose_file_runs_web_replicas_and_a_worker_on_postgres() {
    let compose: Value = serde_yaml::from_str(&read("compose.scale-out.yaml")).expect("valid YAML");
    let services = &compose["services"];
    let dockerfile = read("Dockerfile");
    let data_root = docker_env(&dockerfile, "DATA_ROOT").expect("DATA_ROOT in the Dockerfile");
    let config = read("server/src/config.rs");
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
        let database_url = env
            .get("DATABASE_URL")
            .and_then(Value::as_str)
            .expect("DATABASE_URL");
        assert!(database_url.starts_with("postgres://"), "{database_url}");
        assert_eq!(
            env.get("DATA_ROOT").and_then(Value::as_str),
            Some(data_root.as_str())
        );
        for key in env.keys().map(|key| key.as_str().unwrap()) {
            if key != "RUST_LOG" {
                assert!(
                    config.contains(&format!("env = \"{key}\""))
                        || config.contains(&format!("env::var(\"{key}\")")),
                    "server ignores {key}"
                );
            }
        }
        let volumes = service["volumes"].as_sequence().expect("volumes");
        assert!(
            volumes
                .iter()
                .any(|volume| volume.as_str() == Some(&format!("data:{data_root}"))),
            "{name} mounts the shared data volume at {data_root}"
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
}
