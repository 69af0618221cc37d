//! The OpenAPI 3 document (`GET /openapi.json`) and the interactive docs (`GET /docs`, `/redoc`).
//!
//! Request and response schemas are derived from the very types the handlers exchange; the
//! operations are declared here because most endpoints are Leptos server functions, whose
//! signatures (a multipart stream, a server-function codec) say little about the HTTP contract.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BrainScan MRI API",
        description = "Classify brain MRI slices (glioma, meningioma, no tumour, pituitary), upload \
                       labelled images, retrain and version the model, and watch it in production. \
                       Every error is JSON: `{\"error\": kind, \"detail\": what was wrong}`."
    ),
    components(schemas(app::error::ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "prediction", description = "Classify MRI slices"),
        (name = "retraining", description = "Labelled uploads, retraining jobs and model versions"),
        (name = "feedback", description = "Reviewers confirm or correct predictions (corrections become \
            training data); the review queue; accuracy on reviewed answers"),
        (name = "insights", description = "Data and model reports behind the charts"),
        (name = "pacs", description = "Studies in the hospital's PACS over DICOMweb (`DICOMWEB_URL`): \
            list, classify whole series, store results back"),
        (name = "operations", description = "Health, uptime, metrics and these docs"),
        (name = "accounts", description = "Logging in, users, API tokens and the audit trail. Roles: \
            viewer (predict, read), annotator (+ upload), admin (+ retrain, activate, accounts). \
            Changes need a role; reads and predictions too when the server runs with \
            `--public-read false`. 401: no valid credentials; 403: the role is not enough, or a \
            browser request came from another site."),
    )
)]
pub struct ApiDoc;

/// API tokens (`Authorization: Bearer ...`) and the browser's session cookie.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                app::ssr::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document, built once for `/openapi.json` and the `/api` index alike.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document = ApiDoc::openapi().merge_from(paths::Operations::openapi());
        declare_access(&mut document);
        document
    })
}

/// Gives every operation what the access table and the rate limits (which the server enforces
/// before any handler runs) make true of it: the credentials it takes (optional for reads and
/// predictions, which a public-read server answers to anyone), the role in its description, and
/// its 401, 403 and 429 answers. Declared once here, so the document cannot disagree with the
/// guard.
fn declare_access(document: &mut utoipa::openapi::OpenApi) {
    use axum::http::Method;
    use utoipa::openapi::security::SecurityRequirement;

    use super::access::{is_static, required_access, Access};

    let credentials = || {
        vec![
            SecurityRequirement::new("api_token", Vec::<String>::new()),
            SecurityRequirement::new("session_cookie", Vec::<String>::new()),
        ]
    };
    for (template, item) in document.paths.paths.iter_mut() {
        // `/models/{version}/activate` is decided as any one version's path is.
        let concrete: String = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
        ] {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            let who = match required_access(&method, &concrete) {
                Access::Public => None,
                Access::Read => {
                    let mut optional = vec![SecurityRequirement::default()];
                    optional.extend(credentials());
                    operation.security = Some(optional);
                    add_error(
                        operation,
                        "401",
                        "No valid credentials, on a server started with `--public-read false`",
                    );
                    Some(
                        "anyone; a viewer when the server runs with `--public-read false`"
                            .to_owned(),
                    )
                }
                Access::Role(role) => {
                    operation.security = Some(credentials());
                    add_error(
                        operation,
                        "401",
                        "No valid credentials (log in, or send `Authorization: Bearer <token>`)",
                    );
                    add_error(operation, "403", "The caller's role is not enough, or a browser request came from another site");
                    Some(format!("{role} or above"))
                }
            };
            if let Some(who) = who {
                let description = operation.description.get_or_insert_with(String::new);
                if !description.is_empty() {
                    description.push_str("\n\n");
                }
                description.push_str(&format!("**Who may call it:** {who}."));
            }
            if !is_static(&method, &concrete) {
                add_error(operation, "429", "Over this client address's budget (see the README's security section); `Retry-After` says when to retry");
            }
        }
    }
}

/// Documents an error answer with the JSON error body, unless the operation already describes it.
fn add_error(operation: &mut utoipa::openapi::path::Operation, status: &str, description: &str) {
    use utoipa::openapi::{Content, Ref, RefOr, Response};
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            let mut response = Response::new(description);
            let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            response
                .content
                .insert("application/json".to_owned(), body.into());
            RefOr::T(response)
        });
}

/// What a request body must be, as the document declares it for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Multipart,
    Json,
}

/// The body kind of the `POST` documented at `path` (templates such as `/models/{version}/activate`
/// match any one segment), so the access guard enforces what the documentation promises without a
/// list of its own.
pub fn post_body_kind(path: &str) -> Option<BodyKind> {
    static KINDS: OnceLock<Vec<(String, BodyKind)>> = OnceLock::new();
    let kinds = KINDS.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .filter_map(|(template, item)| {
                let utoipa::openapi::RefOr::T(body) = item.post.as_ref()?.request_body.as_ref()?
                else {
                    return None;
                };
                let kind = if body.content.contains_key("multipart/form-data") {
                    BodyKind::Multipart
                } else if body.content.contains_key("application/json") {
                    BodyKind::Json
                } else {
                    return None;
                };
                Some((template.clone(), kind))
            })
            .collect()
    });
    kinds
        .iter()
        .find(|(template, _)| matches_template(template, path))
        .map(|(_, kind)| *kind)
}

fn matches_template(template: &str, path: &str) -> bool {
    let mut template_segments = template.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (template_segments.next(), path_segments.next()) {
            (None, None) => return true,
            (Some(expected), Some(actual)) => {
                let parameter = expected.starts_with('{') && expected.ends_with('}');
                if !(parameter && !actual.is_empty() || expected == actual) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The document as JSON, serialised once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_pretty_json()
            .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    })
}

pub async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
        .into_response()
}

/// Swagger UI, loaded from our own server (`/swagger-ui/`, where `scripts/vendor-swagger-ui.sh`
/// puts its files in the site): the docs work without internet access.
/// Swagger UI runs scripts only from this site and styles its own elements inline.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                        base-uri 'self'; frame-ancestors 'none'";

pub async fn docs() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, DOCS_CSP)],
        Html(include_str!("docs.html")),
    )
}

pub async fn docs_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("docs.js"),
    )
}

pub async fn redoc() -> Redirect {
    Redirect::permanent("/docs")
}

/// A server function's path, as its `#[server]` attribute declares it.
fn server_fn_path<F: leptos::server_fn::ServerFn>() -> &'static str {
    F::PATH
}

/// Declares each operation's stub for `utoipa::path` and collects them all in `Operations`.
macro_rules! operations {
    ($($(#[$attribute:meta])* fn $name:ident;)+) => {
        $(
            $(#[$attribute])*
            #[allow(dead_code)]
            fn $name() {}
        )+

        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($name),+))]
        pub struct Operations;
    };
}

/// Request bodies of the multipart endpoints, for the document only.
mod forms {
    use app::types::auth::Role;
    use utoipa::ToSchema;

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct RelabelForm {
        id: i64,
        /// glioma, meningioma, notumor or pituitary
        class_name: String,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct DeleteForm {
        id: i64,
    }

    /// The UI's form of `POST /predictions/{id}/feedback`.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct FeedbackForm {
        prediction_id: i64,
        /// right or wrong
        verdict: String,
        /// The true class, required for `wrong`: glioma, meningioma, notumor or pituitary.
        class_name: Option<String>,
    }

    /// The body of `POST /predictions/explain`.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct ExplainKeptRequest {
        prediction_id: i64,
    }

    /// The body of `POST /pacs/explain`.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct PacsInstanceRequest {
        study_uid: String,
        series_uid: String,
        instance_uid: String,
    }

    /// The body of `POST /pacs/classify` and `POST /pacs/store`.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct PacsSeriesRequest {
        study_uid: String,
        series_uid: String,
        /// Each slice's picture in the answer, for a viewer (default false).
        images: Option<bool>,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct CancelForm {
        /// The queued or running session (`GET /retrain/status`).
        session_id: i64,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct LoginRequest {
        username: String,
        password: String,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct AddUserRequest {
        username: String,
        /// At least 10 characters.
        password: String,
        role: Role,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct RemoveUserRequest {
        username: String,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct CreateTokenRequest {
        name: String,
        role: Role,
    }

    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct RevokeTokenRequest {
        id: i64,
    }

    /// One image file.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct PredictForm {
        /// A JPEG, PNG, BMP, WebP or GIF MRI slice.
        #[schema(value_type = String, format = Binary)]
        file: Vec<u8>,
    }

    /// Several image files in one request.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct BatchPredictForm {
        #[schema(value_type = Vec<String>, format = Binary)]
        files: Vec<Vec<u8>>,
    }

    /// Labelled images for the next retraining job.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct UploadForm {
        /// One of `glioma`, `meningioma`, `notumor`, `pituitary`.
        class_name: String,
        #[schema(value_type = Vec<String>, format = Binary)]
        files: Vec<Vec<u8>>,
    }

    /// An annotator's decision on a held upload.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct ReviewRequest {
        /// The held upload's id.
        id: i64,
        decision: app::types::review::ReviewDecision,
        /// The class to train it as; required for `relabel`.
        class_name: Option<String>,
    }

    /// The UI's model activation call.
    #[derive(ToSchema)]
    #[allow(dead_code)]
    pub struct ActivateForm {
        version: String,
    }
}

/// One declaration per operation: `operations!` turns each into the stub `utoipa::path` reads and
/// lists it in [`paths::Operations`], so a new endpoint is documented in exactly one place. A
/// server function's path comes from the server function itself.
mod paths {
    use app::error::ErrorBody;
    use app::types::auth::{
        AuditEntry, CreatedToken, CurrentUser, SessionInfo, TokenSummary, UserSummary,
    };
    use app::types::data::{UploadRow, UploadsPage};
    use app::types::drift::DriftReport;
    use app::types::feedback::{FeedbackRequest, FeedbackResponse, LiveAccuracy, ReviewQueue};
    use app::types::insights::VisualizationData;
    use app::types::model::ModelReport;
    use app::types::monitor::{MetricsHistory, MetricsReport};
    use app::types::pacs::{PacsClassification, StudyList, StudySeries};
    use app::types::predict::{BatchPredictionResponse, ExplanationResponse, PredictionResponse};
    use app::types::retrain::{
        ActivateRequest, CancelResponse, DatabaseStats, ModelsResponse, RetrainOutlook,
        RetrainStatus, SessionsResponse, TriggerRequest, TriggerResponse, UploadResponse,
    };
    use app::types::review::{HeldUploadsResponse, ReviewResult};
    use app::types::series::SeriesPredictionResponse;
    use app::types::status::{HealthReport, ServerStatus, UptimeReport};
    use domain::comparison::VersionComparison;

    use super::forms::{
        ActivateForm, AddUserRequest, BatchPredictForm, CancelForm, CreateTokenRequest, DeleteForm,
        ExplainKeptRequest, FeedbackForm, LoginRequest, PacsInstanceRequest, PacsSeriesRequest,
        PredictForm, RelabelForm, RemoveUserRequest, ReviewRequest, RevokeTokenRequest, UploadForm,
    };
    use super::server_fn_path;

    operations! {

        #[utoipa::path(
            post, path = server_fn_path::<app::api::predict::Predict>(), tag = "prediction",
            summary = "Classify one image",
            description = "Multipart field `file`. Answers the predicted class, its calibrated confidence \
                           and every class's probability; the prediction is recorded. `needs_review` \
                           is true when the confidence is below the model's review threshold (chosen \
                           so that the answers not flagged were 99.5% right on validation), with the \
                           `runner_up` class. An image that is not a brain MRI slice is refused with \
                           422 `not_brain_mri` and its `score` and the model's `threshold`. \
                           JPEG, PNG, BMP, WebP, GIF or DICOM Part 10 (recognised by its `DICM` \
                           preamble, any file name): a DICOM file is windowed with its first Window \
                           Center/Width (else its min-max), MONOCHROME1 inverted; of a multi-frame \
                           file the middle frame is read; the answer's `dicom` says which frame and \
                           what the file says about the acquisition, never about the patient. A DICOM \
                           file whose Modality is not MR is refused with 422 `not_brain_mri` (no \
                           `score`) before the model runs.",
            request_body(content = PredictForm, content_type = "multipart/form-data"),
            responses(
                (status = 200, description = "The prediction", body = PredictionResponse),
                (status = 400, description = "No `file` field, not multipart, or not a decodable image", body = ErrorBody),
                (status = 413, description = "Larger than the upload limit", body = ErrorBody),
                (status = 415, description = "A DICOM transfer syntax this build cannot decode (`unsupported_media_type`, naming it)", body = ErrorBody),
                (status = 422, description = "Not a brain MRI slice (`not_brain_mri`, with `score` and `threshold`), or a DICOM modality other than MR", body = ErrorBody),
                (status = 503, description = "No model is loaded", body = ErrorBody),
            )
        )]
        fn predict;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::predict::PredictBatch>(), tag = "prediction",
            summary = "Classify several images",
            description = "Multipart field `files`, repeated. A file that cannot be classified gets its own \
                           error entry (`error` `not_brain_mri` with `detail`, `score` and `threshold` \
                           for an image that is not a brain MRI slice); the others are still answered. \
                           A multi-frame DICOM file gets one entry per frame (`dicom.frame`); at most \
                           64 images and frames per request (413 beyond).",
            params(("format" = Option<String>, Query, description = "`json` (default) or `csv`: one row per file or frame, \
                with every class's probability, as a `predictions.csv` download")),
            request_body(content = BatchPredictForm, content_type = "multipart/form-data"),
            responses(
                (status = 200, description = "One result per file (per frame for multi-frame DICOM), in order",
                    content(
                        (BatchPredictionResponse = "application/json"),
                        (String = "text/csv"),
                    )),
                (status = 400, description = "No `files` field, not multipart, or an unknown `format`", body = ErrorBody),
                (status = 413, description = "Larger than the upload limit", body = ErrorBody),
                (status = 503, description = "No model is loaded", body = ErrorBody),
            )
        )]
        fn predict_batch;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::predict::PredictSeries>(), tag = "prediction",
            summary = "Classify whole DICOM series, with one verdict per series",
            description = "Multipart field `files`, repeated: DICOM files, or one zip of them (stored or \
                           deflated). Instances are grouped by Study and Series Instance UID (answered \
                           to the sender, never stored), ordered along the slice normal (Image \
                           Position/Orientation), else by Instance Number, else as uploaded, and every \
                           slice (every frame) is classified. Each series gets a verdict by the rule in \
                           `rule`, with the slices it rests on and `needs_review` when slices disagree. \
                           Files that are not readable DICOM MR instances are listed in `rejected` (a CT \
                           is `not_mr`); slices the model refuses carry `error` `not_brain_mri` and are \
                           left out of the verdict. At most 500 files and frames (413 beyond); each \
                           slice spends one image of the prediction budget.",
            request_body(content = BatchPredictForm, content_type = "multipart/form-data"),
            responses(
                (status = 200, description = "Every series found, and the rejected files", body = SeriesPredictionResponse),
                (status = 400, description = "No `files` field, a broken zip, or no readable DICOM MR slice at all", body = ErrorBody),
                (status = 413, description = "More than 500 files or frames, or larger than the upload limit", body = ErrorBody),
                (status = 503, description = "No model is loaded", body = ErrorBody),
            )
        )]
        fn predict_series;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::pacs::PacsStudies>(), tag = "pacs",
            summary = "The PACS's studies (QIDO-RS), with the verdicts recorded for them",
            description = "A page of the studies of the PACS at `DICOMWEB_URL`: date, modalities,                            description, series and instance counts, and patient name and ID (passed                            through to the signed-in caller, never stored or logged). `last_result` is                            the newest verdict recorded for the study, found by its hashed UID.",
            params(
                ("limit" = Option<usize>, Query, description = "1-100, default 25"),
                ("offset" = Option<usize>, Query, description = "Studies to skip"),
                ("mr_only" = Option<bool>, Query, description = "Only studies with an MR series"),
                ("patient_id" = Option<String>, Query, description = "Only this patient ID"),
                ("patient_name" = Option<String>, Query, description = "Only patient names starting with this (`doe jane`)"),
            ),
            responses(
                (status = 200, description = "A page of studies", body = StudyList),
                (status = 502, description = "The PACS is down, refused our credentials or answered an error", body = ErrorBody),
                (status = 503, description = "No PACS is configured (`DICOMWEB_URL`)", body = ErrorBody),
            )
        )]
        fn pacs_studies;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::pacs::PacsSeries>(), tag = "pacs",
            summary = "A study's series (QIDO-RS)",
            params(("study_uid" = String, Query, description = "Study Instance UID")),
            responses(
                (status = 200, description = "The study's series, MR ones `classifiable`", body = StudySeries),
                (status = 404, description = "The PACS has no such study", body = ErrorBody),
                (status = 502, description = "The PACS is down, refused our credentials or answered an error", body = ErrorBody),
                (status = 503, description = "No PACS is configured", body = ErrorBody),
            )
        )]
        fn pacs_series;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::pacs::PacsClassify>(), tag = "pacs",
            summary = "Fetch a series from the PACS (WADO-RS) and classify it",
            description = "As `POST /predict/series` on the series' instances, with the time the fetch                            and the classification took. The verdict is recorded with the UIDs hashed.",
            request_body(content = PacsSeriesRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "The series' slices and verdict", body = PacsClassification),
                (status = 400, description = "The series holds no classifiable MR slice", body = ErrorBody),
                (status = 404, description = "The PACS has no such series", body = ErrorBody),
                (status = 413, description = "The series is larger than the request limit or 500 instances", body = ErrorBody),
                (status = 502, description = "The PACS is down, refused our credentials or answered an error", body = ErrorBody),
                (status = 503, description = "No PACS or no model", body = ErrorBody),
            )
        )]
        fn pacs_classify;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::pacs::PacsStore>(), tag = "pacs",
            summary = "Classify a series from the PACS and store the result in it (STOW-RS)",
            description = "As `/pacs/classify`, then each answered slice's Grad-CAM heatmap with its                            class, probabilities, the series verdict and \"RESEARCH USE ONLY\" burned in,                            stored as a DICOM Secondary Capture series (Modality OT) of the same study                            and patient. Annotators and admins.",
            request_body(content = PacsSeriesRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "The classification and what was stored", body = PacsClassification),
                (status = 404, description = "The PACS has no such series", body = ErrorBody),
                (status = 502, description = "The PACS failed or stored none of the images", body = ErrorBody),
                (status = 503, description = "No PACS, no model, or explanations busy", body = ErrorBody),
            )
        )]
        fn pacs_store;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::pacs::PacsExplain>(), tag = "pacs",
            summary = "Where the model looks on one instance of a PACS series",
            description = "The instance fetched with WADO-RS and explained as `POST /predict/explain` \
                           answers, without recording a prediction (the series' classification did). \
                           `instance_uid` is a slice's `sop_instance_uid` from `/pacs/classify`. Costs 4 \
                           images of the prediction budget.",
            request_body(content = PacsInstanceRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Explanation", body = ExplanationResponse),
                (status = 404, description = "The PACS has no such instance", body = ErrorBody),
                (status = 422, description = "Not a brain MRI slice", body = ErrorBody),
                (status = 502, description = "The PACS is down, refused our credentials or answered an error", body = ErrorBody),
                (status = 503, description = "No PACS, no model, or explanations busy", body = ErrorBody),
            )
        )]
        fn pacs_explain;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::predict::ExplainPrediction>(), tag = "prediction",
            summary = "Classify one image and show where the model looked",
            description = "Multipart field `file`. The prediction (as `/predict`) plus the Grad-CAM \
                           heatmap of the predicted class on the last convolutional feature map, \
                           computed with Burn's autodiff on the serving model: `heatmap` rows \
                           (`grid_height` x `grid_width`, 0-1, the hottest cell 1) over the slice the \
                           model saw (`slice_png`, cropped to the head, from the original pixels at \
                           `slice_size` px, up to 448), and the two blended \
                           (`overlay_png`); both PNGs base64. Viewer role, like `/predict`.",
            request_body(content = PredictForm, content_type = "multipart/form-data"),
            responses(
                (status = 200, description = "The prediction and its explanation", body = ExplanationResponse),
                (status = 400, description = "No `file` field, not multipart, or not a decodable image", body = ErrorBody),
                (status = 413, description = "Larger than the upload limit", body = ErrorBody),
                (status = 422, description = "Not a brain MRI slice (`not_brain_mri`)", body = ErrorBody),
                (status = 503, description = "No model is loaded, or two explanations are already running", body = ErrorBody),
            )
        )]
        fn explain_prediction;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::retrain::UploadTrainingImages>(), tag = "retraining",
            summary = "Upload labelled images",
            description = "Multipart `files` (repeated) and `class_name`. Each file is decoded, checked \
                           and stored once (duplicates by SHA-256 are reported, not stored twice). A \
                           training upload whose label the serving model confidently contradicts is \
                           `held` for an annotator (`GET /retrain/review`) instead of being queued; one \
                           that is not a brain MRI slice is `rejected` with the reason. A DICOM \
                           slice is stored as its windowed 8-bit PNG (never the file), deduplicated by \
                           its decoded pixels, with a de-identified summary; a multi-frame file is \
                           rejected (one slice per file).",
            request_body(content = UploadForm, content_type = "multipart/form-data"),
            responses(
                (status = 200, description = "Per-file outcome and totals", body = UploadResponse),
                (status = 400, description = "Unknown class, no files, or no file could be stored", body = ErrorBody),
                (status = 413, description = "Larger than the upload limit", body = ErrorBody),
            )
        )]
        fn upload_training_images;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::retrain::TriggerRetrain>(), tag = "retraining",
            summary = "Start a retraining job",
            description = "Fine-tunes the serving model on the pending uploads (plus replayed training \
                           images) in the background; poll `/retrain/status`.",
            request_body(content = TriggerRequest, content_type = "application/json",
                example = json!({"epochs": 3, "fine_tune_epochs": 1})),
            responses(
                (status = 202, description = "The job started", body = TriggerResponse),
                (status = 400, description = "Bad epochs or nothing to learn from", body = ErrorBody),
                (status = 409, description = "A job is already running (`session_id` says which)", body = ErrorBody),
            )
        )]
        fn trigger_retrain;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::GetRetrainStatus>(), tag = "retraining",
            summary = "The latest retraining session, with live progress while it runs",
            responses((status = 200, description = "Status", body = RetrainStatus))
        )]
        fn retrain_status;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::RetrainReadiness>(), tag = "retraining",
            summary = "What a retraining started now would be judged on, and whether it could activate",
            responses((status = 200, description = "The outlook", body = RetrainOutlook))
        )]
        fn retrain_readiness;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::retrain::CancelRetrain>(), tag = "retraining",
            summary = "Cancel a queued or running retraining job",
            description = "A queued job ends at once; a running one stops at its next batch and keeps \
                           nothing it trained (its session ends `failed` with outcome `cancelled`). \
                           Audited as `retrain.cancel`.",
            request_body(content = CancelForm, content_type = "application/json"),
            responses(
                (status = 200, description = "Cancelled, or stopping", body = CancelResponse),
                (status = 404, description = "The session is not queued or running", body = ErrorBody),
            )
        )]
        fn cancel_retrain;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::RetrainSessions>(), tag = "retraining",
            summary = "Recent retraining sessions with before/after metrics",
            params(("limit" = Option<i64>, Query, description = "How many, newest first (1-100, default 5)")),
            responses(
                (status = 200, description = "Sessions", body = SessionsResponse),
                (status = 400, description = "`limit` out of range", body = ErrorBody),
            )
        )]
        fn retrain_sessions;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::GetDatabaseStats>(), tag = "retraining",
            summary = "Counts of uploads, sessions and predictions",
            responses((status = 200, description = "Counts", body = DatabaseStats))
        )]
        fn database_stats;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::ListModels>(), tag = "retraining",
            summary = "Every model version with its validation metrics",
            responses((status = 200, description = "Versions and the active one", body = ModelsResponse))
        )]
        fn list_models;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::retrain::CompareModels>(), tag = "retraining",
            summary = "Two versions on the same images, or why they cannot be compared",
            description = "Per-class recall, confusion matrices and the accuracy difference with its \
                           95% interval (Newcombe), when one version is the other's parent (scored \
                           on the same images during the retraining) or both were scored on the same \
                           fixed set; otherwise `comparable: false` and the two sets named.",
            params(
                ("version" = String, Query, description = "A version listed by `GET /models`"),
                ("against" = Option<String>, Query, description = "The other version (default: the serving one)"),
            ),
            responses(
                (status = 200, description = "The comparison", body = VersionComparison),
                (status = 404, description = "No such version", body = ErrorBody),
            )
        )]
        fn compare_models;

        #[utoipa::path(
            post, path = "/models/{version}/activate", tag = "retraining",
            summary = "Serve another model version, without a restart",
            description = "Admins only. A version the activation gate rejected needs \
                           `{\"force\": true, \"reason\": \"...\"}`; the reason goes to the audit trail.",
            params(("version" = String, Path, description = "A version listed by `GET /models`")),
            request_body(content = Option<ActivateRequest>, content_type = "application/json"),
            responses(
                (status = 200, description = "Versions after the switch", body = ModelsResponse),
                (status = 400, description = "Rejected by the gate and not forced with a reason", body = ErrorBody),
                (status = 404, description = "No such version", body = ErrorBody),
                (status = 503, description = "The version's files cannot be loaded", body = ErrorBody),
            )
        )]
        fn activate_model;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::retrain::ActivateModel>(), tag = "retraining",
            summary = "The Retrain page's form of `POST /models/{version}/activate`",
            request_body(content = ActivateForm, content_type = "application/x-www-form-urlencoded"),
            responses(
                (status = 200, description = "Versions after the switch", body = ModelsResponse),
                (status = 404, description = "No such version", body = ErrorBody),
            )
        )]
        fn activate_model_ui;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::review::HeldUploads>(), tag = "retraining",
            summary = "Uploads held because the serving model confidently contradicts their label (annotator)",
            description = "A training upload whose label gets at most 5% from the serving model while                        another class gets at least 70% is stored but held: it is not trained on                        until an annotator confirms, relabels or discards it.",
            security(("api_token" = []), ("session_cookie" = [])),
            params(("limit" = Option<i64>, Query, description = "How many, oldest first (1-200, default 50)")),
            responses(
                (status = 200, description = "Held uploads", body = HeldUploadsResponse),
                (status = 400, description = "`limit` out of range", body = ErrorBody),
                (status = 401, description = "Not signed in", body = ErrorBody),
                (status = 403, description = "Needs the annotator role", body = ErrorBody),
            )
        )]
        fn held_uploads;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::review::ReviewUpload>(), tag = "retraining",
            summary = "Confirm, relabel or discard a held upload (annotator, not the uploader; an admin may decide on their own; audited)",
            security(("api_token" = []), ("session_cookie" = [])),
            request_body(content = ReviewRequest, content_type = "application/json",
                example = json!({"id": 12, "decision": "relabel", "class_name": "glioma"})),
            responses(
                (status = 200, description = "Decided; confirmed and relabelled uploads are now pending", body = ReviewResult),
                (status = 400, description = "Unknown decision or class, or a relabel to the same class", body = ErrorBody),
                (status = 403, description = "Not an annotator, or an annotator deciding on their own upload", body = ErrorBody),
                (status = 404, description = "Not held (unknown, or already decided)", body = ErrorBody),
            )
        )]
        fn review_upload;

        #[utoipa::path(
            get, path = "/retrain/review/{id}/image", tag = "retraining",
            summary = "A held upload's image (annotator)",
            security(("api_token" = []), ("session_cookie" = [])),
            params(("id" = i64, Path, description = "A held upload's id")),
            responses(
                (status = 200, description = "The stored image bytes", content_type = "image/*"),
                (status = 404, description = "Not held (unknown, or already decided)", body = ErrorBody),
            )
        )]
        fn held_image;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::data::ListUploads>(), tag = "retraining",
            summary = "Stored uploads, newest first, with filters (annotator)",
            params(
                ("class_name" = Option<String>, Query, description = "glioma, meningioma, notumor or pituitary"),
                ("status" = Option<String>, Query, description = "pending, used, held, discarded or reference"),
                ("uploaded_by" = Option<String>, Query, description = "The uploader's account or token name"),
                ("purpose" = Option<String>, Query, description = "training or reference"),
                ("from" = Option<String>, Query, description = "Uploaded on or after this day, YYYY-MM-DD (UTC)"),
                ("until" = Option<String>, Query, description = "Uploaded on or before this day, YYYY-MM-DD (UTC)"),
                ("before" = Option<i64>, Query, description = "Only ids below this (the next page)"),
                ("limit" = Option<i64>, Query, description = "1-200, default 50"),
            ),
            responses(
                (status = 200, description = "A page and the total the filters keep", body = UploadsPage),
                (status = 400, description = "An unknown class or status, or a limit out of range", body = ErrorBody),
            )
        )]
        fn list_uploads;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::data::RelabelUpload>(), tag = "retraining",
            summary = "Give an upload no version was trained on another label (annotator, audited)",
            request_body(content = RelabelForm, content_type = "application/json"),
            responses(
                (status = 200, description = "The upload after the change", body = UploadRow),
                (status = 404, description = "No such upload", body = ErrorBody),
                (status = 409, description = "Trained on, held for review or deleted", body = ErrorBody),
            )
        )]
        fn relabel_upload;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::data::DeleteUpload>(), tag = "retraining",
            summary = "Delete an upload no version was trained on (soft: discarded, kept for the record; annotator, audited)",
            request_body(content = DeleteForm, content_type = "application/json"),
            responses(
                (status = 200, description = "The upload after the change", body = UploadRow),
                (status = 404, description = "No such upload", body = ErrorBody),
                (status = 409, description = "Trained on, or already deleted", body = ErrorBody),
            )
        )]
        fn delete_upload;

        #[utoipa::path(
            get, path = "/uploads/{id}/image", tag = "retraining",
            summary = "A stored upload's image (annotator)",
            params(("id" = i64, Path, description = "An upload's id")),
            responses(
                (status = 200, description = "The stored image bytes", content_type = "image/*"),
                (status = 404, description = "No such upload", body = ErrorBody),
            )
        )]
        fn upload_image;

        #[utoipa::path(
            post, path = "/predictions/{id}/feedback", tag = "feedback",
            summary = "Say whether a prediction was right; a correction becomes training data (audited)",
            description = "Once per reviewer and prediction. `right` records the answer as confirmed; \
                           `wrong` with the true `class_name` also makes the kept slice a pending \
                           training upload (provenance: this prediction) through every upload check: \
                           a duplicate is reported, a slice the model confidently reads otherwise is \
                           held for a second annotator.",
            params(("id" = i64, Path, description = "`prediction_id` from a `/predict` answer")),
            request_body(content = FeedbackRequest, content_type = "application/json",
                example = json!({"verdict": "wrong", "class_name": "meningioma"})),
            responses(
                (status = 200, description = "Recorded; for a correction, the upload it became", body = FeedbackResponse),
                (status = 400, description = "Unknown verdict or class, or a correction to the class the model answered", body = ErrorBody),
                (status = 404, description = "No such prediction, or its slice was never kept (needed for a correction)", body = ErrorBody),
                (status = 409, description = "This reviewer already judged this prediction", body = ErrorBody),
                (status = 410, description = "The slice was deleted when its retention ended (a correction needs it)", body = ErrorBody),
            )
        )]
        fn prediction_feedback;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::feedback::GiveFeedback>(), tag = "feedback",
            summary = "The pages' form of `POST /predictions/{id}/feedback`",
            request_body(content = FeedbackForm, content_type = "application/json"),
            responses(
                (status = 200, description = "Recorded", body = FeedbackResponse),
                (status = 409, description = "This reviewer already judged this prediction", body = ErrorBody),
                (status = 410, description = "The slice's retention ended", body = ErrorBody),
            )
        )]
        fn give_feedback;

        #[utoipa::path(
            get, path = "/predictions/{id}/slice", tag = "feedback",
            summary = "A kept prediction slice (8-bit PNG of the pixels, no DICOM header)",
            description = "A patient's image: it needs a signed-in viewer even on a public-read server, \
                           and is sent `Cache-Control: private, no-store`.",
            params(("id" = i64, Path, description = "A prediction's id")),
            responses(
                (status = 200, description = "The slice", content_type = "image/png"),
                (status = 404, description = "No such prediction, or its slice was not kept", body = ErrorBody),
                (status = 410, description = "Deleted when its retention ended", body = ErrorBody),
            )
        )]
        fn prediction_slice;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::feedback::PredictionsToReview>(), tag = "feedback",
            summary = "The review queue: kept predictions nobody reviewed, flagged first, then the least certain",
            description = "Ordered by `needs_review` and then by the margin between the top two \
                           probabilities, smallest first (uncertainty sampling: the answers a \
                           correction teaches the model most from).",
            params(
                ("model_version" = Option<String>, Query, description = "Only this version's answers"),
                ("class_name" = Option<String>, Query, description = "Only answers of this class"),
                ("limit" = Option<i64>, Query, description = "1-100, default 20"),
            ),
            responses(
                (status = 200, description = "A page of the queue and its total", body = ReviewQueue),
                (status = 400, description = "An unknown class or a limit out of range", body = ErrorBody),
            )
        )]
        fn predictions_to_review;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::feedback::GetLiveAccuracy>(), tag = "feedback",
            summary = "Accuracy on reviewed answers, per model version",
            description = "For each version with reviewed answers: the share reviewers confirmed and \
                           the recall per class with 95% Wilson intervals, and the confusion matrix \
                           (`confusion[true][predicted]`). The serving version first.",
            responses((status = 200, description = "Live accuracy", body = LiveAccuracy))
        )]
        fn get_live_accuracy;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::feedback::GetDrift>(), tag = "feedback",
            summary = "Drift of the serving model's inputs against its validation split",
            description = "For each signal (the not-an-MRI distance, the top probability, the \
                           predicted class mix, the head crop's mean intensity and contrast, the \
                           slice's size): the shares per bin on the validation split and on the \
                           recent predictions (`DRIFT_WINDOW`), the population stability index and \
                           the two-sample Kolmogorov-Smirnov statistic. `drifting` above \
                           `DRIFT_PSI_ALERT`; `collecting` below `min_predictions`.",
            responses((status = 200, description = "Drift", body = DriftReport))
        )]
        fn get_drift;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::feedback::ExplainKeptPrediction>(), tag = "feedback",
            summary = "Where the serving model looks on a kept prediction's slice (annotators)",
            description = "Grad-CAM of the serving model on the slice kept for prediction \
                           `prediction_id`, as `POST /predict/explain` answers it, without recording \
                           a new prediction. The answer's `model_version` says which version explained \
                           (the one that answered may since have been replaced). Costs 4 images of the \
                           prediction budget.",
            request_body(content = ExplainKeptRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Explanation", body = ExplanationResponse),
                (status = 404, description = "No such prediction, or its slice was never kept", body = ErrorBody),
                (status = 410, description = "The slice's retention ended", body = ErrorBody),
                (status = 503, description = "Too many explanations in progress", body = ErrorBody),
            )
        )]
        fn explain_kept_prediction;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::model::GetModelReport>(), tag = "insights",
            summary = "The serving model's confusion matrix, per-class scores and training curves",
            responses(
                (status = 200, description = "Report", body = ModelReport),
                (status = 404, description = "The model was saved without a validation report", body = ErrorBody),
                (status = 503, description = "No model is loaded", body = ErrorBody),
            )
        )]
        fn model_report;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::insights::GetVisualizationData>(), tag = "insights",
            summary = "Feature summaries, binned distributions and a bounded scatter sample",
            description = "Keeps the original service's keys; thousands of rows are summarised on the \
                           server so the answer stays small.",
            responses(
                (status = 200, description = "Chart data", body = VisualizationData),
                (status = 503, description = "The feature CSV has not been extracted", body = ErrorBody),
            )
        )]
        fn visualization_data;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::monitor::GetMetrics>(), tag = "operations",
            summary = "Live metrics: requests, prediction latency, predictions per class, memory",
            responses((status = 200, description = "Metrics", body = MetricsReport))
        )]
        fn metrics;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::monitor::GetMetricsHistory>(), tag = "operations",
            summary = "Rates and latency over time, every server process added up",
            description = "Requests, images classified, refusal, review, 4xx and 5xx rates and the \
                           time per image (p50, p95 from latency buckets), per minute for `1h`, per \
                           15 minutes for `24h`, per 2 hours for `7d`. Written by each process every \
                           10 s to `traffic_minutes`.",
            params(("window" = String, Query, description = "`1h`, `24h` or `7d`")),
            responses(
                (status = 200, description = "Points, oldest first", body = MetricsHistory),
                (status = 400, description = "Another window", body = ErrorBody),
            )
        )]
        fn metrics_history;

        #[utoipa::path(
            get, path = "/metrics/prometheus", tag = "operations",
            summary = "The same metrics in Prometheus' text exposition format",
            responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String))
        )]
        fn metrics_prometheus;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::status::GetServerStatus>(), tag = "operations",
            summary = "Everything the Home page shows about the running server",
            responses((status = 200, description = "Status", body = ServerStatus))
        )]
        fn server_status;

        #[utoipa::path(
            get, path = "/health", tag = "operations",
            summary = "Liveness and whether a model is loaded",
            responses((status = 200, description = "Health", body = HealthReport))
        )]
        fn health;

        #[utoipa::path(
            get, path = "/uptime", tag = "operations",
            summary = "Uptime and requests served",
            responses((status = 200, description = "Uptime", body = UptimeReport))
        )]
        fn uptime;

        #[utoipa::path(
            get, path = "/api", tag = "operations",
            summary = "Every endpoint, with a one-line summary",
            responses((status = 200, description = "Index", body = Object))
        )]
        fn api_index;

        #[utoipa::path(
            get, path = "/openapi.json", tag = "operations",
            summary = "This document",
            responses((status = 200, description = "OpenAPI 3", body = Object))
        )]
        fn openapi_json;

        #[utoipa::path(
            get, path = "/docs", tag = "operations",
            summary = "Interactive API docs (Swagger UI, served locally)",
            responses((status = 200, description = "HTML", content_type = "text/html", body = String))
        )]
        fn docs;

        #[utoipa::path(
            get, path = "/docs.js", tag = "operations",
            summary = "The script that starts Swagger UI on `/docs`",
            responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String))
        )]
        fn docs_script;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::auth::GetSessionInfo>(), tag = "accounts",
            summary = "Who the caller is, and whether reading needs an account",
            responses((status = 200, description = "The caller", body = SessionInfo))
        )]
        fn session_info;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::Login>(), tag = "accounts",
            summary = "Log in: sets an HttpOnly, SameSite=Strict session cookie (12 hours)",
            request_body(content = LoginRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Logged in", body = CurrentUser),
                (status = 401, description = "Wrong user name or password", body = ErrorBody),
                (status = 429, description = "Too many attempts from this client", body = ErrorBody),
            )
        )]
        fn login;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::Logout>(), tag = "accounts",
            summary = "End this browser session",
            request_body(content = Object, content_type = "application/json", example = json!({})),
            responses((status = 200, description = "Logged out"))
        )]
        fn logout;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::auth::ListUsers>(), tag = "accounts", summary = "Users and their roles (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            responses(
                (status = 200, description = "Users", body = Vec<UserSummary>),
                (status = 401, description = "Not logged in", body = ErrorBody),
                (status = 403, description = "Not an admin", body = ErrorBody),
            )
        )]
        fn list_users;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::AddUser>(), tag = "accounts", summary = "Add a user (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            request_body(content = AddUserRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Added", body = UserSummary),
                (status = 400, description = "Bad name, short password or name taken", body = ErrorBody),
                (status = 403, description = "Not an admin", body = ErrorBody),
            )
        )]
        fn add_user;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::RemoveUser>(), tag = "accounts",
            summary = "Remove a user and end their sessions (admin; never the last admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            request_body(content = RemoveUserRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Removed"),
                (status = 400, description = "The last admin", body = ErrorBody),
                (status = 404, description = "No such user", body = ErrorBody),
            )
        )]
        fn remove_user;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::auth::ListTokens>(), tag = "accounts", summary = "API tokens, never their secrets (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            responses((status = 200, description = "Tokens", body = Vec<TokenSummary>))
        )]
        fn list_tokens;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::CreateToken>(), tag = "accounts",
            summary = "Create an API token with a role; the secret is in this answer only (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            request_body(content = CreateTokenRequest, content_type = "application/json"),
            responses((status = 200, description = "The new token", body = CreatedToken))
        )]
        fn create_token;

        #[utoipa::path(
            post, path = server_fn_path::<app::api::auth::RevokeToken>(), tag = "accounts", summary = "Revoke an API token (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            request_body(content = RevokeTokenRequest, content_type = "application/json"),
            responses(
                (status = 200, description = "Revoked"),
                (status = 404, description = "No active token with that id", body = ErrorBody),
            )
        )]
        fn revoke_token;

        #[utoipa::path(
            get, path = server_fn_path::<app::api::auth::AuditLog>(), tag = "accounts",
            summary = "Who uploaded, retrained, activated, logged in or was refused; newest first (admin)",
            security(("api_token" = []), ("session_cookie" = [])),
            params(
                ("limit" = Option<i64>, Query, description = "How many (1-500, default 100)"),
                ("before" = Option<i64>, Query, description = "Only events older than this id: the last id of the previous page"),
            ),
            responses(
                (status = 200, description = "Events; refused requests are one event per client, actor, action and minute with a `count`", body = Vec<AuditEntry>),
                (status = 400, description = "limit outside 1-500", body = ErrorBody),
            )
        )]
        fn audit_log;

        #[utoipa::path(
            get, path = "/redoc", tag = "operations",
            summary = "Redirects to `/docs`",
            responses((status = 308, description = "Permanent redirect to /docs"))
        )]
        fn redoc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the document declares `method` on `path`.
    fn documents(document: &utoipa::openapi::OpenApi, method: &str, path: &str) -> bool {
        document
            .paths
            .paths
            .get(path)
            .is_some_and(|item| match method {
                "GET" => item.get.is_some(),
                "POST" => item.post.is_some(),
                "PUT" => item.put.is_some(),
                "DELETE" => item.delete.is_some(),
                _ => false,
            })
    }

    /// The operation `method path` of the document.
    fn operation<'a>(
        document: &'a utoipa::openapi::OpenApi,
        method: &str,
        path: &str,
    ) -> &'a utoipa::openapi::path::Operation {
        let item = document.paths.paths.get(path).expect(path);
        match method {
            "GET" => item.get.as_ref(),
            _ => item.post.as_ref(),
        }
        .expect(path)
    }

    fn schemes(operation: &utoipa::openapi::path::Operation) -> String {
        serde_json::to_string(&operation.security).unwrap_or_default()
    }

    #[test]
    fn every_operation_says_who_may_call_it_and_what_a_refusal_looks_like() {
        let document = document();
        for (method, path) in [
            ("POST", "/retrain"),
            ("POST", "/retrain/trigger"),
            ("POST", "/models/{version}/activate"),
            ("POST", "/auth/tokens/create"),
            ("GET", "/audit"),
            ("GET", "/retrain/review"),
        ] {
            let operation = operation(document, method, path);
            let security = schemes(operation);
            assert!(
                security.contains("api_token") && security.contains("session_cookie"),
                "{method} {path}: {security}"
            );
            assert!(
                !security.contains("{}"),
                "{method} {path} is not optional: {security}"
            );
            for status in ["401", "403", "429"] {
                assert!(
                    operation.responses.responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
        // Reads and predictions: open on a public-read server, so the credentials are optional.
        let predict = operation(document, "POST", "/predict");
        assert!(schemes(predict).contains("{}"), "{}", schemes(predict));
        assert!(predict.responses.responses.contains_key("429"));
        // The health check is for anyone, always, and never rationed.
        let health = operation(document, "GET", "/health");
        assert!(health.security.is_none());
        assert!(!health.responses.responses.contains_key("429"));
    }

    #[test]
    fn every_server_function_and_route_is_documented() {
        let document = document();
        let server_functions: Vec<(String, String)> = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, method)| (method.to_string(), path.to_owned()))
            .collect();
        // The registry is filled at link time; an empty one would make this test vacuous.
        assert!(server_functions.len() >= 12, "{server_functions:?}");
        for (method, path) in server_functions {
            assert!(
                documents(document, &method, &path),
                "server function {method} {path} is missing from the OpenAPI document"
            );
        }
        let routes = super::super::service::routes().served;
        assert!(routes.len() >= 10, "{routes:?}");
        for (method, path) in routes {
            assert!(
                documents(document, method.as_str(), path),
                "route {method} {path} is missing from the OpenAPI document"
            );
        }
    }

    #[test]
    fn request_bodies_are_read_from_the_document() {
        for path in ["/predict", "/predict/batch", "/predict/explain", "/retrain"] {
            assert_eq!(post_body_kind(path), Some(BodyKind::Multipart), "{path}");
        }
        for path in [
            "/retrain/trigger",
            "/retrain/review/decide",
            "/auth/login",
            "/auth/logout",
            "/auth/users/add",
            "/auth/tokens/revoke",
            "/models/v1-s3/activate",
        ] {
            assert_eq!(post_body_kind(path), Some(BodyKind::Json), "{path}");
        }
        for path in [
            "/health",
            "/models//activate",
            "/models/v1/activate/x",
            "/predict/",
        ] {
            assert_eq!(post_body_kind(path), None, "{path}");
        }
    }

    #[test]
    fn the_document_is_openapi_3_with_the_error_shape() {
        let json: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3."));
        let error = &json["components"]["schemas"]["ErrorBody"];
        assert_eq!(error["required"], serde_json::json!(["error", "detail"]));
        let predict = &json["paths"]["/predict"]["post"];
        assert!(predict["requestBody"]["content"]["multipart/form-data"].is_object());
        assert_eq!(
            predict["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/PredictionResponse"
        );
        assert_eq!(
            predict["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        let prediction = &json["components"]["schemas"]["PredictionResponse"]["properties"];
        for field in [
            "predicted_class",
            "confidence",
            "probabilities",
            "model_version",
        ] {
            assert!(
                prediction[field].is_object(),
                "{field} missing: {prediction}"
            );
        }
    }
}
