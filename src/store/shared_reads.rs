//! Connections that concurrent single-statement reads share, so that PostgreSQL receives them
//! pipelined.
//!
//! A pooled connection serves one request at a time: each read then costs its own backend a
//! wake-up, a socket read and a socket write, and 32 backends contend for 2 cores. tokio-postgres
//! pipelines the statements that several tasks send on one `Client`: the backend reads them in
//! one go, answers each, and flushes the answers together. On 2 cores this took `GET /v1/me`
//! from ~5,400 to ~8,700 requests a second at 32 connections (see `scripts/bench`).
//!
//! Only a statement that stands alone belongs here: a read, or a write that can never wait for a
//! lock (one waiting statement holds up every statement queued behind it on its lane). A lane is
//! handed out as a shared reference, so no transaction can begin on it (`transaction` takes
//! `&mut`).

use super::StoreError;
use deadpool_postgres::{Object, Pool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `lanes` connections taken from the pool and kept, handed out in turn. A lane whose connection
/// closed (a database restart) is replaced from the pool on its next use.
#[derive(Clone)]
pub struct SharedReads {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    lanes: Vec<Mutex<Option<Arc<Object>>>>,
    next: AtomicUsize,
}

impl SharedReads {
    /// `lanes` shared connections from `pool` (at least one); the pool should have room for
    /// them beside the connections commands need.
    pub fn new(pool: Pool, lanes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                lanes: (0..lanes.max(1)).map(|_| Mutex::new(None)).collect(),
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// The next lane's connection, opened (from the pool) if it has none or its connection
    /// closed. Errors: `StoreError::Pool` when the pool cannot give a connection.
    pub async fn lane(&self) -> Result<Arc<Object>, StoreError> {
        let inner = &self.inner;
        let slot = &inner.lanes[inner.next.fetch_add(1, Ordering::Relaxed) % inner.lanes.len()];
        if let Some(client) = slot.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        let fresh = Arc::new(inner.pool.get().await?);
        let mut current = slot.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            // Another task replaced it meanwhile: use theirs, and give this one back.
            Some(client) if !client.is_closed() => Ok(client.clone()),
            _ => {
                *current = Some(fresh.clone());
                Ok(fresh)
            }
        }
    }
}
