//! In-process queues of a stream's writers. A unit waits its turn for each of its streams here,
//! before it takes a pooled connection: commands queued on one stream (a busy account, or one
//! whose advisory lock a slow transaction holds) then wait without holding a connection, and
//! the pool stays free for every other stream. PostgreSQL's advisory lock still serializes the
//! writers of other processes; this only keeps a process's own waiters out of the pool.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// One queue per stream that has a writer waiting or writing in this process.
static QUEUES: LazyLock<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A turn at the head of a stream's queue, held until dropped; the stream's queue is forgotten
/// when no one else waits in it.
pub struct Turn {
    stream: Uuid,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut queues = QUEUES.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.guard.take());
        if queues
            .get(&self.stream)
            .is_some_and(|queue| Arc::strong_count(queue) == 1)
        {
            queues.remove(&self.stream);
        }
    }
}

/// Waits for a turn on each of `streams` (sorted and without repeats, as a unit locks them: so
/// two waiters never hold one turn each of what the other needs).
pub async fn turns(streams: &[Uuid]) -> Vec<Turn> {
    let mut turns = Vec::with_capacity(streams.len());
    for &stream in streams {
        let queue = QUEUES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(stream)
            .or_default()
            .clone();
        turns.push(Turn {
            stream,
            guard: Some(queue.lock_owned().await),
        });
    }
    turns
}

/// How many streams have a queue now (for tests: none once every writer is done).
pub fn queued_streams() -> usize {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner).len()
}
