//! A chart's `<canvas>`: drawn in the browser, blank in the server's HTML.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::HtmlCanvasElement;

/// Runs `draw` on the canvas once it exists in the browser, and again whenever a signal `draw` reads
/// changes. Effects never run while the server renders, so the server sends the canvas blank and the
/// pages using this need not say which side they are on.
#[component]
pub fn ChartCanvas(
    /// What the chart shows, for screen readers.
    #[prop(into)]
    label: String,
    draw: impl Fn(&HtmlCanvasElement) -> Option<()> + 'static,
    #[prop(optional, into)] testid: Option<String>,
    /// A fixed square size in pixels; charts otherwise size themselves to their width.
    #[prop(optional)]
    side: Option<u32>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = canvas.get() {
            // `None`: the canvas has no drawing context yet (not laid out); the next change redraws.
            let _ = draw(&canvas);
        }
    });
    view! {
        <canvas node_ref=canvas aria-label=label data-testid=testid width=side height=side></canvas>
    }
}

/// `draw` applied to the value in `data`, as [`ChartCanvas`] wants it.
pub fn drawing<T: Send + Sync + 'static>(
    data: StoredValue<T>,
    draw: impl Fn(&HtmlCanvasElement, &T) -> Option<()> + 'static,
) -> impl Fn(&HtmlCanvasElement) -> Option<()> + 'static {
    move |canvas| data.with_value(|data| draw(canvas, data))
}

/// A page's chart section: a title, the chart, and what follows it (the reading of the chart).
#[component]
pub fn ChartCard(
    #[prop(into)] testid: String,
    title: &'static str,
    /// What the chart shows, for screen readers.
    #[prop(into)]
    label: String,
    draw: impl Fn(&HtmlCanvasElement) -> Option<()> + 'static,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="card chart" data-testid=testid>
            <h2>{title}</h2>
            <ChartCanvas label draw />
            {children()}
        </section>
    }
}
