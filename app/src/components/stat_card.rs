//! The figures at the top of a page: a title, the value, and a line that says what it counts.

use leptos::prelude::*;

/// How a card is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Bad,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "card stat ok",
            Tone::Warn => "card stat warn",
            Tone::Bad => "card stat bad",
        }
    }
}

/// `children`, when given, is the explaining line under the value.
#[component]
pub fn StatCard<V>(
    title: &'static str,
    value: V,
    #[prop(optional)] tone: Option<Tone>,
    /// Names the card for the browser tests.
    #[prop(optional)]
    testid: Option<&'static str>,
    /// Names the value for the browser tests.
    #[prop(optional)]
    value_testid: Option<&'static str>,
    /// A long value (a version name) in a smaller font.
    #[prop(optional)]
    small: bool,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView
where
    V: IntoView + 'static,
{
    view! {
        <article class=tone.map_or("card stat", Tone::class) data-testid=testid>
            <h3>{title}</h3>
            <p class=if small { "value small-value" } else { "value" } data-testid=value_testid>
                {value}
            </p>
            {children.map(|detail| view! { <p class="detail">{detail()}</p> })}
        </article>
    }
}
