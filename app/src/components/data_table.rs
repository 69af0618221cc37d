//! The pages' tables: one scrolling frame and header row, so each table states only its columns
//! and rows.

use leptos::prelude::*;

/// A table with `headers` (an empty header is an unnamed column, e.g. for a row's button) whose
/// `children` are its `<tr>` rows; `testid` names the `<table>` for the browser tests.
#[component]
pub fn DataTable(
    testid: &'static str,
    headers: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    // A table wider than a phone scrolls in its box; the box takes the keyboard focus so the arrow
    // keys can scroll it, and is named for screen readers ("models table").
    let label = testid.replace('-', " ");
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label=label>
            <table data-testid=testid>
                <thead>
                    <tr>
                        {headers
                            .iter()
                            .map(|header| {
                                // A text node with no text would not survive the HTML parser, so
                                // hydration would look for one that is not there.
                                if header.is_empty() {
                                    view! { <th></th> }.into_any()
                                } else {
                                    view! { <th>{*header}</th> }.into_any()
                                }
                            })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
