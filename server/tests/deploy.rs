//! The deployment files agree with each other and with the server: the Dockerfile, its build
//! script, `.dockerignore` and the Render Blueprint. (The build script itself runs in CI.)

use std::path::Path;

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
