//! Waiting for the read models: a query with `min_position` waits, bounded, until the projection
//! it reads has applied every event up to that position.
//!
//! Projectors `NOTIFY accounts_projections` when a batch commits; one listening connection per
//! process turns that into a wake-up for the waiting requests, which then check the projection's
//! checkpoint. A slow poll covers the moments the listening connection is down.

use super::{Context, ServiceError};
use crate::store;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Wake-ups when any projection moves, how long a read waits for one, and how many may.
#[derive(Clone)]
pub struct ProjectionWatch {
    changes: watch::Receiver<u64>,
    longest_wait: Duration,
    waiting: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ProjectionWatch {
    /// Listens for projection changes on a connection of its own, reconnecting when it drops;
    /// a read waits at most `longest_wait` for a position, and at most `max_waiting` wait at
    /// once.
    pub fn start(database_url: &str, longest_wait: Duration, max_waiting: usize) -> Self {
        let (sender, changes) = watch::channel(0_u64);
        let database_url = database_url.to_owned();
        tokio::spawn(async move {
            while !sender.is_closed() {
                if let Err(error) = listen(&database_url, &sender).await {
                    tracing::debug!(error = %error, "projection listener disconnected");
                }
                sender.send_modify(|n| *n += 1);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = sender.closed() => {}
                }
            }
        });
        Self {
            changes,
            longest_wait,
            waiting: std::sync::Arc::new(tokio::sync::Semaphore::new(max_waiting)),
        }
    }
}

async fn listen(database_url: &str, sender: &watch::Sender<u64>) -> anyhow::Result<()> {
    let (client, mut connection) =
        tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let listening = client.batch_execute("LISTEN accounts_projections");
    tokio::pin!(listening);
    let mut listened = false;
    loop {
        tokio::select! {
            result = &mut listening, if !listened => {
                result?;
                listened = true;
                // Changes before LISTEN took effect would be missed: wake everyone once.
                sender.send_modify(|n| *n += 1);
            }
            message = futures::StreamExt::next(&mut messages) => match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => {
                    sender.send_modify(|n| *n += 1);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Ok(()),
            },
            _ = sender.closed() => return Ok(()),
        }
    }
}

/// A connection for reading `projection`'s tables once it has been built and has reached
/// `min_position` (if given); `ReadModelBehind` when that does not happen in time.
pub async fn read_model(
    ctx: &Context,
    projection: &str,
    min_position: Option<i64>,
) -> Result<deadpool_postgres::Object, ServiceError> {
    wait_for_projection(ctx, projection, Some(min_position.unwrap_or(0))).await?;
    Ok(ctx.pool.get().await?)
}

/// Waits until `projection` has reached `min_position` (if given), at most the watch's
/// longest wait; then `ReadModelBehind`. A position beyond the end of the log is
/// `PositionAhead` at once. A waiting read holds no database connection between its checks
/// (it wakes on the shared notifier of projection progress), and at most the watch's
/// `max_waiting` wait at once: past them, `TooManyWaitingReads` at once.
pub async fn wait_for_projection(
    ctx: &Context,
    projection: &str,
    min_position: Option<i64>,
) -> Result<(), ServiceError> {
    let Some(position) = min_position else {
        return Ok(());
    };
    let deadline = Instant::now() + ctx.projections.longest_wait;
    let mut changes = ctx.projections.changes.clone();
    changes.borrow_and_update();
    {
        let client = ctx.pool.get().await?;
        // A position no command has answered would be waited for in vain.
        if position > 0 && position > store::event_log::last_position(&client).await? {
            return Err(ServiceError::PositionAhead);
        }
        if store::projections::has_reached(&client, projection, position).await? {
            return Ok(());
        }
    }
    let Ok(_waiting) = ctx.projections.waiting.clone().try_acquire_owned() else {
        return Err(ServiceError::TooManyWaitingReads);
    };
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(ServiceError::ReadModelBehind);
        }
        let pause = (deadline - now).min(Duration::from_millis(250));
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(pause) => {}
        }
        let client = ctx.pool.get().await?;
        if store::projections::has_reached(&client, projection, position).await? {
            return Ok(());
        }
    }
}
