//! Native `<dialog>` elements opened as modals from a signal: the browser gives them a backdrop,
//! a focus trap and Escape to close; the page keeps the signal as the single source of truth.

use leptos::html::Dialog;
use leptos::prelude::*;

/// Opens `dialog` as a modal whenever `is_open` says so and closes it otherwise. Pair it with an
/// `on:close` handler that clears the signal, so Escape and the signal agree.
pub fn follow_signal(dialog: NodeRef<Dialog>, is_open: impl Fn() -> bool + 'static) {
    Effect::new(move |_| {
        let open = is_open();
        let Some(dialog) = dialog.get() else { return };
        if open && !dialog.open() {
            let _ = dialog.show_modal();
        } else if !open && dialog.open() {
            dialog.close();
        }
    });
}
