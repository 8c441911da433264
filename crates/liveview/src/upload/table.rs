//! The uploads of one connection: open ones receiving chunks, finished ones
//! waiting for the event that claims them.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use liveview_protocol::{CHUNK_HEADER_BYTES, Chunk, Event, MAX_CHUNK_BYTES, UploadRequest};
use tokio::io::AsyncWriteExt;

use super::budget::{Charge, Full, UploadBudget};
use super::config::UploadConfig;
use super::dir::create_private_dir_all;
use super::file::{Content, TempFile, UploadProgress, UploadedFile};
use crate::error::Rejection;

/// Uploads a connection may have open at once.
const MAX_OPEN_PER_CONNECTION: usize = 32;

enum Sink {
    Memory(Vec<u8>),
    Disk {
        file: tokio::fs::File,
        temp: TempFile,
    },
}

struct OpenUpload {
    function: String,
    field: String,
    name: String,
    content_type: String,
    size: u64,
    received: u64,
    memory_threshold: usize,
    temp_dir: PathBuf,
    sink: Sink,
    /// Its share of the `LiveView`'s upload budget.
    charge: Charge,
    /// When the last chunk (or the start) came.
    last_chunk: Instant,
}

/// A finished upload, waiting for the event that claims it.
struct Finished {
    file: UploadedFile,
    function: String,
    since: Instant,
}

/// What an upload table shares with the rest of its `LiveView`.
#[derive(Clone)]
pub(crate) struct UploadShared {
    /// The budget of all its connections.
    pub(crate) budget: Arc<UploadBudget>,
    /// Its own temporary directory (for configs without `temp_dir`).
    pub(crate) dir: Option<Arc<Path>>,
    /// `Limits::upload_idle_timeout`.
    pub(crate) idle_timeout: Duration,
    /// `Limits::upload_unclaimed_timeout`.
    pub(crate) unclaimed_timeout: Duration,
}

/// What a chunk did.
pub(crate) enum ChunkOutcome {
    /// Bytes received so far; the upload goes on.
    Progress(u64),
    /// The upload is complete.
    Done,
}

/// The uploads of one connection, owned by its socket task.
pub(crate) struct UploadTable {
    open: HashMap<u32, OpenUpload>,
    finished: HashMap<u32, Finished>,
    shared: UploadShared,
    /// Drives the expiry of idle and unclaimed uploads while there are any:
    /// one timer per connection that uploads, none for the others.
    sweep: tokio::time::Interval,
}

#[cfg(test)]
impl Default for UploadTable {
    fn default() -> Self {
        UploadTable::new(UploadShared {
            budget: UploadBudget::new(u64::MAX, u64::MAX),
            dir: None,
            idle_timeout: Duration::from_secs(30),
            unclaimed_timeout: Duration::from_secs(30),
        })
    }
}

impl UploadTable {
    /// A table for one connection (made on its first upload frame).
    pub(crate) fn new(shared: UploadShared) -> Self {
        // A few sweeps per timeout: an upload expires at most a quarter of
        // its timeout late (5 s at most).
        let period = (shared.idle_timeout.min(shared.unclaimed_timeout) / 4)
            .clamp(Duration::from_millis(5), Duration::from_secs(5));
        let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        UploadTable {
            open: HashMap::new(),
            finished: HashMap::new(),
            shared,
            sweep,
        }
    }

    /// True while uploads are open or wait for their event (the sweep runs).
    pub(crate) fn pending(&self) -> bool {
        !self.open.is_empty() || !self.finished.is_empty()
    }

    /// The next sweep.
    pub(crate) async fn sweep_due(&mut self) {
        self.sweep.tick().await;
    }

    /// Drops the open uploads that got no chunk for `idle_timeout` and the
    /// finished ones no event claimed for `unclaimed_timeout` (their memory
    /// and temporary files with them); returns why, per upload.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(u32, Rejection)> {
        let mut expired = Vec::new();
        let idle = self.shared.idle_timeout;
        self.open.retain(|id, upload| {
            let keep = now.saturating_duration_since(upload.last_chunk) < idle;
            if !keep {
                expired.push((
                    *id,
                    Rejection::upload_failed(format!(
                        "no data for {} in {idle:?}: the upload was dropped",
                        upload.name
                    )),
                ));
            }
            keep
        });
        let unclaimed = self.shared.unclaimed_timeout;
        self.finished.retain(|id, finished| {
            let keep = now.saturating_duration_since(finished.since) < unclaimed;
            if !keep {
                expired.push((
                    *id,
                    Rejection::upload_failed(format!(
                        "{} was not claimed by an event within {unclaimed:?}: it was dropped",
                        finished.file.name
                    )),
                ));
            }
            keep
        });
        expired.sort_by_key(|(id, _)| *id);
        expired
    }

    /// Handles a start; returns the id, and whether the upload is already
    /// complete (an empty file needs no chunk).
    pub(crate) async fn start(
        &mut self,
        request: UploadRequest,
        configs: &HashMap<Box<str>, UploadConfig>,
    ) -> Result<(u32, bool), (u32, Rejection)> {
        let (id, function, field, name, content_type, size) = match request {
            UploadRequest::Start {
                id,
                function,
                field,
                name,
                content_type,
                size,
            } => (id, function, field, name, content_type, size),
            UploadRequest::Cancel { id } => {
                return Err((id, Rejection::upload_failed("not a start request")));
            }
            _ => return Err((0, Rejection::upload_failed("unknown upload request"))),
        };
        let Some(config) = configs.get(function.as_str()) else {
            return Err((
                id,
                Rejection::upload_rejected(format!("'{function}' does not accept files")),
            ));
        };
        if self.open.contains_key(&id) || self.finished.contains_key(&id) {
            return Err((
                id,
                Rejection::upload_rejected(format!("upload id {id} is already in use")),
            ));
        }
        if self.open.len() + self.finished.len() >= MAX_OPEN_PER_CONNECTION {
            return Err((
                id,
                Rejection::upload_rejected("too many uploads open on this connection"),
            ));
        }
        if size > config.max_file_size {
            return Err((
                id,
                Rejection::upload_rejected(format!(
                    "{name} is too large ({size} bytes; the limit is {} bytes)",
                    config.max_file_size
                )),
            ));
        }
        if !config.accepts(&name, &content_type) {
            return Err((
                id,
                Rejection::upload_rejected(format!("{name}: this type of file is not accepted")),
            ));
        }
        let pending_for_function = self
            .open
            .values()
            .filter(|u| u.function == function)
            .count()
            + self
                .finished
                .values()
                .filter(|f| f.function == function)
                .count();
        if pending_for_function >= config.max_files {
            return Err((
                id,
                Rejection::upload_rejected(format!(
                    "too many files (at most {})",
                    config.max_files
                )),
            ));
        }
        if name.len() > 1024 || field.len() > 256 {
            return Err((
                id,
                Rejection::upload_rejected("file or field name too long"),
            ));
        }
        let initial = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(config.memory_threshold);
        let temp_dir = match (&config.temp_dir, &self.shared.dir) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => dir.to_path_buf(),
            (None, None) => {
                return Err((
                    id,
                    Rejection::upload_rejected("the server has no directory for uploads"),
                ));
            }
        };
        // What the upload will hold at most: its buffer in memory (up to the
        // threshold), and the whole file on disk when it is larger.
        let on_disk = if size > config.memory_threshold as u64 {
            size
        } else {
            0
        };
        let charge = self
            .shared
            .budget
            .reserve(initial as u64, on_disk)
            .map_err(|full| {
                let (place, limit) = match full {
                    Full::Memory(limit) => ("in memory", limit),
                    Full::Disk(limit) => ("on disk", limit),
                };
                (
                    id,
                    Rejection::upload_rejected(format!(
                        "the server is busy: uploads {place} are at their limit ({limit} bytes); try {name} again later"
                    )),
                )
            })?;
        let upload = OpenUpload {
            function,
            field,
            name,
            content_type,
            size,
            received: 0,
            memory_threshold: config.memory_threshold,
            temp_dir,
            sink: Sink::Memory(Vec::with_capacity(initial)),
            charge,
            last_chunk: Instant::now(),
        };
        if size == 0 {
            let function = upload.function.clone();
            let file = upload.finish().await.map_err(|err| (id, err))?;
            self.finish(id, file, function);
            return Ok((id, true));
        }
        self.open.insert(id, upload);
        Ok((id, false))
    }

    /// Drops an upload (open or finished); true when there was one.
    pub(crate) fn cancel(&mut self, id: u32) -> bool {
        self.open.remove(&id).is_some() || self.finished.remove(&id).is_some()
    }

    fn finish(&mut self, id: u32, file: UploadedFile, function: String) {
        self.finished.insert(
            id,
            Finished {
                file,
                function,
                since: Instant::now(),
            },
        );
    }

    /// Handles a binary chunk. On error the upload (if any) is dropped.
    pub(crate) async fn chunk(
        &mut self,
        frame: &[u8],
    ) -> Result<(u32, ChunkOutcome), (u32, Rejection)> {
        let Some(Chunk { id, offset, data }) = Chunk::parse(frame) else {
            return Err((
                0,
                Rejection::upload_failed(format!(
                    "a binary frame must start with a {CHUNK_HEADER_BYTES}-byte chunk header"
                )),
            ));
        };
        let Some(upload) = self.open.get_mut(&id) else {
            return Err((
                id,
                Rejection::upload_failed(format!("chunk for unknown upload {id}")),
            ));
        };
        let result = upload.write(offset, data).await;
        match result {
            Ok(received) if received == upload.size => {
                let Some(done) = self.open.remove(&id) else {
                    return Err((id, Rejection::upload_failed("upload vanished")));
                };
                let function = done.function.clone();
                match done.finish().await {
                    Ok(file) => {
                        self.finish(id, file, function);
                        Ok((id, ChunkOutcome::Done))
                    }
                    Err(err) => Err((id, err)),
                }
            }
            Ok(received) => Ok((id, ChunkOutcome::Progress(received))),
            Err(err) => {
                self.open.remove(&id);
                Err((id, err))
            }
        }
    }

    /// Takes the finished uploads an event names; they must belong to its function.
    pub(crate) fn claim(&mut self, event: &Event) -> Result<Vec<UploadedFile>, Rejection> {
        let mut files = Vec::new();
        for (field, ids) in &event.uploads {
            for id in ids {
                let belongs = self
                    .finished
                    .get(id)
                    .is_some_and(|finished| finished.function == event.function);
                let file = if belongs {
                    self.finished.remove(id).map(|finished| finished.file)
                } else {
                    None
                };
                let Some(file) = file else {
                    return Err(Rejection::invalid_data(format!(
                        "upload {id} is not a finished upload for '{}'",
                        event.function
                    )));
                };
                if file.field != *field {
                    return Err(Rejection::invalid_data(format!(
                        "upload {id} belongs to field '{}', not '{field}'",
                        file.field
                    )));
                }
                files.push(file);
            }
        }
        Ok(files)
    }

    /// Progress of every open upload.
    pub(crate) fn progress(&self) -> Vec<UploadProgress> {
        let mut list: Vec<UploadProgress> = self
            .open
            .iter()
            .map(|(id, u)| UploadProgress {
                id: *id,
                field: u.field.clone(),
                name: u.name.clone(),
                received: u.received,
                size: u.size,
            })
            .collect();
        list.sort_by_key(|p| p.id);
        list
    }
}

impl OpenUpload {
    async fn write(&mut self, offset: u64, data: &[u8]) -> Result<u64, Rejection> {
        if offset != self.received {
            return Err(Rejection::upload_failed(format!(
                "chunk out of order for {}: offset {offset}, expected {}",
                self.name, self.received
            )));
        }
        if data.len() > MAX_CHUNK_BYTES {
            return Err(Rejection::upload_failed(format!(
                "chunk larger than {MAX_CHUNK_BYTES} bytes"
            )));
        }
        let after = self.received + data.len() as u64;
        if after > self.size {
            return Err(Rejection::upload_failed(format!(
                "{} is larger than announced ({} bytes)",
                self.name, self.size
            )));
        }
        self.last_chunk = Instant::now();
        if let Sink::Memory(buffer) = &mut self.sink {
            if buffer.len() + data.len() > self.memory_threshold {
                let spilled = spill(&self.temp_dir, buffer).await.map_err(|err| {
                    tracing::warn!(%err, "liveview: cannot write an upload to disk");
                    Rejection::upload_failed("the server could not store the file")
                })?;
                self.sink = spilled;
                self.charge.release_memory();
            }
        }
        match &mut self.sink {
            Sink::Memory(buffer) => buffer.extend_from_slice(data),
            Sink::Disk { file, .. } => file.write_all(data).await.map_err(|err| {
                tracing::warn!(%err, "liveview: cannot write an upload to disk");
                Rejection::upload_failed("the server could not store the file")
            })?,
        }
        self.received = after;
        Ok(after)
    }

    async fn finish(self) -> Result<UploadedFile, Rejection> {
        let content = match self.sink {
            Sink::Memory(buffer) => Content::Memory(Bytes::from(buffer)),
            Sink::Disk { mut file, temp } => {
                file.flush().await.map_err(|err| {
                    tracing::warn!(%err, "liveview: cannot flush an upload to disk");
                    Rejection::upload_failed("the server could not store the file")
                })?;
                Content::Disk(temp)
            }
        };
        Ok(UploadedFile {
            field: self.field,
            name: self.name,
            content_type: self.content_type,
            size: self.size,
            content,
            _charge: self.charge,
        })
    }
}

/// Moves an in-memory upload to a new temporary file.
async fn spill(dir: &Path, buffer: &mut Vec<u8>) -> io::Result<Sink> {
    // Made only its owner may enter when missing; files only its owner may read.
    let owned = dir.to_path_buf();
    tokio::task::spawn_blocking(move || create_private_dir_all(&owned))
        .await
        .map_err(io::Error::other)??;
    let path = dir.join(format!("upload-{}", uuid::Uuid::new_v4().simple()));
    let temp = TempFile::new(path);
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&temp.path).await?;
    file.write_all(buffer).await?;
    *buffer = Vec::new();
    Ok(Sink::Disk { file, temp })
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
