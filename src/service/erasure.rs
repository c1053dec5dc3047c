//! The erasure of deleted accounts' personal data (GDPR art. 17, PIPL art. 47): once the grace
//! period after a deletion (`Policy::erasure_grace`) ends, the data keys of the account's
//! streams are destroyed (`crate::personal`), so that every event keeps its facts and loses the
//! person, and `PersonalDataErased` and `AccountErased` (for subscribers) are appended. Until
//! then an administrator may restore the account (`admin::restore_account`).

use super::executor::{CommandMetadata, InlineWrite, Unit};
use super::{Context, ServiceError};
use crate::domain::account::{AccountCommand, AccountEvent};
use crate::domain::{address_book, code, follow_graph};
use crate::store::{erasures, event_log};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

/// How often the service looks for accounts whose grace period has ended.
const POLL: Duration = Duration::from_secs(60);
/// Accounts erased per look.
const BATCH: i64 = 100;

/// Erases, every [`POLL`], the deleted accounts whose grace period has ended. Runs beside the
/// API: several instances may run it, since an erasure is decided under the account's lock and
/// erases nothing twice.
pub async fn run(ctx: Context) {
    let mut every = tokio::time::interval(POLL);
    loop {
        every.tick().await;
        match erase_due(&ctx).await {
            Ok(0) => {}
            Ok(erased) => tracing::info!(erased, "erased the personal data of deleted accounts"),
            Err(error) => tracing::warn!(%error, "erasing deleted accounts failed; retrying later"),
        }
    }
}

/// Erases the deleted accounts whose grace period has ended by now (the service's clock), up to
/// [`BATCH`] of them. Returns how many it erased.
pub async fn erase_due(ctx: &Context) -> Result<usize, ServiceError> {
    let due = {
        let client = ctx.pool.get().await?;
        erasures::due(&client, ctx.now() - ctx.policy.erasure_grace, BATCH).await?
    };
    let mut erased = 0;
    for account_id in due {
        match erase(ctx, account_id).await {
            Ok(true) => erased += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(%account_id, %error, "could not erase an account"),
        }
    }
    Ok(erased)
}

/// After a deletion, in a task of its own (the deletion's transaction may still be open,
/// waiting to commit with its idempotent answer: the erasure queues for the account's lock
/// behind it): with no grace period, erases the account at once (a failure is left to [`run`],
/// which tries again); else retires the keys of its addresses' code streams, so that whoever
/// holds one of them next gets keys of their own, which the erasure leaves alone.
pub async fn after_deletion(ctx: &Context, account_id: Uuid) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if ctx.policy.erasure_grace <= chrono::Duration::zero() {
            if let Err(error) = erase(&ctx, account_id).await {
                tracing::warn!(%account_id, %error, "erasure after the deletion failed; retrying later");
            }
            return;
        }
        let retired = match streams_of(&ctx, account_id).await {
            Ok(streams) => ctx
                .keys
                .retire(&streams.codes, ctx.now())
                .await
                .map_err(Into::into),
            Err(error) => Err(error),
        };
        if let Err(error) = retired {
            tracing::warn!(%account_id, %error, "could not retire the code keys of a deleted account");
        }
    });
}

/// Erases a deleted account's personal data: `false` when there was nothing to erase (it was
/// restored, or erased already).
pub async fn erase(ctx: &Context, account_id: Uuid) -> Result<bool, ServiceError> {
    let streams = streams_of(ctx, account_id).await?;
    let metadata = CommandMetadata {
        request_id: format!("erasure-{}", Uuid::new_v4()),
        ..CommandMetadata::default()
    };
    let locked = [
        account_id,
        address_book::stream_id(account_id),
        follow_graph::stream_id(account_id),
    ];
    let mut unit = Unit::begin(ctx, &metadata, &locked).await?;
    let outcome = super::accounts::run_account_commands_with(
        &mut unit,
        account_id,
        |_| vec![AccountCommand::ErasePersonalData { now: ctx.now() }],
        |events| match events.is_empty() {
            true => Vec::new(),
            false => vec![InlineWrite::ErasePersonalData(streams.clone())],
        },
    )
    .await;
    let committed = unit.finish(outcome).await?;
    if committed.events.is_empty() {
        return Ok(false);
    }
    let client = ctx.pool.get().await?;
    let all: Vec<Uuid> = streams.own.iter().chain(&streams.codes).copied().collect();
    let keys = erasures::erased_keys(&client, &all).await?;
    ctx.keys.forget(&all, &keys);
    Ok(true)
}

/// The streams that hold an account's personal data.
#[derive(Debug, Clone)]
pub struct StreamsOf {
    /// Its own: its account, address book and follow graph.
    pub own: Vec<Uuid>,
    /// The code streams of every address and phone it ever had, shared with whoever held them
    /// before or after it.
    pub codes: Vec<Uuid>,
}

/// Every stream that holds the account's personal data (read from its history, before the keys
/// go).
async fn streams_of(ctx: &Context, account_id: Uuid) -> Result<StreamsOf, ServiceError> {
    let client = ctx.pool.get().await?;
    let events = event_log::load_stream(&ctx.keys, &client, account_id).await?;
    let (mut email_targets, mut phone_targets) = (BTreeSet::new(), BTreeSet::new());
    for recorded in &events {
        let Ok(event) = event_log::decode::<AccountEvent>(recorded) else {
            continue;
        };
        let (emails, phones) = match &event {
            AccountEvent::AccountRegistered { email, phone, .. } => {
                (vec![email.clone()], vec![phone.clone()])
            }
            AccountEvent::EmailVerified { email, .. } => (vec![Some(email.clone())], vec![]),
            AccountEvent::EmailChanged {
                email, previous, ..
            } => (vec![Some(email.clone()), previous.clone()], vec![]),
            AccountEvent::PhoneChanged {
                phone, previous, ..
            } => (vec![], vec![Some(phone.clone()), previous.clone()]),
            _ => continue,
        };
        for email in emails.into_iter().flatten() {
            email_targets.insert(email.as_str().to_owned());
        }
        for phone in phones.into_iter().flatten() {
            phone_targets.insert(phone.as_str().to_owned());
        }
    }
    let own = vec![
        account_id,
        address_book::stream_id(account_id),
        follow_graph::stream_id(account_id),
    ];
    let mut codes = Vec::new();
    let targets = (email_targets
        .iter()
        .map(|email| (code::Channel::Email, email)))
    .chain(
        phone_targets
            .iter()
            .map(|phone| (code::Channel::Sms, phone)),
    );
    for (channel, target) in targets {
        for purpose in code::Purpose::ALL {
            codes.push(code::stream_id(&ctx.pseudonyms, channel, target, purpose));
        }
    }
    Ok(StreamsOf { own, codes })
}
