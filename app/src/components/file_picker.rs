//! Picking image files by dialog or drag-and-drop, with previews, for the Predict and Upload pages.

use leptos::prelude::*;
use leptos::web_sys;
use wasm_bindgen::JsCast;

#[derive(Debug, Clone, PartialEq)]
pub struct FilePreview {
    pub name: String,
    pub size: f64,
    /// An object URL for an `<img>`; released when the selection changes. Empty for a DICOM
    /// file, which a browser cannot draw (the server decodes it).
    pub url: String,
}

/// A DICOM file by its name or type (a browser cannot read the preamble without reading the file).
fn looks_like_dicom(file: &web_sys::File) -> bool {
    let name = file.name().to_ascii_lowercase();
    name.ends_with(".dcm") || name.ends_with(".dicom") || file.type_() == "application/dicom"
}

/// The current selection: the browser `File`s (which never leave the browser thread) and what the
/// page shows about them.
#[derive(Clone, Copy)]
pub struct SelectedFiles {
    files: RwSignal<Vec<web_sys::File>, LocalStorage>,
    previews: RwSignal<Vec<FilePreview>>,
    input: NodeRef<leptos::html::Input>,
}

impl SelectedFiles {
    pub fn new() -> Self {
        Self {
            files: RwSignal::new_local(Vec::new()),
            previews: RwSignal::new(Vec::new()),
            input: NodeRef::new(),
        }
    }

    pub fn count(&self) -> usize {
        self.previews.with(Vec::len)
    }

    /// The selected browser files, in the order picked.
    pub fn files(&self) -> Vec<web_sys::File> {
        self.files.get_untracked()
    }

    /// Empties the selection and the file input, so the next pick starts afresh.
    pub fn clear(&self) {
        self.set(Vec::new());
        if let Some(input) = self.input.get_untracked() {
            input.set_value("");
        }
    }

    fn set(&self, files: Vec<web_sys::File>) {
        for old in self.previews.get_untracked() {
            if !old.url.is_empty() {
                let _ = web_sys::Url::revoke_object_url(&old.url);
            }
        }
        let previews = files
            .iter()
            .map(|file| FilePreview {
                name: file.name(),
                size: file.size(),
                url: if looks_like_dicom(file) {
                    String::new()
                } else {
                    web_sys::Url::create_object_url_with_blob(file).unwrap_or_default()
                },
            })
            .collect();
        self.files.set(files);
        self.previews.set(previews);
    }

    fn set_from_list(&self, list: Option<web_sys::FileList>, multiple: bool) {
        let Some(list) = list else { return };
        let mut files: Vec<web_sys::File> =
            (0..list.length()).filter_map(|i| list.get(i)).collect();
        if !multiple {
            files.truncate(1);
        }
        self.set(files);
    }
}

impl Default for SelectedFiles {
    fn default() -> Self {
        Self::new()
    }
}

/// The selection as multipart form data, every file under `field`.
pub fn selected_form_data(files: &SelectedFiles, field: &str) -> Option<web_sys::FormData> {
    let form = web_sys::FormData::new().ok()?;
    for file in files.files.get_untracked() {
        form.append_with_blob_and_filename(field, &file, &file.name())
            .ok()?;
    }
    Some(form)
}

fn format_size(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KB", (bytes / 1024.0).max(1.0))
    }
}

#[component]
pub fn FilePicker(files: SelectedFiles, label: &'static str, multiple: bool) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let on_change = move |event: web_sys::Event| {
        let input = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok());
        if let Some(input) = input {
            files.set_from_list(input.files(), multiple);
        }
    };
    let on_drop = move |event: web_sys::DragEvent| {
        event.prevent_default();
        dragging.set(false);
        files.set_from_list(
            event.data_transfer().and_then(|data| data.files()),
            multiple,
        );
    };
    view! {
        <label
            class="drop-zone"
            class:dragging=move || dragging.get()
            on:dragover=move |event: web_sys::DragEvent| {
                event.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <span class="drop-title">{label}</span>
            <span class="muted">
                {if multiple {
                    "Drop images here or choose files (JPEG, PNG, BMP, WebP, DICOM)"
                } else {
                    "Drop an image here or choose a file (JPEG, PNG, BMP, WebP, DICOM)"
                }}
            </span>
            <input
                type="file"
                accept="image/*,.dcm,.dicom,application/dicom"
                multiple=multiple
                data-testid="file-input"
                node_ref=files.input
                on:change=on_change
            />
        </label>
        <ul class="previews" data-testid="previews">
            <For
                each=move || files.previews.get()
                key=|preview| (preview.name.clone(), preview.url.clone())
                children=move |preview| {
                    let picture = if preview.url.is_empty() {
                        view! { <span class="dicom-badge" aria-label="DICOM file">"DICOM"</span> }
                            .into_any()
                    } else {
                        view! {
                            <img src=preview.url.clone() alt=format!("Preview of {}", preview.name) />
                        }
                            .into_any()
                    };
                    view! {
                        <li class="preview">
                            {picture}
                            <span class="name">{preview.name.clone()}</span>
                            <span class="muted small">{format_size(preview.size)}</span>
                        </li>
                    }
                }
            />
        </ul>
    }
}
