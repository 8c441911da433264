//! The upload bytes all the connections of one `LiveView` may hold at once,
//! in memory and in temporary files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One limit and what is taken of it.
#[derive(Debug)]
struct Pool {
    used: AtomicU64,
    limit: u64,
}

impl Pool {
    fn new(limit: u64) -> Self {
        Pool {
            used: AtomicU64::new(0),
            limit,
        }
    }

    /// Takes `bytes` if they fit under the limit.
    fn take(&self, bytes: u64) -> bool {
        if bytes == 0 {
            return true;
        }
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|after| *after <= self.limit)
            })
            .is_ok()
    }

    fn give(&self, bytes: u64) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
        }
    }
}

/// Which limit an upload did not fit under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    Memory(u64),
    Disk(u64),
}

/// The upload budget of one `LiveView` (`Limits::upload_memory_budget`,
/// `Limits::upload_disk_budget`), shared by its connections.
#[derive(Debug)]
pub(crate) struct UploadBudget {
    memory: Pool,
    disk: Pool,
}

impl UploadBudget {
    pub(crate) fn new(memory: u64, disk: u64) -> Arc<Self> {
        Arc::new(UploadBudget {
            memory: Pool::new(memory),
            disk: Pool::new(disk),
        })
    }

    /// Reserves bytes in memory and on disk, both or neither; the [`Charge`]
    /// gives them back when dropped.
    pub(crate) fn reserve(self: &Arc<Self>, memory: u64, disk: u64) -> Result<Charge, Full> {
        if !self.memory.take(memory) {
            return Err(Full::Memory(self.memory.limit));
        }
        if !self.disk.take(disk) {
            self.memory.give(memory);
            return Err(Full::Disk(self.disk.limit));
        }
        Ok(Charge {
            budget: Arc::clone(self),
            memory,
            disk,
        })
    }

    /// Bytes reserved now, in memory and on disk.
    #[cfg(test)]
    pub(crate) fn in_use(&self) -> (u64, u64) {
        (
            self.memory.used.load(Ordering::Acquire),
            self.disk.used.load(Ordering::Acquire),
        )
    }
}

/// Bytes an upload holds of the budget, given back when it is dropped:
/// with the upload when it is cancelled, fails, expires or its connection
/// closes, and with its [`UploadedFile`](super::UploadedFile) after the
/// handler.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: Arc<UploadBudget>,
    memory: u64,
    disk: u64,
}

impl Charge {
    /// The upload moved to disk: its memory goes back.
    pub(crate) fn release_memory(&mut self) {
        self.budget.memory.give(std::mem::take(&mut self.memory));
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.memory.give(self.memory);
        self.budget.disk.give(self.disk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_under_the_limits_and_come_back_when_dropped() {
        let budget = UploadBudget::new(100, 1000);
        let a = budget.reserve(60, 0).unwrap();
        assert_eq!(budget.reserve(60, 0).err(), Some(Full::Memory(100)));
        let mut b = budget.reserve(40, 900).unwrap();
        assert_eq!(budget.reserve(0, 200).err(), Some(Full::Disk(1000)));
        assert_eq!(
            budget.in_use(),
            (100, 900),
            "a refused reservation takes nothing"
        );
        b.release_memory();
        assert_eq!(budget.in_use(), (60, 900));
        drop(a);
        drop(b);
        assert_eq!(budget.in_use(), (0, 0));
    }
}
