//! The model subcommands as a user runs them: the real binary, the shipped model in `models/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CLASSES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];

fn shipped_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn brainscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args(args)
        .env_remove("MODEL_DIR")
        .env_remove("DATA_DIR")
        .output()
        .expect("run brainscan")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A 256x256 MRI-like PNG (`ml::phantom`) whose anatomy depends on `seed`.
fn write_slice(path: &Path, seed: u32) {
    ml::phantom::slice(seed, 256).save(path).unwrap();
}

fn model_arg() -> String {
    shipped_model().display().to_string()
}

#[test]
fn predict_prints_a_class_and_all_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("slice.png");
    write_slice(&image, 1);
    let output = brainscan(&[
        "predict",
        image.to_str().unwrap(),
        "--model",
        &model_arg(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let result = &results[0];
    assert!(CLASSES.contains(&result["predicted_class"].as_str().unwrap()));
    let probabilities = result["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 4);
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-3, "{total}");
    let confidence = result["confidence"].as_f64().unwrap();
    assert!(
        (confidence
            - probabilities[result["predicted_class"].as_str().unwrap()]
                .as_f64()
                .unwrap())
        .abs()
            < 1e-6
    );
}

#[test]
fn predict_reports_an_unreadable_image_by_path_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.jpg");
    std::fs::write(&bad, "not an image").unwrap();
    let output = brainscan(&["predict", bad.to_str().unwrap(), "--model", &model_arg()]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("notes.jpg") && message.contains("not a readable image"),
        "{message}"
    );
}

#[test]
fn evaluate_json_is_one_object_with_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (c, class) in CLASSES.iter().enumerate() {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for i in 0..3 {
            write_slice(
                &dir.path().join(class).join(format!("{i}.png")),
                (c * 3 + i) as u32,
            );
        }
    }
    std::fs::write(dir.path().join("glioma/broken.jpg"), "garbage").unwrap();
    let output = brainscan(&[
        "evaluate",
        "--data",
        dir.path().to_str().unwrap(),
        "--model",
        &model_arg(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("broken.jpg"),
        "unreadable file reported by path"
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON line: {text}"
    );
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["images"], 12);
    assert_eq!(report["classes"], serde_json::json!(CLASSES));
    let matrix = report["confusion_matrix"].as_array().unwrap();
    assert_eq!(matrix.len(), 4);
    let total: u64 = matrix
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 12);
    for key in ["accuracy", "macro_f1", "seconds"] {
        assert!(report[key].is_number(), "{key}");
    }
    assert_eq!(report["per_class"]["notumor"]["support"], 3);
}

#[test]
fn bad_layouts_and_missing_models_fail_with_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("glioma")).unwrap();
    write_slice(&dir.path().join("glioma/a.png"), 0);
    let model = model_arg();
    let data = dir.path().to_str().unwrap();
    assert_fails_with(
        &["evaluate", "--data", data, "--model", &model],
        "missing class folder",
    );
    let no_model = dir.path().join("none");
    assert_fails_with(
        &["predict", "x.png", "--model", no_model.to_str().unwrap()],
        "no model found",
    );
    let absent = dir.path().join("absent");
    assert_fails_with(&["train", "--data", absent.to_str().unwrap()], "absent");
}

/// Runs `brainscan args`, which must exit non-zero with `message` in its error output.
fn assert_fails_with(args: &[&str], message: &str) {
    let output = brainscan(args);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(
        stderr(&output).contains(message),
        "{args:?}: {}",
        stderr(&output)
    );
}

/// The shipped model must keep the validation accuracy recorded in its manifest, within one point.
#[test]
#[ignore = "needs the dataset: DATA_DIR=<dataset root> bash scripts/test-dataset.sh"]
fn shipped_model_keeps_its_recorded_validation_accuracy() {
    let data = common::dataset_dir().join("train");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(shipped_model().join("manifest.json")).unwrap(),
    )
    .unwrap();
    let recorded = manifest["validation"]["accuracy"]
        .as_f64()
        .expect("recorded validation accuracy");
    let output = brainscan(&[
        "evaluate",
        "--data",
        data.to_str().unwrap(),
        "--model",
        &model_arg(),
        "--split",
        "validation",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert_eq!(
        report["images"], manifest["training"]["validation_images"],
        "same held-out images"
    );
    assert!(
        accuracy >= recorded - 0.01,
        "accuracy {accuracy} fell below the recorded {recorded} minus one point"
    );
}

#[test]
fn report_redraws_the_plots_from_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["manifest.json", "model.bpk"] {
        std::fs::copy(shipped_model().join(file), dir.path().join(file)).unwrap();
    }
    let output = brainscan(&["report", "--model", &dir.path().to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("accuracy"), "{stdout}");
    for plot in ["training_curves.png", "confusion_matrix.png"] {
        let image = image::open(dir.path().join(plot)).unwrap();
        assert!(image.width() > 500, "{plot} is {}px wide", image.width());
    }
}

#[test]
fn extract_features_writes_one_csv_row_per_readable_image_and_logs_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train");
    for (index, class) in ["glioma", "meningioma", "notumor", "pituitary"]
        .iter()
        .enumerate()
    {
        std::fs::create_dir_all(data.join(class)).unwrap();
        write_slice(&data.join(class).join("a.png"), index as u32);
    }
    std::fs::write(data.join("glioma/broken.jpg"), b"not an image").unwrap();
    let out = dir.path().join("features.csv");
    let database = format!("sqlite://{}/app.db", dir.path().display());
    let output = brainscan(&[
        "extract-features",
        "--data",
        &data.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
        "--database-url",
        &database,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("broken.jpg"),
        "the bad file is named"
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "header + 4 images:\n{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..2], ["filename", "class_name"]);
    assert!(header.contains(&"glcm_contrast") && header.contains(&"brain_area_fraction"));
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), header.len(), "{line}");
    }
    let logged = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = db::connect(&database).await.unwrap();
        db::preprocessing_logs::count_all(&pool).await.unwrap()
    });
    assert_eq!(logged, 1, "the run is recorded in preprocessing_logs");
}

#[test]
fn a_student_trains_from_a_teacher_and_a_cascade_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("slices");
    for (c, class) in CLASSES.iter().enumerate() {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for i in 0..6 {
            write_slice(
                &data.join(class).join(format!("{i}.png")),
                (c * 6 + i) as u32,
            );
        }
    }
    let student = dir.path().join("student");
    let (data_arg, student_arg) = (data.to_str().unwrap(), student.to_str().unwrap());
    let output = brainscan(&[
        "train",
        "--data",
        data_arg,
        "--epochs",
        "1",
        "--input-size",
        "32",
        "--validation-fraction",
        "0.34",
        "--out",
        student_arg,
        "--teacher",
        &model_arg(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("teacher v"), "{}", stderr(&output));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(student.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["training"]["config"]["distillation"],
        serde_json::json!({"weight": 0.7, "temperature": 4.0})
    );

    let output = brainscan(&[
        "evaluate",
        "--data",
        data_arg,
        "--model",
        student_arg,
        "--second-opinion",
        &model_arg(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    let second: &str = text
        .lines()
        .find_map(|line| line.strip_prefix("second opinion "))
        .unwrap_or_else(|| panic!("no second-opinion line: {text}"));
    let second_accuracy = second.rsplit(' ').next().unwrap();
    // Nobody escalated: the student's own accuracy; everybody: the second model's.
    let row = |threshold: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|line| line.split_whitespace().next() == Some(threshold))
            .unwrap_or_else(|| panic!("no row for {threshold}: {text}"));
        line.split_whitespace().map(str::to_owned).collect()
    };
    assert_eq!(row("0")[1], "0.0%");
    assert_eq!(row("1.01")[1], "100.0%");
    assert_eq!(row("1.01")[2], second_accuracy);
}
