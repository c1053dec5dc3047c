//! Administration: roles, actions on other accounts (edit, block, feature, delete), accounts as
//! they were at an instant, the account list, and `accounts admin create` for the command line.

use super::executor::{CommandMetadata, Committed, Unit};
use super::{Context, ServiceError};
use crate::domain::Aggregate;
use crate::domain::account::{
    Account, AccountCommand, AccountStatus, ProfileChanges, Proof, Role, StepUp,
};
use crate::domain::values::{Email, Username};
use crate::store::event_log::{self};
use crate::store::sessions::ActiveSession;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The caller's account, if its role is at least `role` (else `Forbidden`) and, when the
/// operator requires it, it has a second factor (else `MfaEnrolmentRequired`).
pub(super) async fn require_role(
    ctx: &Context,
    caller: ActiveSession,
    role: Role,
) -> Result<Account, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    if !account.role.at_least(role) {
        return Err(ServiceError::Forbidden);
    }
    ensure_admin_factor(ctx, &account)?;
    Ok(account)
}

/// With `require_mfa_for_admins`, an administrator or owner administers only once their account
/// has a second factor.
fn ensure_admin_factor(ctx: &Context, acting: &Account) -> Result<(), ServiceError> {
    match ctx.policy.require_mfa_for_admins && !acting.factors.enabled() {
        true => Err(ServiceError::MfaEnrolmentRequired),
        false => Ok(()),
    }
}

/// An account as it is, or as it was at `as_of` (its stream replayed up to that instant).
pub async fn admin_account(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    as_of: Option<DateTime<Utc>>,
) -> Result<Account, ServiceError> {
    require_role(ctx, caller, Role::Admin).await?;
    let Some(as_of) = as_of else {
        return Ok(super::accounts::account(ctx, id).await?.state);
    };
    let client = ctx.pool.get().await?;
    let events = event_log::load_stream_as_of(&ctx.keys, &client, id, as_of).await?;
    if events
        .iter()
        .any(|event| event.stream_type != Account::STREAM_TYPE)
    {
        return Err(ServiceError::AccountNotFound);
    }
    Ok(super::accounts::active(super::executor::fold::<Account>(&events)?)?.state)
}

/// An administrator's edit of an account (`PATCH /v1/admin/users/{id}`).
#[derive(Debug, Clone, Default)]
pub struct AccountEdit {
    /// Profile fields to change.
    pub changes: ProfileChanges,
    /// A new username, which must be free.
    pub username: Option<Username>,
    /// A new email address, which must be free (it counts as verified: the operator vouches).
    pub email: Option<Email>,
}

/// Edits an account: every change in one transaction, so that a refused email leaves the
/// profile as it was and an `Idempotency-Key` is claimed once. With nothing to change, the
/// account as it is.
pub async fn edit_account(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    edit: AccountEdit,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let AccountEdit {
        changes,
        username,
        email,
    } = edit;
    if changes.is_empty() && username.is_none() && email.is_none() {
        let state = admin_account(ctx, caller, id, None).await?;
        let position = super::accounts::account(ctx, id)
            .await?
            .position
            .unwrap_or(0);
        return Ok(Committed {
            state,
            events: Vec::new(),
            position,
        });
    }
    admin_commands(ctx, caller, id, false, metadata, |_| {
        let now = ctx.now();
        let mut commands = Vec::new();
        if !changes.is_empty() || username.is_some() {
            commands.push(AccountCommand::UpdateProfile {
                changes: changes.clone(),
                username: username.clone(),
                now,
            });
        }
        if let Some(email) = &email {
            commands.push(AccountCommand::ChangeEmail {
                email: email.clone(),
                step_up: StepUp::Administrator,
                now,
            });
        }
        commands
    })
    .await
}

/// Gives an account `role`: owners only; the last owner stays one (`LastOwner`).
pub async fn set_role(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    role: Role,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    admin_command(ctx, caller, id, true, metadata, |_| {
        AccountCommand::ChangeRole {
            role,
            now: ctx.now(),
        }
    })
    .await
}

/// Blocks an account: its sessions end. Nobody blocks their own (`CannotBlockSelf`).
pub async fn block(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    if id == caller.account_id {
        require_role(ctx, caller, Role::Admin).await?;
        return Err(ServiceError::CannotBlockSelf);
    }
    admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::Block { now: ctx.now() }
    })
    .await
}

/// Unblocks an account.
pub async fn unblock(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::Unblock { now: ctx.now() }
    })
    .await
}

/// Features an account in public listings, or stops.
pub async fn set_featured(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    featured: bool,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::SetFeatured {
            featured,
            now: ctx.now(),
        }
    })
    .await
}

/// Removes every second factor of an account (TOTP and recovery codes), for an owner who lost
/// them; the event names the administrator.
pub async fn reset_second_factors(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::ResetSecondFactors {
            administrator: caller.account_id,
            now: ctx.now(),
        }
    })
    .await
}

/// Deletes an account as an administrator; the last owner stays (`LastOwner`).
pub async fn delete_account(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let committed = admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::Delete {
            proof: Proof::Administrator,
            step_up: StepUp::Administrator,
            now: ctx.now(),
        }
    })
    .await?;
    super::erasure::after_deletion(ctx, id).await;
    Ok(committed)
}

/// Brings a deleted account back within its grace period (`POST /v1/admin/users/{id}/restore`):
/// active again, its identifiers claimed anew (`EmailTaken`, ... when someone took one
/// meanwhile), its erasure called off. `AccountNotDeleted` for an account that is not deleted,
/// `AccountErased` once its personal data is erased.
pub async fn restore_account(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let mut unit = super::accounts::own_unit(ctx, caller, metadata, &[id]).await?;
    let outcome = restore_in(ctx, &mut unit, caller.account_id, id).await;
    unit.finish(outcome).await
}

async fn restore_in(
    ctx: &Context,
    unit: &mut Unit,
    caller: Uuid,
    id: Uuid,
) -> Result<Committed<Account>, ServiceError> {
    let acting = super::accounts::active(unit.load::<Account>(caller).await?)?.state;
    if !acting.role.at_least(Role::Admin) {
        return Err(ServiceError::Forbidden);
    }
    ensure_admin_factor(ctx, &acting)?;
    let target = unit.load::<Account>(id).await?.state;
    if target.status == AccountStatus::Unregistered {
        return Err(ServiceError::AccountNotFound);
    }
    if !acting.role.may_act_on(target.role, id == caller) {
        return Err(ServiceError::Forbidden);
    }
    let now = ctx.now();
    super::accounts::run_account_commands_in(
        unit,
        id,
        |_| {
            vec![AccountCommand::Restore {
                administrator: caller,
                now,
            }]
        },
        Vec::new(),
    )
    .await
}

/// Runs `command` on an account as an administrator (an owner for `owner_only`); the
/// event's metadata names the administrator as actor. Admins act on users and on
/// themselves; only owners act on other admins and owners.
pub(super) async fn admin_command(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    owner_only: bool,
    metadata: &CommandMetadata,
    command: impl Fn(&Account) -> AccountCommand,
) -> Result<Committed<Account>, ServiceError> {
    admin_commands(ctx, caller, id, owner_only, metadata, |account| {
        vec![command(account)]
    })
    .await
}

/// Like `admin_command`, with several commands that commit together or not at all.
async fn admin_commands(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    owner_only: bool,
    metadata: &CommandMetadata,
    commands: impl Fn(&Account) -> Vec<AccountCommand>,
) -> Result<Committed<Account>, ServiceError> {
    let needed = if owner_only { Role::Owner } else { Role::Admin };
    // Both roles are read inside the transaction, which locks both accounts: a demotion
    // committed meanwhile cannot slip between the check and the change.
    let mut unit = super::accounts::own_unit(ctx, caller, metadata, &[id]).await?;
    let outcome = act_on(ctx, &mut unit, caller.account_id, needed, id, commands).await;
    unit.finish(outcome).await
}

async fn act_on(
    ctx: &Context,
    unit: &mut Unit,
    caller: Uuid,
    needed: Role,
    id: Uuid,
    commands: impl FnOnce(&Account) -> Vec<AccountCommand>,
) -> Result<Committed<Account>, ServiceError> {
    let acting = super::accounts::active(unit.load::<Account>(caller).await?)?.state;
    if !acting.role.at_least(needed) {
        return Err(ServiceError::Forbidden);
    }
    ensure_admin_factor(ctx, &acting)?;
    let target = super::accounts::active(unit.load::<Account>(id).await?)?.state;
    if !acting.role.may_act_on(target.role, id == caller) {
        return Err(ServiceError::Forbidden);
    }
    super::accounts::run_account_commands_in(unit, id, commands, Vec::new()).await
}

/// A page of accounts from the `users` read model.
pub async fn admin_list(
    ctx: &Context,
    caller: ActiveSession,
    filter: &crate::store::users::AdminFilter,
    order: crate::store::users::AdminOrder,
    (page, per_page): (i64, i64),
    include_total: bool,
    min_position: Option<i64>,
) -> Result<(Vec<crate::store::users::UserRow>, Option<i64>), ServiceError> {
    require_role(ctx, caller, Role::Admin).await?;
    let client = super::read_models::read_model(ctx, "users", min_position).await?;
    Ok(crate::store::users::admin_list(
        &client,
        filter,
        order,
        per_page,
        (page - 1) * per_page,
        include_total,
    )
    .await?)
}

/// An account whose address was never proven may belong to whoever signed up with it first,
/// not to the owner the operator means: it is promoted only when the operator vouches for the
/// address with `--password`, which verifies it, replaces the password set before and ends
/// every session (as a reset by mail would).
async fn vouch_for_unproven_address(
    ctx: &Context,
    id: Uuid,
    email: &crate::domain::values::Email,
    password: Option<&str>,
    metadata: &CommandMetadata,
) -> anyhow::Result<()> {
    use crate::domain::account::IdentifierKind;
    let account = super::accounts::account(ctx, id).await?.state;
    if !account.email_unproven() {
        return Ok(());
    }
    let password = password.ok_or_else(|| {
        anyhow::anyhow!(
            "the account holding this address never proved it, so whoever signed up may not be \
             its owner: have the owner verify it first, or give --password to vouch for the \
             address (the password set before is replaced and every session ends)"
        )
    })?;
    let password = crate::domain::values::Password::parse(password, &[email.as_str()])
        .map_err(|invalid| anyhow::anyhow!("--password: {}", invalid.message))?;
    let sealed = ctx.hasher.hash(&password).await?;
    super::accounts::run_account_command(
        ctx,
        id,
        metadata,
        AccountCommand::ResetPassword {
            new_password: sealed.clone(),
            proven: IdentifierKind::Email,
            now: ctx.now(),
        },
    )
    .await
    .map_err(|error| anyhow::anyhow!("vouching for the address: {error}"))?;
    Ok(())
}

/// `accounts admin create`: makes an owner, signing the address up first when no account has
/// it. Returns the account id and whether it is new.
pub async fn create_owner(
    ctx: &Context,
    email: &crate::domain::values::Email,
    password: Option<&str>,
) -> anyhow::Result<(Uuid, bool)> {
    use super::sign_up::SignUp;
    use crate::domain::account::Identifier;
    use crate::store::claims::{self, ClaimKind};
    let metadata = CommandMetadata {
        actor: None,
        request_id: "cli".to_owned(),
        ip: None,
        user_agent: Some("accounts admin create".to_owned()),
        idempotency: None,
    };
    let holder = {
        let client = ctx.pool.get().await?;
        claims::holder(&client, ClaimKind::Email, email.as_str()).await?
    };
    let (id, created) = match holder {
        Some(id) => {
            vouch_for_unproven_address(ctx, id, email, password, &metadata).await?;
            (id, false)
        }
        None => {
            let password = password
                .ok_or_else(|| anyhow::anyhow!("no account has this address: give --password"))?;
            let password = crate::domain::values::Password::parse(password, &[email.as_str()])
                .map_err(|invalid| anyhow::anyhow!("--password: {}", invalid.message))?;
            let signed_in = super::sign_up::sign_up(
                ctx,
                SignUp {
                    identifier: Identifier::Email(email.clone()),
                    password: Some(password),
                    code: None,
                    display_name: None,
                    captcha: None,
                    mail_locale: None,
                },
                &metadata,
            )
            .await
            .map_err(|error| anyhow::anyhow!("signing up: {error}"))?;
            (signed_in.account_id, true)
        }
    };
    super::accounts::run_account_command(
        ctx,
        id,
        &metadata,
        AccountCommand::ChangeRole {
            role: Role::Owner,
            now: ctx.now(),
        },
    )
    .await
    .map_err(|error| anyhow::anyhow!("promoting: {error}"))?;
    Ok((id, created))
}
