//! The client → server event.

use std::fmt;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::case::snake_case_keys;
use crate::frame::ErrorCode;
use crate::session::{MAX_TOKEN_LEN, Resume};

/// The longest accepted `function` name, in bytes.
pub const MAX_FUNCTION_NAME_LEN: usize = 128;

/// An event sent by a client: "run the handler `function` with this data".
///
/// Keys of [`data`](Event::data) and [`form`](Event::form) are converted
/// to snake_case by [`Event::from_json`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The name the handler is registered under.
    pub function: String,
    /// The `data-*` attributes of the element that fired the event.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
    /// The fields of the enclosing form.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub form: Map<String, Value>,
    /// The page's language, `<html lang>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The room the page says it belongs to (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Client-chosen id echoed in the frames that answer this event.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<u64>,
    /// Finished uploads handed to this event, by form field (extension,
    /// see `docs/uploads.md`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub uploads: BTreeMap<String, Vec<u32>>,
}

/// A request about a file upload (extension, see `docs/uploads.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UploadRequest {
    /// Announce a file before its chunks.
    Start {
        /// Client-chosen id, unique among the connection's open uploads.
        id: u32,
        /// The function the file is for.
        function: String,
        /// The form field (input name) the file comes from.
        field: String,
        /// The file's name.
        name: String,
        /// The file's MIME type as the browser reports it.
        #[serde(rename = "type", default)]
        content_type: String,
        /// The file's size in bytes.
        size: u64,
    },
    /// Abandon an upload.
    Cancel {
        /// The upload.
        id: u32,
    },
}

/// Anything a client sends in a text frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// Run a handler.
    Event(Event),
    /// Start or cancel an upload.
    Upload(UploadRequest),
    /// Resume a page session on this socket (version 2; the first frame).
    Resume(Resume),
}

impl ClientMessage {
    /// Decodes a text frame; an event's keys are converted to snake_case.
    ///
    /// # Errors
    /// [`DecodeError`] when the text is not JSON or not a client message.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        let raw: RawClientMessage = serde_json::from_str(text).map_err(|err| {
            if err.is_data() {
                DecodeError::Shape(err.to_string())
            } else {
                DecodeError::Json(err.to_string())
            }
        })?;
        if let Some(upload) = raw.upload {
            return Ok(ClientMessage::Upload(upload));
        }
        if let Some(resume) = raw.resume {
            if resume.token.len() > MAX_TOKEN_LEN {
                return Err(DecodeError::Shape(format!(
                    "`resume.token` is longer than {MAX_TOKEN_LEN} bytes"
                )));
            }
            return Ok(ClientMessage::Resume(resume));
        }
        let Some(function) = raw.function else {
            return Err(DecodeError::Shape("missing field `function`".into()));
        };
        if function.is_empty() {
            return Err(DecodeError::Shape("`function` is empty".into()));
        }
        if function.len() > MAX_FUNCTION_NAME_LEN {
            return Err(DecodeError::Shape(format!(
                "`function` is longer than {MAX_FUNCTION_NAME_LEN} bytes"
            )));
        }
        Ok(ClientMessage::Event(Event {
            function,
            data: snake_case_keys(raw.data),
            form: snake_case_keys(raw.form),
            lang: raw.lang,
            room: raw.room,
            reference: raw.reference,
            uploads: raw.uploads,
        }))
    }
}

/// The union of an event's and an upload request's fields, decoded in one pass.
#[derive(Deserialize)]
struct RawClientMessage {
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    form: Map<String, Value>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    room: Option<String>,
    #[serde(default, rename = "ref")]
    reference: Option<u64>,
    #[serde(default)]
    uploads: BTreeMap<String, Vec<u32>>,
    #[serde(default)]
    upload: Option<UploadRequest>,
    #[serde(default)]
    resume: Option<Resume>,
}

impl Event {
    /// An event calling `function` with no data (mostly for clients and tests).
    pub fn new(function: impl Into<String>) -> Self {
        Event {
            function: function.into(),
            ..Event::default()
        }
    }

    /// Sets the `data` object.
    #[must_use]
    pub fn with_data(mut self, data: Map<String, Value>) -> Self {
        self.data = data;
        self
    }

    /// Sets the `form` object.
    #[must_use]
    pub fn with_form(mut self, form: Map<String, Value>) -> Self {
        self.form = form;
        self
    }

    /// Sets the `ref`.
    #[must_use]
    pub fn with_ref(mut self, reference: u64) -> Self {
        self.reference = Some(reference);
        self
    }

    /// Decodes an event from a text frame and converts its keys to snake_case.
    ///
    /// # Errors
    /// [`DecodeError`] when the text is not JSON, not an event object, or
    /// names a function that is empty or too long.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        match ClientMessage::from_json(text)? {
            ClientMessage::Event(event) => Ok(event),
            ClientMessage::Upload(_) => {
                Err(DecodeError::Shape("an upload request, not an event".into()))
            }
            ClientMessage::Resume(_) => {
                Err(DecodeError::Shape("a resume request, not an event".into()))
            }
        }
    }

    /// Encodes the event as a text frame (what a client sends).
    pub fn to_json(&self) -> String {
        // A struct of strings, maps of JSON values and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why a frame could not be decoded as an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not valid JSON.
    Json(String),
    /// Valid JSON, but not an event object.
    Shape(String),
}

impl DecodeError {
    /// The error code of the frame that reports it.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Json(_) => ErrorCode::BadJson,
            DecodeError::Shape(_) => ErrorCode::BadEvent,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Json(detail) => write!(f, "malformed JSON: {detail}"),
            DecodeError::Shape(detail) => write!(f, "not a liveview event: {detail}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_a_django_liveview_event() {
        let text = r#"{"function":"search","data":{"liveviewFunction":"search","userId":"7"},
            "form":{"query":"rust"},"lang":"en","room":"abc"}"#;
        let event = Event::from_json(text).unwrap();
        assert_eq!(event.function, "search");
        assert_eq!(event.data["user_id"], json!("7"));
        assert_eq!(event.data["liveview_function"], json!("search"));
        assert_eq!(event.form["query"], json!("rust"));
        assert_eq!(event.lang.as_deref(), Some("en"));
        assert_eq!(event.room.as_deref(), Some("abc"));
        assert_eq!(event.reference, None);
    }

    #[test]
    fn distinguishes_bad_json_from_bad_shape() {
        assert_eq!(
            Event::from_json("{nope").unwrap_err().code(),
            ErrorCode::BadJson
        );
        assert_eq!(Event::from_json("").unwrap_err().code(), ErrorCode::BadJson);
        assert_eq!(
            Event::from_json("[1,2]").unwrap_err().code(),
            ErrorCode::BadEvent
        );
        assert_eq!(
            Event::from_json(r#"{"data":{}}"#).unwrap_err().code(),
            ErrorCode::BadEvent
        );
        assert_eq!(
            Event::from_json(r#"{"function":3}"#).unwrap_err().code(),
            ErrorCode::BadEvent
        );
        assert_eq!(
            Event::from_json(r#"{"function":"x","data":[1]}"#)
                .unwrap_err()
                .code(),
            ErrorCode::BadEvent
        );
        assert_eq!(
            Event::from_json(r#"{"function":""}"#).unwrap_err().code(),
            ErrorCode::BadEvent
        );
        let long = format!(
            r#"{{"function":"{}"}}"#,
            "a".repeat(MAX_FUNCTION_NAME_LEN + 1)
        );
        assert_eq!(
            Event::from_json(&long).unwrap_err().code(),
            ErrorCode::BadEvent
        );
    }

    #[test]
    fn decodes_upload_requests_and_upload_events() {
        let start = r#"{"upload":{"op":"start","id":7,"function":"upload_file","field":"file","name":"a.png","type":"image/png","size":12}}"#;
        assert_eq!(
            ClientMessage::from_json(start).unwrap(),
            ClientMessage::Upload(UploadRequest::Start {
                id: 7,
                function: "upload_file".into(),
                field: "file".into(),
                name: "a.png".into(),
                content_type: "image/png".into(),
                size: 12,
            })
        );
        assert_eq!(
            ClientMessage::from_json(r#"{"upload":{"op":"cancel","id":7}}"#).unwrap(),
            ClientMessage::Upload(UploadRequest::Cancel { id: 7 })
        );
        assert!(ClientMessage::from_json(r#"{"upload":{"op":"explode"}}"#).is_err());
        let event =
            Event::from_json(r#"{"function":"upload_file","uploads":{"file":[7,8]}}"#).unwrap();
        assert_eq!(event.uploads["file"], vec![7, 8]);
        assert!(Event::from_json(start).is_err());
    }

    #[test]
    fn round_trips() {
        let mut data = Map::new();
        data.insert("id".into(), json!(4));
        let event = Event::new("load").with_data(data).with_ref(9);
        let text = event.to_json();
        assert_eq!(text, r#"{"function":"load","data":{"id":4},"ref":9}"#);
        assert_eq!(Event::from_json(&text).unwrap(), event);
    }
}
