use leptos::prelude::*;

use crate::components::chart_canvas::ChartCanvas;

use crate::types::predict::ExplanationResponse;

/// Sends one file the browser holds to `POST /predict/explain` (a prediction with its heatmap), as
/// the batch drawer and the Series viewer ask for a picked file's heatmap.
pub async fn explain_file(
    file: web_sys::File,
) -> Result<ExplanationResponse, crate::error::AppError> {
    use crate::error::AppError;
    let form = web_sys::FormData::new().map_err(|_| AppError::Internal)?;
    form.append_with_blob_and_filename("file", &file, &file.name())
        .map_err(|_| AppError::Internal)?;
    crate::api::predict::explain_prediction(form.into()).await
}

/// The classified slice (from its own pixels, sharper than the model's input) with its Grad-CAM
/// heatmap drawn over it in the browser: an opacity slider and an on/off switch. The server sends
/// the heat grid; the canvas draws it at the slice's own resolution, interpolated between cells, as
/// red to yellow with the heat as alpha.
#[component]
pub fn HeatmapOverlay(explanation: ExplanationResponse) -> impl IntoView {
    let opacity = RwSignal::new(60u32);
    let shown = RwSignal::new(true);
    let grid = StoredValue::new((
        explanation.heatmap.clone(),
        explanation.grid_width,
        explanation.grid_height,
    ));
    let side = explanation.slice_size;
    let draw = move |canvas: &web_sys::HtmlCanvasElement| {
        let alpha = if shown.get() {
            f64::from(opacity.get()) / 100.0
        } else {
            0.0
        };
        grid.with_value(|(heat, width, height)| {
            draw_heat(canvas, heat, *width, *height, side, alpha)
        })
    };
    let source = format!("data:image/png;base64,{}", explanation.slice_png);
    view! {
        <figure class="heatmap" data-testid="heatmap">
            <div class="heatmap-stack">
                <img src=source alt="The slice the model classified, cropped to the head" width=side height=side />
                <ChartCanvas
                    label="Where the model looked: red to yellow is more important"
                    testid="heatmap-canvas"
                    side=side
                    draw=draw
                />
            </div>
            <div class="heat-scale" data-testid="heat-scale">
                <span>"weighed less"</span>
                <span class="heat-gradient" role="img" aria-label="Colour scale: clear, then red, then yellow for the areas that weighed most"></span>
                <span>"weighed most"</span>
            </div>
            <figcaption class="heatmap-controls">
                <label>
                    <input
                        type="checkbox"
                        data-testid="heatmap-toggle"
                        prop:checked=move || shown.get()
                        on:change=move |event| shown.set(event_target_checked(&event))
                    />
                    " Show where the model looked"
                </label>
                <label>
                    "Opacity "
                    <input
                        type="range"
                        min="0"
                        max="100"
                        data-testid="heatmap-opacity"
                        prop:value=move || opacity.get().to_string()
                        on:input=move |event| {
                            if let Ok(value) = event_target_value(&event).parse() {
                                opacity.set(value);
                            }
                        }
                    />
                </label>
            </figcaption>
        </figure>
    }
}

fn draw_heat(
    canvas: &web_sys::HtmlCanvasElement,
    heat: &[Vec<f32>],
    width: usize,
    height: usize,
    side: u32,
    opacity: f64,
) -> Option<()> {
    use wasm_bindgen::JsCast;
    let context = canvas
        .get_context("2d")
        .ok()
        .flatten()?
        .dyn_into::<web_sys::CanvasRenderingContext2d>()
        .ok()?;
    context.clear_rect(0.0, 0.0, f64::from(side), f64::from(side));
    if width == 0 || height == 0 || opacity <= 0.0 {
        return Some(());
    }
    let cell = |x: usize, y: usize| {
        heat.get(y)
            .and_then(|row| row.get(x))
            .copied()
            .unwrap_or(0.0)
    };
    // Two-pixel blocks keep the drawing to a few thousand rectangles.
    let block = 2u32;
    for py in (0..side).step_by(block as usize) {
        for px in (0..side).step_by(block as usize) {
            let gx = ((f64::from(px) + 1.0) * width as f64 / f64::from(side) - 0.5)
                .clamp(0.0, (width - 1) as f64);
            let gy = ((f64::from(py) + 1.0) * height as f64 / f64::from(side) - 0.5)
                .clamp(0.0, (height - 1) as f64);
            let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
            let (fx, fy) = (gx - x0 as f64, gy - y0 as f64);
            let top = f64::from(cell(x0, y0)) * (1.0 - fx) + f64::from(cell(x1, y0)) * fx;
            let bottom = f64::from(cell(x0, y1)) * (1.0 - fx) + f64::from(cell(x1, y1)) * fx;
            let h = (top * (1.0 - fy) + bottom * fy).clamp(0.0, 1.0);
            if h < 0.02 {
                continue;
            }
            let green = ((h * 3.0 - 1.0).clamp(0.0, 1.0) * 255.0).round();
            context.set_fill_style_str(&format!("rgba(255,{green},0,{:.3})", opacity * h.sqrt()));
            context.fill_rect(
                f64::from(px),
                f64::from(py),
                f64::from(block),
                f64::from(block),
            );
        }
    }
    Some(())
}
