//! A timestamp as the reader's clock shows it, with the stored UTC value on hover.

use leptos::prelude::*;

/// "2026-12-03 01:04:07 UTC" from "2026-12-03T01:04:07.123Z": what the server renders and what
/// stays when the browser cannot read the value.
fn utc_words(utc: &str) -> String {
    let trimmed = utc.trim_end_matches('Z').replacen('T', " ", 1);
    let without_fraction = trimmed.split('.').next().unwrap_or(&trimmed).to_owned();
    let without_offset = without_fraction
        .strip_suffix("+00:00")
        .unwrap_or(&without_fraction);
    format!("{without_offset} UTC")
}

/// The browser's local rendering of `utc`, e.g. "03/12/2026, 02:04:07"; `None` if unreadable.
fn local_words(utc: &str) -> Option<String> {
    // Without a zone JavaScript reads the value as local time; every stored value is UTC.
    let iso = utc.replacen(' ', "T", 1);
    let zoned = if iso.ends_with('Z') || iso.contains('+') {
        iso
    } else {
        format!("{iso}Z")
    };
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&zoned));
    if date.get_time().is_nan() {
        return None;
    }
    let words: String = date
        .to_locale_string("default", &js_sys::Object::new())
        .into();
    Some(words)
}

/// Renders the UTC value on the server; once hydrated, the local time (the UTC value stays in the
/// `title` and `datetime`).
#[component]
pub fn LocalTime(#[prop(into)] utc: String) -> impl IntoView {
    let shown = RwSignal::new(utc_words(&utc));
    let stored = utc.clone();
    // Effects run only in the browser, after hydration: the first render matches the server's.
    Effect::new(move |_| {
        if let Some(local) = local_words(&stored) {
            shown.set(local);
        }
    });
    view! { <time datetime=utc.clone() title=format!("{} (stored)", utc_words(&utc))>{shown}</time> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_words_drop_the_fraction_and_name_the_zone() {
        assert_eq!(
            utc_words("2026-12-03T01:04:07.123Z"),
            "2026-12-03 01:04:07 UTC"
        );
        assert_eq!(utc_words("2026-12-03 01:04:07"), "2026-12-03 01:04:07 UTC");
        assert_eq!(
            utc_words("2026-12-03T01:04:07+00:00"),
            "2026-12-03 01:04:07 UTC"
        );
    }
}
