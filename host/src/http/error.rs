//! One error type for every handler: each variant says its status code; server
//! errors are logged and never shown in detail.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An HTTP error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 403: the webhook signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// 404: not found (or not this tenant's).
    #[error("{0}")]
    NotFound(String),
    /// 415: wrong content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: something failed inside; details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadSignature | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

/// A JSON request body: a 415 unless it is sent as `application/json`, a 400
/// that says what is wrong with it (unknown fields are refused where the
/// target type denies them).
pub fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    if !media_type_is(headers, "application/json") {
        let got = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        return Err(ApiError::UnsupportedMediaType(format!("send application/json, not `{got}`")));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Whether the request's `Content-Type` is exactly `expected` (parameters
/// such as `; charset=utf-8` allowed, case ignored), not merely a prefix.
pub fn media_type_is(headers: &HeaderMap, expected: &str) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(expected)
}
