//! A DICOMweb client for the PACS a radiology team already runs (Orthanc, dcm4chee, a cloud PACS):
//! QIDO-RS to list studies and their series, WADO-RS to fetch a series' instances, STOW-RS to store
//! new instances (the classification results) in it.
//!
//! Patient names and IDs come back from a search because a signed-in user needs them to find a
//! study; this crate never logs them (its errors carry UIDs and HTTP statuses only) and stores
//! nothing.

mod dicom_json;
pub mod multipart;

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum PacsError {
    #[error("invalid DICOMweb URL: expected http(s)://host[:port]/path, without credentials (set DICOMWEB_USER and DICOMWEB_PASSWORD, or DICOMWEB_TOKEN)")]
    InvalidUrl(String),
    #[error("the PACS cannot be reached: {0}")]
    Unreachable(String),
    #[error("the PACS refused our credentials (HTTP {0}); check DICOMWEB_USER/DICOMWEB_PASSWORD or DICOMWEB_TOKEN")]
    Unauthorized(u16),
    #[error("the PACS has no {0}")]
    NotFound(String),
    #[error("{0:?} is not a DICOM UID (digits and dots, at most 64)")]
    InvalidUid(String),
    #[error("the PACS answered HTTP {status} to {what}")]
    Status { status: u16, what: String },
    #[error("the PACS answered {what} with something unreadable: {detail}")]
    Malformed { what: String, detail: String },
    #[error("the {what} from the PACS is larger than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
}

impl PacsError {
    /// What went wrong without the UIDs asked for (a study's identifiers): for logs.
    pub fn without_uids(&self) -> String {
        match self {
            PacsError::InvalidUrl(_) => "invalid DICOMweb URL".into(),
            PacsError::Unreachable(reason) => format!("unreachable: {reason}"),
            PacsError::Unauthorized(status) => format!("credentials refused (HTTP {status})"),
            PacsError::NotFound(_) => "not found".into(),
            PacsError::InvalidUid(_) => "invalid UID".into(),
            PacsError::Status { status, .. } => format!("HTTP {status}"),
            PacsError::Malformed { .. } => "unreadable answer".into(),
            PacsError::TooLarge { limit, .. } => format!("answer over {limit} bytes"),
        }
    }
}

pub type PacsResult<T> = Result<T, PacsError>;

/// How requests to the PACS prove who we are.
#[derive(Clone, Default)]
pub enum Credentials {
    #[default]
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    // The secrets never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// A study as a QIDO-RS search lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    pub study_uid: String,
    /// `YYYYMMDD`, as DICOM writes it.
    pub date: Option<String>,
    pub description: Option<String>,
    pub modalities: Vec<String>,
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    pub series_count: Option<u64>,
    pub instance_count: Option<u64>,
}

/// A series of a study, as QIDO-RS lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub series_uid: String,
    pub modality: Option<String>,
    pub description: Option<String>,
    pub number: Option<u64>,
    pub instance_count: Option<u64>,
}

/// What a STOW-RS request stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// SOP Instance UIDs the PACS accepted.
    pub accepted: Vec<String>,
    /// How many it refused.
    pub failed: usize,
}

/// A QIDO-RS study search: the newest first as the PACS orders them, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct StudyQuery {
    pub limit: usize,
    pub offset: usize,
    /// Only studies holding this modality (`MR`).
    pub modality: Option<String>,
    /// Only this patient ID (exact).
    pub patient_id: Option<String>,
    /// Only patient names starting with this (QIDO-RS wildcard matching).
    pub patient_name: Option<String>,
}

/// A DICOMweb service root, such as `http://orthanc:8042/dicom-web`.
#[derive(Debug, Clone)]
pub struct DicomWebClient {
    root: String,
    credentials: Credentials,
    http: reqwest::Client,
}

impl DicomWebClient {
    pub fn new(root: &str, credentials: Credentials) -> PacsResult<Self> {
        let root = root.trim_end_matches('/').to_owned();
        // Credentials in the URL would be shown wherever the root is (the start-up log): they
        // belong in `Credentials`.
        let valid = (root.starts_with("http://") || root.starts_with("https://"))
            && reqwest::Url::parse(&root).is_ok_and(|url| {
                url.host_str().is_some() && url.username().is_empty() && url.password().is_none()
            });
        if !valid {
            return Err(PacsError::InvalidUrl(root));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A whole series is tens of megabytes; a PACS that stalls longer than this is down.
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|error| PacsError::Unreachable(error.to_string()))?;
        Ok(Self {
            root,
            credentials,
            http,
        })
    }

    /// The service root, without credentials (safe to show and log).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// QIDO-RS `GET /studies`.
    pub async fn studies(&self, query: &StudyQuery) -> PacsResult<Vec<Study>> {
        let mut parameters = vec![
            ("limit", query.limit.max(1).to_string()),
            ("offset", query.offset.to_string()),
            ("includefield", "00081030".to_owned()),
            ("includefield", "00080061".to_owned()),
            ("includefield", "00201206".to_owned()),
            ("includefield", "00201208".to_owned()),
        ];
        if let Some(modality) = &query.modality {
            parameters.push(("ModalitiesInStudy", modality.clone()));
        }
        if let Some(id) = &query.patient_id {
            parameters.push(("PatientID", id.clone()));
        }
        if let Some(name) = &query.patient_name {
            // DICOM writes names family^given: "doe jane" is asked as "doe*jane*" (a `*` between
            // the words, since PACSes disagree on matching the `^` itself).
            let name = name.split_whitespace().collect::<Vec<_>>().join("*");
            let pattern = if name.ends_with('*') {
                name
            } else {
                format!("{name}*")
            };
            parameters.push(("PatientName", pattern));
        }
        let answer = self
            .search("/studies", &parameters, "the study list")
            .await?;
        Ok(answer
            .iter()
            .filter_map(|dataset| {
                Some(Study {
                    study_uid: dicom_json::text(dataset, "0020000D")?,
                    date: dicom_json::text(dataset, "00080020"),
                    description: dicom_json::text(dataset, "00081030"),
                    modalities: dicom_json::texts(dataset, "00080061"),
                    patient_name: dicom_json::text(dataset, "00100010"),
                    patient_id: dicom_json::text(dataset, "00100020"),
                    series_count: dicom_json::count(dataset, "00201206"),
                    instance_count: dicom_json::count(dataset, "00201208"),
                })
            })
            .collect())
    }

    /// QIDO-RS `GET /studies/{study}/series`; a study the PACS does not hold is [`PacsError::NotFound`]
    /// (an empty answer and a 404 alike).
    pub async fn series(&self, study_uid: &str) -> PacsResult<Vec<Series>> {
        check_uid(study_uid)?;
        let what = format!("study {study_uid}");
        let path = format!("/studies/{study_uid}/series");
        let parameters = [
            ("includefield", "0008103E".to_owned()),
            ("includefield", "00201209".to_owned()),
        ];
        let answer = self.search(&path, &parameters, &what).await?;
        let series: Vec<Series> = answer
            .iter()
            .filter_map(|dataset| {
                Some(Series {
                    series_uid: dicom_json::text(dataset, "0020000E")?,
                    modality: dicom_json::text(dataset, "00080060"),
                    description: dicom_json::text(dataset, "0008103E"),
                    number: dicom_json::count(dataset, "00200011"),
                    instance_count: dicom_json::count(dataset, "00201209"),
                })
            })
            .collect();
        if series.is_empty() {
            return Err(PacsError::NotFound(what));
        }
        Ok(series)
    }

    /// WADO-RS `GET /studies/{study}/series/{series}`: every instance as a DICOM Part 10 file, the
    /// whole answer at most `max_bytes`.
    pub async fn fetch_series(
        &self,
        study_uid: &str,
        series_uid: &str,
        max_bytes: u64,
    ) -> PacsResult<Vec<Vec<u8>>> {
        check_uid(study_uid)?;
        check_uid(series_uid)?;
        let what = format!("series {series_uid} of study {study_uid}");
        let path = format!("/studies/{study_uid}/series/{series_uid}");
        self.retrieve(&path, &what, max_bytes).await
    }

    /// WADO-RS `GET /studies/{study}/series/{series}/instances/{instance}`: one instance.
    pub async fn fetch_instance(
        &self,
        study_uid: &str,
        series_uid: &str,
        instance_uid: &str,
        max_bytes: u64,
    ) -> PacsResult<Vec<u8>> {
        for uid in [study_uid, series_uid, instance_uid] {
            check_uid(uid)?;
        }
        let what = format!("instance {instance_uid} of series {series_uid}");
        let path = format!("/studies/{study_uid}/series/{series_uid}/instances/{instance_uid}");
        let mut instances = self.retrieve(&path, &what, max_bytes).await?;
        Ok(instances.swap_remove(0))
    }

    /// A WADO-RS retrieval: the multipart answer's parts, at least one.
    async fn retrieve(&self, path: &str, what: &str, max_bytes: u64) -> PacsResult<Vec<Vec<u8>>> {
        let what = what.to_owned();
        let request = self
            .authorised(self.http.get(format!("{}{path}", self.root)))
            .header(
                reqwest::header::ACCEPT,
                "multipart/related; type=\"application/dicom\"",
            );
        let mut response = self.send(request, &what).await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let boundary = multipart::boundary(&content_type).ok_or_else(|| PacsError::Malformed {
            what: what.clone(),
            detail: format!("content type {content_type:?} is not multipart/related"),
        })?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| PacsError::Unreachable(error.to_string()))?
        {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(PacsError::TooLarge {
                    what,
                    limit: max_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let instances =
            multipart::parts(&body, &boundary).map_err(|detail| PacsError::Malformed {
                what: what.clone(),
                detail,
            })?;
        if instances.is_empty() {
            return Err(PacsError::NotFound(what));
        }
        Ok(instances)
    }

    /// STOW-RS `POST /studies`: stores `instances` (DICOM Part 10 files) in the PACS.
    pub async fn store(&self, instances: &[Vec<u8>]) -> PacsResult<Stored> {
        let what = "the stored result".to_owned();
        let (body, content_type) = multipart::dicom_body(instances);
        let request = self
            .authorised(self.http.post(format!("{}/studies", self.root)))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::ACCEPT, "application/dicom+json")
            .body(body);
        let response = self.send(request, &what).await?;
        let answer: Value = response
            .json()
            .await
            .map_err(|error| PacsError::Malformed {
                what: what.clone(),
                detail: error.to_string(),
            })?;
        let accepted = dicom_json::items(&answer, "00081199")
            .iter()
            .filter_map(|item| dicom_json::text(item, "00081155"))
            .collect();
        Ok(Stored {
            accepted,
            failed: dicom_json::items(&answer, "00081198").len(),
        })
    }

    async fn search(
        &self,
        path: &str,
        parameters: &[(&str, String)],
        what: &str,
    ) -> PacsResult<Vec<Value>> {
        let request = self
            .authorised(self.http.get(format!("{}{path}", self.root)))
            .query(parameters)
            .header(reqwest::header::ACCEPT, "application/dicom+json");
        let response = self.send(request, what).await?;
        // "No match" may be 204 with no body.
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        let answer: Value = response
            .json()
            .await
            .map_err(|error| PacsError::Malformed {
                what: what.to_owned(),
                detail: error.to_string(),
            })?;
        match answer {
            Value::Array(datasets) => Ok(datasets),
            _ => Err(PacsError::Malformed {
                what: what.to_owned(),
                detail: "not a JSON array".into(),
            }),
        }
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Credentials::None => request,
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> PacsResult<reqwest::Response> {
        let response = request.send().await.map_err(|error| {
            // reqwest's message names the URL (no credentials in it: they travel in a header).
            PacsError::Unreachable(error.without_url().to_string())
        })?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(PacsError::Unauthorized(status.as_u16())),
            404 => Err(PacsError::NotFound(what.to_owned())),
            code => Err(PacsError::Status {
                status: code,
                what: what.to_owned(),
            }),
        }
    }
}

/// A UID is digits and dots (PS3.5 9.1): anything else would change the request's path.
fn check_uid(uid: &str) -> PacsResult<()> {
    let valid =
        !uid.is_empty() && uid.len() <= 64 && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if valid {
        Ok(())
    } else {
        Err(PacsError::InvalidUid(uid.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_roots_are_taken() {
        for bad in [
            "",
            "orthanc:8042",
            "ftp://pacs/dicom-web",
            "http://",
            "http://reader:hunter2@pacs:8042/dicom-web",
        ] {
            assert!(
                matches!(
                    DicomWebClient::new(bad, Credentials::None),
                    Err(PacsError::InvalidUrl(_))
                ),
                "{bad}"
            );
        }
        let client = DicomWebClient::new("http://pacs:8042/dicom-web/", Credentials::None).unwrap();
        assert_eq!(client.root(), "http://pacs:8042/dicom-web");
        let refused =
            DicomWebClient::new("http://reader:hunter2@pacs/dicom-web", Credentials::None);
        assert!(!refused.unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let basic = Credentials::Basic {
            user: "reader".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{basic:?} {:?}", Credentials::Bearer("tok-123".into()));
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(shown.contains("reader"));
    }

    #[test]
    fn log_lines_name_no_uid() {
        let uid = "1.2.826.0.1.3680043.8.498.77";
        for error in [
            PacsError::NotFound(format!("study {uid}")),
            PacsError::Status {
                status: 500,
                what: format!("series {uid}"),
            },
            PacsError::Malformed {
                what: format!("series {uid}"),
                detail: "cut".into(),
            },
            PacsError::TooLarge {
                what: format!("series {uid}"),
                limit: 10,
            },
            PacsError::InvalidUid(uid.into()),
        ] {
            assert!(!error.without_uids().contains(uid), "{error:?}");
        }
    }

    #[test]
    fn a_uid_that_could_change_the_path_is_refused() {
        assert!(check_uid("1.2.840.10008.5.1.4").is_ok());
        for bad in ["", "1.2/../../tools", "1.2?x=1", &"1".repeat(65)] {
            assert!(check_uid(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_pacs_that_is_down_is_unreachable() {
        // Port 9 (discard) on loopback: nothing listens there.
        let client =
            DicomWebClient::new("http://127.0.0.1:9/dicom-web", Credentials::None).unwrap();
        let error = client.studies(&StudyQuery::default()).await.unwrap_err();
        assert!(matches!(error, PacsError::Unreachable(_)), "{error}");
    }
}
