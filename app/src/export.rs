//! A batch's answers as CSV, one row per file (or DICOM frame): the same text for the browser's
//! download and for `POST /predict/batch?format=csv`.

use domain::CLASS_NAMES;

use crate::types::predict::BatchItem;

/// The header row: fixed columns, then one probability column per class in the model's order.
fn header() -> String {
    let mut columns: Vec<String> = [
        "filename",
        "frame",
        "status",
        "predicted_class",
        "confidence",
        "needs_review",
        "runner_up",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    columns.extend(
        CLASS_NAMES
            .iter()
            .map(|class| format!("probability_{class}")),
    );
    columns.extend(
        ["ood_score", "model_version", "error", "detail"]
            .iter()
            .map(|c| (*c).to_owned()),
    );
    columns.join(",")
}

/// One field, quoted when it holds a separator, quote or line break. A text starting with `=`,
/// `+`, `-`, `@`, a tab or a carriage return would run as a formula in a spreadsheet (file names
/// are the uploader's to choose), so it gets a leading `'`.
fn field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn number(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| format!("{v:.6}"))
}

/// The batch as CSV text with CRLF line ends (RFC 4180).
pub fn batch_csv(items: &[BatchItem]) -> String {
    let mut lines = vec![header()];
    for item in items {
        let row: Vec<String> = match item {
            BatchItem::Predicted {
                filename,
                prediction,
            } => {
                let mut row = vec![
                    field(filename),
                    prediction
                        .dicom
                        .as_ref()
                        .map_or(String::new(), |d| d.frame.to_string()),
                    "predicted".to_owned(),
                    field(&prediction.predicted_class),
                    number(Some(prediction.confidence)),
                    prediction.needs_review.to_string(),
                    field(prediction.runner_up.as_deref().unwrap_or_default()),
                ];
                row.extend(
                    CLASS_NAMES
                        .iter()
                        .map(|class| number(prediction.probabilities.get(*class).copied())),
                );
                row.extend([
                    number(prediction.ood_score),
                    field(&prediction.model_version),
                    String::new(),
                    String::new(),
                ]);
                row
            }
            BatchItem::Failed {
                filename,
                error,
                detail,
                score,
                ..
            } => {
                let status = if error == "not_brain_mri" {
                    "refused"
                } else {
                    "failed"
                };
                let mut row = vec![
                    field(filename),
                    String::new(),
                    status.to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ];
                row.extend(CLASS_NAMES.iter().map(|_| String::new()));
                row.extend([
                    number(*score),
                    String::new(),
                    field(error),
                    field(detail.as_deref().unwrap_or_default()),
                ]);
                row
            }
        };
        lines.push(row.join(","));
    }
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::predict::PredictionResponse;

    fn predicted(filename: &str) -> BatchItem {
        BatchItem::Predicted {
            filename: filename.into(),
            prediction: PredictionResponse {
                predicted_class: "glioma".into(),
                confidence: 0.75,
                probabilities: [
                    ("glioma", 0.75),
                    ("meningioma", 0.2),
                    ("notumor", 0.04),
                    ("pituitary", 0.01),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
                prediction_time_seconds: 0.01,
                timestamp: String::new(),
                model_version: "v1".into(),
                needs_review: true,
                runner_up: Some("meningioma".into()),
                ood_score: Some(0.9),
                dicom: None,
                refusal_overridden: false,
                prediction_id: Some(7),
                slice_kept_until: None,
            },
        }
    }

    #[test]
    fn rows_carry_every_class_and_the_refusals() {
        let refused = BatchItem::Failed {
            filename: "chart.png".into(),
            error: "not_brain_mri".into(),
            detail: Some("not a brain MRI slice, distance 3.1".into()),
            score: Some(3.1),
            threshold: Some(1.4),
        };
        let text = batch_csv(&[predicted("a.jpg"), refused]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "filename,frame,status,predicted_class,confidence,needs_review,runner_up,\
             probability_glioma,probability_meningioma,probability_notumor,probability_pituitary,\
             ood_score,model_version,error,detail"
        );
        assert_eq!(
            lines[1],
            "a.jpg,,predicted,glioma,0.750000,true,meningioma,0.750000,0.200000,0.040000,\
             0.010000,0.900000,v1,,"
        );
        assert_eq!(
            lines[2],
            "chart.png,,refused,,,,,,,,,3.100000,,not_brain_mri,\"not a brain MRI slice, distance 3.1\""
        );
        assert_eq!(lines[3], "", "the text ends with a line break");
        let columns = lines[0].split(',').count();
        assert_eq!(lines[1].split(',').count(), columns);
    }

    #[test]
    fn file_names_cannot_break_rows_or_run_as_formulas() {
        let text = batch_csv(&[predicted("=HYPERLINK(\"http://x\",\"a\"),b\n.jpg")]);
        let row = text.split("\r\n").nth(1).unwrap();
        assert!(
            row.starts_with("\"'=HYPERLINK(\"\"http://x\"\",\"\"a\"\"),b\n.jpg\",,predicted"),
            "{row}"
        );
        assert_eq!(field("-1+2"), "'-1+2");
        assert_eq!(field("plain.jpg"), "plain.jpg");
    }
}
