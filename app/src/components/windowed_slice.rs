//! A 16-bit slice drawn through a window the user sets, as a radiology viewer does: drag on the
//! slice (left-right widens or narrows the window, up-down moves its centre), or use the two
//! sliders (keyboard), or go back to the file's own window. The window outlives the slice, so a
//! radiologist sets it once and scrolls.

use leptos::html::Canvas;
use leptos::prelude::*;
use leptos::web_sys;
use wasm_bindgen::{Clamped, JsCast};

use crate::types::series::{windowed, SliceValues};

/// A window: (centre, width), in the file's modality values.
pub type Window = (f64, f64);

#[component]
pub fn WindowedSlice(
    values: SliceValues,
    /// The window chosen for the whole series; `None` uses each slice's `file_window`.
    window: RwSignal<Option<Window>>,
    file_window: Window,
    /// MONOCHROME1: low values are white.
    inverted: bool,
    label: String,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let (width, height) = (values.width, values.height);
    let (low, high) = (values.low, values.high);
    let span = (high - low).max(1.0);
    // Decoded once per slice, in the browser only (the server renders an empty canvas).
    let decoded = StoredValue::new_local(None::<Vec<f64>>);
    let shown = move || window.get().unwrap_or(file_window);
    Effect::new(move |_| {
        let (center, window_width) = shown();
        let Some(element) = canvas.get() else {
            return;
        };
        if decoded.with_value(Option::is_none) {
            let base64 = |text: &str| {
                let binary = web_sys::window()?.atob(text).ok()?;
                Some(binary.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>())
            };
            decoded.set_value(values.decode(base64));
        }
        let rgba: Option<Vec<u8>> = decoded.with_value(|decoded| {
            decoded.as_ref().map(|values| {
                values
                    .iter()
                    .flat_map(|&value| {
                        let grey = windowed(value, center, window_width, inverted);
                        [grey, grey, grey, 255]
                    })
                    .collect()
            })
        });
        let Some(rgba) = rgba else {
            return;
        };
        let context = element
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
        let image =
            web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width, height);
        if let (Some(context), Ok(image)) = (context, image) {
            let _ = context.put_image_data(&image, 0.0, 0.0);
        }
    });
    // Where a drag started: pointer position and the window then.
    let drag = StoredValue::new(None::<(i32, i32, Window)>);
    let on_move = move |event: web_sys::MouseEvent| {
        let Some((x0, y0, (center0, width0))) = drag.get_value() else {
            return;
        };
        if event.buttons() & 1 == 0 {
            drag.set_value(None);
            return;
        }
        let size = canvas
            .get()
            .map_or(256.0, |c| f64::from(c.client_width().max(1)));
        // Dragging across the whole slice moves the window by the whole value range.
        let per_pixel = span / size;
        let dx = f64::from(event.client_x() - x0) * per_pixel;
        let dy = f64::from(event.client_y() - y0) * per_pixel;
        window.set(Some((center0 + dy, (width0 + dx).max(1.0))));
    };
    let round = |value: f64| value.round() as i64;
    view! {
        <div class="windowed-slice stack">
            <canvas
                node_ref=canvas
                class="series-slice windowable"
                width=width
                height=height
                role="img"
                aria-label=label
                data-testid="series-slice"
                on:mousedown=move |event: web_sys::MouseEvent| {
                    event.prevent_default();
                    drag.set_value(Some((event.client_x(), event.client_y(), shown())));
                }
                on:mousemove=on_move
                on:mouseup=move |_| drag.set_value(None)
                on:mouseleave=move |_| drag.set_value(None)
            ></canvas>
            <div class="window-controls small">
                <span data-testid="series-window">
                    {move || {
                        let (center, width) = shown();
                        format!("Window: centre {} · width {}", round(center), round(width))
                    }}
                    {move || window.get().is_none().then_some(" (the file's)")}
                </span>
                <label>
                    "Centre"
                    <input
                        type="range"
                        min=round(low).to_string()
                        max=round(high).to_string()
                        data-testid="series-window-center"
                        prop:value=move || round(shown().0).to_string()
                        on:input=move |event| {
                            if let Ok(center) = event_target_value(&event).parse::<f64>() {
                                window.set(Some((center, shown().1)));
                            }
                        }
                    />
                </label>
                <label>
                    "Width"
                    <input
                        type="range"
                        min="1"
                        max=round(span * 2.0).to_string()
                        data-testid="series-window-width"
                        prop:value=move || round(shown().1).to_string()
                        on:input=move |event| {
                            if let Ok(width) = event_target_value(&event).parse::<f64>() {
                                window.set(Some((shown().0, width.max(1.0))));
                            }
                        }
                    />
                </label>
                <button
                    type="button"
                    class="button small"
                    data-testid="series-window-reset"
                    disabled=move || window.get().is_none()
                    on:click=move |_| window.set(None)
                >
                    "File's window"
                </button>
            </div>
        </div>
    }
}
