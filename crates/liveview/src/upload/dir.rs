//! The server's own directory for upload temporary files, and the removal
//! of those a killed process left behind.
//!
//! Each `LiveView` makes `liveview-uploads-{pid}-{random}` under its parent
//! (the system's temporary directory unless configured), mode 0700, and
//! holds an exclusive lock on the `.lock` file inside for as long as it
//! lives. The lock is the sign of life: the kernel drops it when the
//! process ends, however it ends. At start, every other directory of that
//! pattern whose lock can be taken belongs to no live process and is
//! removed. A directory is made under a hidden name, locked, then renamed
//! into place, so that no one sees it unlocked.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The start of the name of every `LiveView`'s upload directory.
const PREFIX: &str = "liveview-uploads-";
/// The start of a directory being made (hidden, not yet locked).
const STAGING: &str = ".liveview-uploads-";
const LOCK: &str = ".lock";
/// A hidden directory older than this was left by a process that died
/// while making it.
const STAGING_GRACE: Duration = Duration::from_secs(60);

/// A `LiveView`'s own upload directory, removed when dropped.
#[derive(Debug)]
pub(crate) struct UploadDir {
    path: Arc<Path>,
    /// Held (locked) for the directory's life.
    _lock: File,
}

impl UploadDir {
    /// Removes the orphans under `parent`, then makes this `LiveView`'s
    /// directory there.
    pub(crate) fn create(parent: &Path) -> io::Result<UploadDir> {
        create_private_dir_all(parent)?;
        let removed = remove_orphans(parent);
        if removed > 0 {
            tracing::info!(parent = %parent.display(), removed, "liveview: removed upload directories of processes that are gone");
        }
        let name = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let staging = parent.join(format!("{STAGING}{name}"));
        create_private_dir(&staging)?;
        let lock = private_file(&staging.join(LOCK))?;
        if !try_lock(&lock)? {
            return Err(io::Error::other("the new directory's lock is taken"));
        }
        let path = parent.join(format!("{PREFIX}{name}"));
        fs::rename(&staging, &path)?;
        Ok(UploadDir {
            path: path.into(),
            _lock: lock,
        })
    }

    pub(crate) fn path(&self) -> &Arc<Path> {
        &self.path
    }
}

impl Drop for UploadDir {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_dir_all(&self.path) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.path.display(), %err, "liveview: could not remove the upload directory");
            }
        }
    }
}

/// Removes the upload directories under `parent` that no live process
/// holds; returns how many. Directories it may not open (another user's)
/// or whose owner lives are left alone.
fn remove_orphans(parent: &Path) -> usize {
    if cfg!(not(unix)) {
        return 0;
    }
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let staging = name.starts_with(STAGING);
        if !staging && !name.starts_with(PREFIX) {
            continue;
        }
        // Not a symlink: never follow one out of the parent.
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        if staging {
            let young = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_none_or(|age| age < STAGING_GRACE);
            if young {
                continue;
            }
        }
        let dir = entry.path();
        let lock = match OpenOptions::new().read(true).open(dir.join(LOCK)) {
            Ok(lock) => lock,
            Err(_) => continue,
        };
        if matches!(try_lock(&lock), Ok(true)) && fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Takes the exclusive lock of `file` without waiting: false when another
/// open file holds it (in this process or another). The kernel releases it
/// when the file is closed, however its process ends.
#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Without flock the lock is only a marker: `remove_orphans` removes
/// nothing (a live directory must never be taken for an orphan).
#[cfg(not(unix))]
fn try_lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

/// Makes a directory (and its parents) only its owner may enter.
pub(super) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The parent under which a `LiveView` makes its upload directory by default.
pub(crate) fn default_parent() -> PathBuf {
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> PathBuf {
        std::env::temp_dir().join(format!("lv-dir-test-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn orphans_are_removed_and_live_directories_kept() {
        let parent = parent();
        let live = UploadDir::create(&parent).unwrap();
        // A killed process's directory: a lock file no one holds, a file.
        let orphan = parent.join(format!("{PREFIX}1-dead"));
        fs::create_dir_all(&orphan).unwrap();
        fs::write(orphan.join(LOCK), b"").unwrap();
        fs::write(orphan.join("upload-x"), b"secret").unwrap();
        // A directory of ours without a lock: not removed (not ours to judge).
        let unlocked = parent.join(format!("{PREFIX}2-nolock"));
        fs::create_dir_all(&unlocked).unwrap();
        // A young staging directory: another process is making it.
        let staging = parent.join(format!("{STAGING}3-new"));
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join(LOCK), b"").unwrap();
        // Someone else's file of a similar name.
        fs::write(parent.join("liveview-uploads-not-a-dir"), b"").unwrap();

        let second = UploadDir::create(&parent).unwrap();
        assert!(!orphan.exists(), "the orphan is removed");
        assert!(live.path().exists(), "a live LiveView's directory is kept");
        assert!(unlocked.exists());
        assert!(staging.exists());
        assert!(parent.join("liveview-uploads-not-a-dir").exists());
        let second_path = second.path().to_path_buf();
        drop(second);
        assert!(
            !second_path.exists(),
            "removed when its LiveView is dropped"
        );
        let live_path = live.path().to_path_buf();
        drop(live);
        assert!(!live_path.exists());
        let _ = fs::remove_dir_all(&parent);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = parent();
        let dir = UploadDir::create(&parent).unwrap();
        let mode = fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(dir);
        let _ = fs::remove_dir_all(&parent);
    }
}
