//! Reading multipart uploads with limits: every file is size-checked while it streams in, so an
//! oversized upload is refused before it is held in memory.

use std::collections::HashMap;

use leptos::server_fn::codec::MultipartData;

use crate::error::AppError;

/// Text fields carry a class name or a note: anything longer is not a mistake but an attempt to make
/// the server hold a large body in memory.
pub const MAX_TEXT_FIELD_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_file_bytes: u64,
    pub max_files: usize,
    /// All files of one request together.
    pub max_request_bytes: u64,
}

#[derive(Debug)]
pub struct UploadedFile {
    pub field: String,
    /// The client's file name as a label, made safe by [`display_name`].
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A parsed form: its files in order, and its text fields.
#[derive(Debug, Default)]
pub struct Form {
    pub files: Vec<UploadedFile>,
    pub fields: HashMap<String, String>,
}

pub async fn read_form(data: MultipartData, limits: &UploadLimits) -> Result<Form, AppError> {
    let mut multipart = data.into_inner().ok_or_else(|| {
        AppError::BadRequest("expected a multipart/form-data request body".into())
    })?;
    let mut form = Form::default();
    let mut request_bytes: u64 = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let Some(filename) = field.file_name().map(display_name) else {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                if text.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
                    return Err(AppError::PayloadTooLarge(format!(
                        "text field {name:?} is longer than {MAX_TEXT_FIELD_BYTES} bytes"
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text).map_err(|_| {
                AppError::BadRequest(format!("text field {name:?} is not valid UTF-8"))
            })?;
            if form.fields.contains_key(&name) {
                return Err(AppError::BadRequest(format!(
                    "the field {name:?} was sent more than once; send it once"
                )));
            }
            form.fields.insert(name, text);
            continue;
        };
        if form.files.len() >= limits.max_files {
            return Err(AppError::PayloadTooLarge(format!(
                "at most {} files per request",
                limits.max_files
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if (bytes.len() + chunk.len()) as u64 > limits.max_file_bytes {
                return Err(AppError::PayloadTooLarge(format!(
                    "{filename} is larger than the {} limit per file",
                    format_bytes(limits.max_file_bytes)
                )));
            }
            request_bytes += chunk.len() as u64;
            if request_bytes > limits.max_request_bytes {
                return Err(AppError::PayloadTooLarge(format!(
                    "the files of one request may add up to {} at most; send them in several \
                     requests",
                    format_bytes(limits.max_request_bytes)
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        form.files.push(UploadedFile {
            field: name,
            filename,
            bytes,
        });
    }
    Ok(form)
}

impl Form {
    /// The one file sent as `field`; none or several is a client error.
    pub fn single_file(mut self, field: &str) -> Result<UploadedFile, AppError> {
        let mut files = std::mem::take(&mut self.files);
        files.retain(|file| file.field == field);
        match files.len() {
            1 => Ok(files.remove(0)),
            0 => Err(AppError::BadRequest(format!(
                "no file: send the image as multipart field {field:?}"
            ))),
            n => Err(AppError::BadRequest(format!(
                "expected one file in field {field:?}, got {n}"
            ))),
        }
    }

    /// Every file sent as `field` (at least one).
    pub fn files_named(self, field: &str) -> Result<Vec<UploadedFile>, AppError> {
        let files: Vec<UploadedFile> = self
            .files
            .into_iter()
            .filter(|file| file.field == field)
            .collect();
        if files.is_empty() {
            return Err(AppError::BadRequest(format!(
                "no files: send the images as multipart field {field:?}"
            )));
        }
        Ok(files)
    }

    pub fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

/// The one filename policy of every endpoint: a client's file name is a label, never a path. Keeps
/// the last path component, drops control characters, trims, caps it at 255 bytes, and names an
/// empty result `unnamed`; what is stored and echoed back is this.
pub fn display_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last.chars().filter(|c| !is_hidden_control(*c)).collect();
    name = name.trim().to_owned();
    if matches!(name.as_str(), "" | "." | "..") {
        return "unnamed".to_owned();
    }
    let mut end = name.len().min(255);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

/// Control characters, and the Unicode marks that reorder or hide text (bidirectional overrides,
/// isolates and marks, zero-width characters): in a name they make `exe.jpg` look like `gpj.exe`.
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
                | '\u{061C}' | '\u{FEFF}'
        )
}

fn malformed(error: impl std::fmt::Display) -> AppError {
    tracing::debug!(%error, "unreadable multipart body");
    AppError::BadRequest(
        "the multipart/form-data body is malformed or cut short; send each image as a file field"
            .into(),
    )
}

pub fn format_bytes(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_labels_never_paths() {
        for (raw, shown) in [
            ("../../etc/passwd.jpg", "passwd.jpg"),
            ("a/b.jpg", "b.jpg"),
            ("..\\..\\x.jpg", "x.jpg"),
            ("C:\\scans\\Tr-gl_0001.JPG", "Tr-gl_0001.JPG"),
            ("", "unnamed"),
            ("  ", "unnamed"),
            ("..", "unnamed"),
            ("dir/", "unnamed"),
            ("a\nb.jpg", "ab.jpg"),
            ("scan\u{202E}gpj.exe\u{2066}", "scangpj.exe"),
            ("a\u{200B}b.png", "ab.png"),
            ("my scan (1).png", "my scan (1).png"),
        ] {
            assert_eq!(display_name(raw), shown, "{raw:?}");
        }
        let long = "é".repeat(200);
        let shown = display_name(&long);
        assert!(shown.len() <= 255 && shown.chars().all(|c| c == 'é'));
    }

    #[test]
    fn limits_read_in_megabytes() {
        assert_eq!(format_bytes(20 * 1024 * 1024), "20 MB");
        assert_eq!(format_bytes(1000), "1000 bytes");
    }
}
