//! Uploaded files: what a handler receives.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::budget::Charge;

/// A temporary file, deleted when dropped unless kept.
pub(super) struct TempFile {
    pub(super) path: PathBuf,
    keep: bool,
}

impl TempFile {
    pub(super) fn new(path: PathBuf) -> Self {
        TempFile { path, keep: false }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(err) = std::fs::remove_file(&self.path) {
                if err.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), %err, "liveview: could not remove an upload's temporary file");
                }
            }
        }
    }
}

pub(super) enum Content {
    Memory(Bytes),
    Disk(TempFile),
}

/// A file a client uploaded, handed to the handler of the event that named it.
///
/// Small files are in memory; larger ones in a temporary file that is
/// deleted when this value is dropped, unless [`persist`](Self::persist)ed.
pub struct UploadedFile {
    pub(super) field: String,
    pub(super) name: String,
    pub(super) content_type: String,
    pub(super) size: u64,
    pub(super) content: Content,
    /// Its share of the upload budget, given back when the file is dropped.
    pub(super) _charge: Charge,
}

impl UploadedFile {
    /// The form field (input name) it came from.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The file's name as the browser gave it (not a path: never trust it as one).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MIME type the browser reported (may be empty).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The temporary file holding the content, when it is on disk.
    pub fn path(&self) -> Option<&Path> {
        match &self.content {
            Content::Memory(_) => None,
            Content::Disk(temp) => Some(&temp.path),
        }
    }

    /// The content (read from disk when the file is there).
    ///
    /// # Errors
    /// When the temporary file cannot be read.
    pub async fn bytes(&self) -> io::Result<Bytes> {
        match &self.content {
            Content::Memory(bytes) => Ok(bytes.clone()),
            Content::Disk(temp) => tokio::fs::read(&temp.path).await.map(Bytes::from),
        }
    }

    /// Moves the content to `destination` and keeps it there.
    ///
    /// # Errors
    /// When the file cannot be written or moved.
    pub async fn persist(mut self, destination: impl AsRef<Path>) -> io::Result<()> {
        let destination = destination.as_ref();
        match &mut self.content {
            Content::Memory(bytes) => tokio::fs::write(destination, bytes).await,
            Content::Disk(temp) => {
                if tokio::fs::rename(&temp.path, destination).await.is_err() {
                    // Another file system: copy, then let Drop remove the original.
                    tokio::fs::copy(&temp.path, destination).await?;
                    return Ok(());
                }
                temp.keep = true;
                Ok(())
            }
        }
    }
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("field", &self.field)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("path", &self.path())
            .finish()
    }
}

/// The files uploaded with an event, as a handler argument.
///
/// ```
/// use liveview::{Patch, Uploads};
///
/// async fn upload_file(files: Uploads) -> Patch {
///     let names: Vec<&str> = files.field("file").map(|f| f.name()).collect();
///     Patch::html("#result", format!("received {}", names.join(", ")))
/// }
/// # let _ = liveview::LiveView::builder().handler("upload_file", upload_file);
/// ```
#[derive(Debug, Default)]
pub struct Uploads {
    files: Vec<UploadedFile>,
}

impl Uploads {
    pub(crate) fn new(files: Vec<UploadedFile>) -> Self {
        Uploads { files }
    }

    /// The files of one form field.
    pub fn field<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a UploadedFile> + 'a {
        self.files.iter().filter(move |f| f.field == name)
    }

    /// All files.
    pub fn iter(&self) -> std::slice::Iter<'_, UploadedFile> {
        self.files.iter()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when the event carried no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files, to keep or move.
    pub fn into_vec(self) -> Vec<UploadedFile> {
        self.files
    }
}

impl IntoIterator for Uploads {
    type Item = UploadedFile;
    type IntoIter = std::vec::IntoIter<UploadedFile>;

    fn into_iter(self) -> Self::IntoIter {
        self.files.into_iter()
    }
}

/// How far an upload of this connection has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// The upload's id.
    pub id: u32,
    /// The form field.
    pub field: String,
    /// The file's name.
    pub name: String,
    /// Bytes received.
    pub received: u64,
    /// Bytes announced.
    pub size: u64,
}
