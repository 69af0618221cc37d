//! `multipart/related` bodies (RFC 2387), the envelope WADO-RS answers and STOW-RS requests use: one
//! part per DICOM instance, each with its own headers.

use memchr::memmem;

/// The `boundary` parameter of a `multipart/related` content type, unquoted; `None` when the type
/// is not multipart or names no boundary.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parameters = content_type.split(';');
    let kind = parameters.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/related") {
        return None;
    }
    parameters.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|value| !value.is_empty())
    })
}

/// The bodies of `body`'s parts, in order. A part's headers are skipped (every part of a WADO-RS
/// series answer is `application/dicom`; the DICOM reader checks each one itself).
pub fn parts(body: &[u8], boundary: &str) -> Result<Vec<Vec<u8>>, String> {
    let delimiter = format!("--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    let mut at = finder
        .find(body)
        .ok_or_else(|| "no part delimiter in the multipart body".to_owned())?
        + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let headers_end = memmem::find(rest, b"\r\n\r\n")
            .ok_or_else(|| format!("part {} has no end of headers", parts.len() + 1))?;
        let content_start = at + headers_end + 4;
        let next = memmem::find(
            &body[content_start..],
            format!("\r\n{delimiter}").as_bytes(),
        )
        .ok_or_else(|| format!("part {} is not closed (truncated answer?)", parts.len() + 1))?;
        parts.push(body[content_start..content_start + next].to_vec());
        at = content_start + next + 2 + delimiter.len();
    }
}

/// A `multipart/related` body of DICOM instances, and its content type.
pub fn dicom_body(instances: &[Vec<u8>]) -> (Vec<u8>, String) {
    // A boundary that occurs in no instance (each is checked; a clash is astronomically unlikely, but
    // a clash would cut an instance short).
    let mut boundary = String::from("brainscan-dicom-boundary-7f3a9c");
    while instances
        .iter()
        .any(|instance| memmem::find(instance, boundary.as_bytes()).is_some())
    {
        boundary.push('x');
    }
    let mut body = Vec::with_capacity(instances.iter().map(Vec::len).sum::<usize>() + 128);
    for instance in instances {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(instance);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type =
        format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
    (body, content_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_built_here_reads_back_part_for_part() {
        // Parts that hold CR LF and a near-delimiter must come back byte for byte.
        let instances = vec![
            b"first\r\n--brainscan not the boundary\r\n".to_vec(),
            Vec::new(),
            vec![0u8, 255, 13, 10, 45, 45],
        ];
        let (body, content_type) = dicom_body(&instances);
        let boundary = boundary(&content_type).expect("boundary");
        assert_eq!(parts(&body, &boundary).unwrap(), instances);
    }

    #[test]
    fn a_boundary_found_in_an_instance_is_not_used() {
        let instances = vec![b"--brainscan-dicom-boundary-7f3a9c".to_vec()];
        let (body, content_type) = dicom_body(&instances);
        let boundary = boundary(&content_type).unwrap();
        assert_ne!(boundary, "brainscan-dicom-boundary-7f3a9c");
        assert_eq!(parts(&body, &boundary).unwrap(), instances);
    }

    #[test]
    fn an_answer_in_orthancs_shape_is_read() {
        let content_type = "multipart/related; type=\"application/dicom\"; boundary=\"abc123\"";
        let body = b"preamble\r\n--abc123\r\nContent-Type: application/dicom\r\nContent-Length: 3\r\n\r\nDCM\r\n--abc123\r\nContent-Type: application/dicom\r\n\r\nTWO\r\n--abc123--\r\n";
        let boundary = boundary(content_type).unwrap();
        assert_eq!(boundary, "abc123");
        assert_eq!(
            parts(body, &boundary).unwrap(),
            vec![b"DCM".to_vec(), b"TWO".to_vec()]
        );
    }

    #[test]
    fn a_cut_answer_is_an_error_not_a_short_series() {
        let body = b"--abc\r\nContent-Type: application/dicom\r\n\r\nONE\r\n--abc\r\nContent-Type: application/dicom\r\n\r\nTW";
        let error = parts(body, "abc").unwrap_err();
        assert!(error.contains("part 2"), "{error}");
        assert!(boundary("application/dicom+json").is_none());
        assert!(boundary("multipart/related; type=\"application/dicom\"").is_none());
    }
}
