//! Reading attributes from the DICOM JSON model (PS3.18 F.2), the shape of QIDO-RS and STOW-RS
//! answers: an object per dataset, keyed by the tag's eight hex digits, each with a `Value` array.

use serde_json::Value;

/// The first value of `tag` as text: strings as they are, numbers printed, person names by their
/// alphabetic form; `None` when absent or empty.
pub fn text(dataset: &Value, tag: &str) -> Option<String> {
    let first = dataset.get(tag)?.get("Value")?.as_array()?.first()?;
    let text = match first {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Object(name) => name.get("Alphabetic")?.as_str()?.to_owned(),
        _ => return None,
    };
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Every value of `tag` as text (multi-valued strings such as Modalities in Study).
pub fn texts(dataset: &Value, tag: &str) -> Vec<String> {
    dataset
        .get(tag)
        .and_then(|element| element.get("Value"))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(|value| match value {
                    Value::String(text) => Some(text.trim().to_owned()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .filter(|text| !text.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of `tag` as a count (IS values arrive as numbers or as strings).
pub fn count(dataset: &Value, tag: &str) -> Option<u64> {
    text(dataset, tag)?.parse().ok()
}

/// The items of the sequence `tag`.
pub fn items<'a>(dataset: &'a Value, tag: &str) -> &'a [Value] {
    dataset
        .get(tag)
        .and_then(|element| element.get("Value"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_each_vr_read_as_text() {
        let dataset = serde_json::json!({
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
            "00201206": {"vr": "IS", "Value": [3]},
            "00201208": {"vr": "IS", "Value": ["24"]},
            "00080061": {"vr": "CS", "Value": ["MR", "SR"]},
            "00081030": {"vr": "LO"},
            "00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["9.8"]}}]}
        });
        assert_eq!(text(&dataset, "0020000D").as_deref(), Some("1.2.3"));
        assert_eq!(text(&dataset, "00100010").as_deref(), Some("Doe^Jane"));
        assert_eq!(count(&dataset, "00201206"), Some(3));
        assert_eq!(count(&dataset, "00201208"), Some(24));
        assert_eq!(texts(&dataset, "00080061"), vec!["MR", "SR"]);
        assert_eq!(text(&dataset, "00081030"), None);
        assert_eq!(text(&dataset, "00080020"), None);
        assert_eq!(items(&dataset, "00081199").len(), 1);
        assert!(items(&dataset, "00081198").is_empty());
    }
}
