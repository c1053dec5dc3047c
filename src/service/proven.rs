//! Changes proven by one-time codes or links: the codes are spent and the account changes in
//! one transaction, so that both happen or neither does. A refused change leaves its codes
//! unspent for a retry; a wrong code is recorded (five kill it) and nothing else happens.

use super::accounts::run_account_commands_with;
use super::codes::{self, CodeProof, PreparedProof, Target};
use super::executor::{CommandMetadata, Committed, InlineWrite, Unit};
use super::{Context, ServiceError};
use crate::domain::account::{Account, AccountCommand, AccountEvent};
use crate::domain::code::Purpose;
use crate::store::claims;
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// The account a proven change applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChangedAccount {
    /// The account that holds the first proof's target, checked again inside the transaction.
    Holder(Uuid),
    /// An account named otherwise: the caller's own, or a new one.
    Named(Uuid),
}

impl ChangedAccount {
    pub fn id(self) -> Uuid {
        match self {
            Self::Holder(id) | Self::Named(id) => id,
        }
    }
}

/// Spends every proof (each for its purpose) and runs `commands` on the account, with the
/// inline `writes` that go beside their events, in one transaction; returns the account's
/// commit. A signed-in `caller` (the changed account's own) must still have a live session
/// inside the transaction.
pub(super) async fn prove_and_change(
    ctx: &Context,
    caller: Option<ActiveSession>,
    proofs: &[(&CodeProof, Purpose)],
    account: ChangedAccount,
    metadata: &CommandMetadata,
    commands: impl FnOnce(&Account, &[Target]) -> Result<Vec<AccountCommand>, ServiceError>,
    writes: Vec<InlineWrite>,
) -> Result<Committed<Account>, ServiceError> {
    prove_and_change_with(ctx, caller, proofs, account, metadata, commands, |_| writes).await
}

/// Like [`prove_and_change`], with the inline writes beyond those the events imply chosen by
/// the events decided (`writes`).
pub(super) async fn prove_and_change_with(
    ctx: &Context,
    caller: Option<ActiveSession>,
    proofs: &[(&CodeProof, Purpose)],
    account: ChangedAccount,
    metadata: &CommandMetadata,
    commands: impl FnOnce(&Account, &[Target]) -> Result<Vec<AccountCommand>, ServiceError>,
    writes: impl FnOnce(&[AccountEvent]) -> Vec<InlineWrite>,
) -> Result<Committed<Account>, ServiceError> {
    let mut prepared = Vec::with_capacity(proofs.len());
    for (proof, purpose) in proofs {
        prepared.push(codes::prepare(ctx, proof, *purpose, true).await?);
    }
    let streams: Vec<Uuid> = prepared
        .iter()
        .map(|proof| proof.stream)
        .chain([account.id()])
        .collect();
    let mut unit = match caller {
        Some(caller) => super::accounts::own_unit(ctx, caller, metadata, &streams).await?,
        None => Unit::begin(ctx, metadata, &streams).await?,
    };
    let outcome = spend_and_change(&mut unit, &prepared, account, commands, writes).await;
    unit.finish(outcome).await
}

async fn spend_and_change(
    unit: &mut Unit,
    prepared: &[PreparedProof],
    account: ChangedAccount,
    commands: impl FnOnce(&Account, &[Target]) -> Result<Vec<AccountCommand>, ServiceError>,
    writes: impl FnOnce(&[AccountEvent]) -> Vec<InlineWrite>,
) -> Result<Committed<Account>, ServiceError> {
    let mut targets = Vec::with_capacity(prepared.len());
    for proof in prepared {
        targets.push(codes::check_in(unit, proof).await?.0);
    }
    if let (ChangedAccount::Holder(id), Some(first)) = (account, targets.first()) {
        // The target may have moved to another account since it was looked up.
        let holder = claims::holder(unit.client().await?, first.claim_kind(), &first.value).await?;
        if holder != Some(id) {
            return Err(ServiceError::CodeInvalid);
        }
    }
    // The codes are spent in the unit; the change they prove follows in the same transaction.
    crate::faults::point("proven.between_proof_and_change").await;
    let state = unit.load::<Account>(account.id()).await?.state;
    let commands = commands(&state, &targets)?;
    run_account_commands_with(unit, account.id(), |_| commands, writes).await
}
