//! A file in memory, for an upload.

/// A file in memory, for [`TestPage::upload`](crate::TestPage::upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// Its name (`cat.png`).
    pub name: String,
    /// Its type (`image/png`), as the browser reports it.
    pub content_type: String,
    /// Its content.
    pub data: Vec<u8>,
}

impl UploadFile {
    /// A file named `name`, of type `content_type`, holding `data`.
    pub fn new(
        name: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        UploadFile {
            name: name.into(),
            content_type: content_type.into(),
            data: data.into(),
        }
    }
}
