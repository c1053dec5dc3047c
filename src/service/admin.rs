//! Administration: roles, actions on other accounts, and the audit trail with time travel.

use super::executor::{CommandMetadata, Committed};
use super::{ServiceError, Services};
use crate::domain::Aggregate;
use crate::domain::account::{Account, AccountCommand, AccountStatus, Role};
use crate::store::event_log::{self, RecordedEvent};
use crate::store::sessions::ActiveSession;
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn rank(role: Role) -> u8 {
    match role {
        Role::User => 0,
        Role::Admin => 1,
        Role::Owner => 2,
    }
}

impl Services {
    /// The caller's account, if its role is at least `role`; else `Forbidden`.
    pub async fn require_role(
        &self,
        caller: ActiveSession,
        role: Role,
    ) -> Result<Account, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        if rank(account.role) >= rank(role) {
            Ok(account)
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// An account as it is, or as it was at `as_of` (its stream replayed up to that instant).
    pub async fn admin_account(
        &self,
        caller: ActiveSession,
        id: Uuid,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Account, ServiceError> {
        self.require_role(caller, Role::Admin).await?;
        let Some(as_of) = as_of else {
            return Ok(self.account(id).await?.state);
        };
        let client = self.pool.get().await?;
        let events = event_log::load_stream_as_of(&client, id, as_of).await?;
        let mut account = Account::default();
        for event in &events {
            if event.stream_type != Account::STREAM_TYPE {
                return Err(ServiceError::AccountNotFound);
            }
            account = account.evolve(&event_log::decode(event)?);
        }
        match account.status {
            AccountStatus::Active | AccountStatus::Blocked => Ok(account),
            _ => Err(ServiceError::AccountNotFound),
        }
    }

    /// Runs `command` on an account as an administrator (an owner for `owner_only`); the
    /// event's metadata names the administrator as actor. Admins act on users and on
    /// themselves; only owners act on other admins and owners.
    pub async fn admin_command(
        &self,
        caller: ActiveSession,
        id: Uuid,
        owner_only: bool,
        metadata: &CommandMetadata,
        command: impl Fn(&Account) -> AccountCommand,
    ) -> Result<Committed<Account>, ServiceError> {
        self.admin_commands(caller, id, owner_only, metadata, |account| {
            vec![command(account)]
        })
        .await
    }

    /// Like `admin_command`, with several commands that commit together or not at all.
    pub async fn admin_commands(
        &self,
        caller: ActiveSession,
        id: Uuid,
        owner_only: bool,
        metadata: &CommandMetadata,
        commands: impl Fn(&Account) -> Vec<AccountCommand>,
    ) -> Result<Committed<Account>, ServiceError> {
        let role = if owner_only { Role::Owner } else { Role::Admin };
        let acting = self.require_role(caller, role).await?;
        let target = self.account(id).await?.state;
        if id != caller.account_id && acting.role != Role::Owner && target.role != Role::User {
            return Err(ServiceError::Forbidden);
        }
        self.run_account_commands(id, &metadata.with_actor(caller.account_id), commands)
            .await
    }

    /// A page of the whole log after `after` (commit order), of `types` if given.
    pub async fn admin_log(
        &self,
        caller: ActiveSession,
        after: i64,
        types: Option<&[String]>,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, ServiceError> {
        self.require_role(caller, Role::Admin).await?;
        let client = self.pool.get().await?;
        Ok(event_log::read_by_position(&client, after, types, limit).await?)
    }
}

impl Services {
    /// A page of accounts from the `users` read model.
    pub async fn admin_list(
        &self,
        caller: ActiveSession,
        filter: &crate::store::users::AdminFilter,
        order: crate::store::users::AdminOrder,
        (page, per_page): (i64, i64),
        include_total: bool,
        min_position: Option<i64>,
    ) -> Result<(Vec<crate::store::users::UserRow>, Option<i64>), ServiceError> {
        self.require_role(caller, Role::Admin).await?;
        let client = self.read_model("users", min_position).await?;
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
}

/// An account whose address was never proven may belong to whoever signed up with it first,
/// not to the owner the operator means: it is promoted only when the operator vouches for the
/// address with `--password`, which verifies it, replaces the password set before and ends
/// every session (as a reset by mail would).
async fn vouch_for_unproven_address(
    services: &Services,
    id: Uuid,
    email: &crate::domain::values::Email,
    password: Option<&str>,
    metadata: &CommandMetadata,
) -> anyhow::Result<()> {
    use crate::domain::account::IdentifierKind;
    let account = services.account(id).await?.state;
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
    let sealed = services.hasher.hash(&password).await?;
    services
        .run_account_command(id, metadata, |_| AccountCommand::ResetPassword {
            new_password: sealed.clone(),
            proven: IdentifierKind::Email,
            now: services.now(),
        })
        .await
        .map_err(|error| anyhow::anyhow!("vouching for the address: {error}"))?;
    Ok(())
}

/// `accounts admin create`: makes an owner, signing the address up first when no account has
/// it. Returns the account id and whether it is new.
pub async fn create_owner(
    services: &Services,
    email: &crate::domain::values::Email,
    password: Option<&str>,
) -> anyhow::Result<(Uuid, bool)> {
    use crate::domain::account::NewIdentifier;
    use crate::store::claims::{self, ClaimKind};
    let metadata = CommandMetadata {
        actor: None,
        request_id: "cli".to_owned(),
        ip: None,
        user_agent: Some("accounts admin create".to_owned()),
        idempotency: None,
    };
    let holder = {
        let client = services.pool.get().await?;
        claims::holder(&client, ClaimKind::Email, email.as_str()).await?
    };
    let (id, created) = match holder {
        Some(id) => {
            vouch_for_unproven_address(services, id, email, password, &metadata).await?;
            (id, false)
        }
        None => {
            let password = password
                .ok_or_else(|| anyhow::anyhow!("no account has this address: give --password"))?;
            let password = crate::domain::values::Password::parse(password, &[email.as_str()])
                .map_err(|invalid| anyhow::anyhow!("--password: {}", invalid.message))?;
            let signed_in = services
                .sign_up(
                    NewIdentifier::Email(email.clone()),
                    Some(&password),
                    None,
                    None,
                    &metadata,
                )
                .await
                .map_err(|error| anyhow::anyhow!("signing up: {error}"))?;
            (signed_in.account_id, true)
        }
    };
    services
        .run_account_command(id, &metadata, |_| AccountCommand::ChangeRole {
            role: Role::Owner,
            now: chrono::Utc::now(),
        })
        .await
        .map_err(|error| anyhow::anyhow!("promoting: {error}"))?;
    Ok((id, created))
}
