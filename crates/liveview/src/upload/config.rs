//! What a function accepts as uploads.

use std::path::PathBuf;

/// What a function accepts as uploads. Functions without one refuse files.
///
/// ```
/// use liveview::upload::UploadConfig;
///
/// let config = UploadConfig::default()
///     .max_file_size(5 * 1024 * 1024)
///     .max_files(3)
///     .accept(["image/*", ".pdf"]);
/// assert!(config.accepts("cat.png", "image/png"));
/// assert!(config.accepts("report.PDF", ""));
/// assert!(!config.accepts("run.exe", "application/octet-stream"));
/// ```
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub(super) max_file_size: u64,
    pub(super) max_files: usize,
    pub(super) accept: Vec<String>,
    pub(super) memory_threshold: usize,
    pub(super) temp_dir: Option<PathBuf>,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_file_size: 10 * 1024 * 1024,
            max_files: 10,
            accept: Vec::new(),
            memory_threshold: 256 * 1024,
            temp_dir: None,
        }
    }
}

impl UploadConfig {
    /// Largest accepted file, in bytes (default 10 MiB).
    #[must_use]
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Most files one event may carry (default 10).
    #[must_use]
    pub fn max_files(mut self, files: usize) -> Self {
        self.max_files = files.max(1);
        self
    }

    /// Accepted types, as in HTML's `accept`: MIME types (`image/png`),
    /// wildcards (`image/*`) or extensions (`.pdf`). Empty (the default)
    /// accepts everything.
    #[must_use]
    pub fn accept<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.accept = types
            .into_iter()
            .map(|t| t.into().to_ascii_lowercase())
            .collect();
        self
    }

    /// Files larger than this are written to a temporary file instead of
    /// memory (default 256 KiB).
    #[must_use]
    pub fn memory_threshold(mut self, bytes: usize) -> Self {
        self.memory_threshold = bytes;
        self
    }

    /// Where this function's temporary files go. By default they go to the
    /// `LiveView`'s own directory (see
    /// [`LiveViewBuilder::upload_dir`](crate::LiveViewBuilder::upload_dir)),
    /// made at build time and removed with it, whose orphans a killed
    /// process leaves are removed at the next start. A directory given
    /// here is made (mode 0700) when missing and is the app's to keep
    /// private and clean; files in it are created 0600 either way.
    #[must_use]
    pub fn temp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// True when a file of this name and MIME type is accepted.
    pub fn accepts(&self, name: &str, content_type: &str) -> bool {
        if self.accept.is_empty() {
            return true;
        }
        let name = name.to_ascii_lowercase();
        let content_type = content_type.to_ascii_lowercase();
        self.accept.iter().any(|pattern| {
            if pattern.starts_with('.') {
                name.ends_with(pattern.as_str())
            } else if let Some(prefix) = pattern.strip_suffix("/*") {
                content_type
                    .split_once('/')
                    .is_some_and(|(kind, _)| kind == prefix)
            } else {
                content_type == *pattern
            }
        })
    }
}
