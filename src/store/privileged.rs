//! Which accounts are administrators or owners, kept inline with the role events so that the
//! last-owner rule is decided in the transaction that would break it.

use crate::domain::account::Role;
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::StoreError;

/// Advisory lock key taken by every last-owner check, so that two owners cannot demote or
/// delete each other at once ("owners" in ASCII).
const OWNER_CHECK_LOCK: i64 = 0x6f77_6e65_7273;

/// Records `account`'s role: admins and owners are listed, users are not.
pub async fn set_role(
    client: &impl GenericClient,
    account: Uuid,
    role: Role,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "DELETE FROM privileged_accounts WHERE account_id = $1",
        &[&account],
    )
    .await?;
    if role != Role::User {
        super::prepared::execute(
            client,
            "INSERT INTO privileged_accounts (account_id, role) VALUES ($1, $2)",
            &[&account, &role.as_str()],
        )
        .await?;
    }
    Ok(())
}

/// Fails with `LastOwner` unless an owner other than `account` remains. Checks run one at a
/// time across the database.
pub async fn require_another_owner(
    client: &impl GenericClient,
    account: Uuid,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "SELECT pg_advisory_xact_lock($1)",
        &[&OWNER_CHECK_LOCK],
    )
    .await?;
    let others: i64 = super::prepared::query_one(
        client,
        "SELECT count(*) FROM privileged_accounts WHERE role = 'owner' AND account_id <> $1",
        &[&account],
    )
    .await?
    .get(0);
    if others == 0 {
        return Err(StoreError::LastOwner);
    }
    Ok(())
}
