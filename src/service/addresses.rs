//! Shipping addresses: the account's `address_book` stream.

use super::executor::{self, CommandMetadata, Committed, ExecuteError, Loaded};
use super::{Context, FieldError, ServiceError};
use crate::domain::address_book::{
    self, AddressBook, AddressChanges, AddressCommand, AddressError, AddressFields,
};
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// The caller's address book.
pub async fn address_book(
    ctx: &Context,
    caller: ActiveSession,
) -> Result<Loaded<AddressBook>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(executor::load::<AddressBook>(
        &ctx.keys,
        &client,
        address_book::stream_id(caller.account_id),
    )
    .await?)
}

/// Adds an address (the first becomes the default); at most 20 (`AddressBookFull`).
pub async fn add_address(
    ctx: &Context,
    caller: ActiveSession,
    fields: AddressFields,
    metadata: &CommandMetadata,
) -> Result<Committed<AddressBook>, ServiceError> {
    let (address_id, now) = (Uuid::now_v7(), ctx.now());
    change_address_book(
        ctx,
        caller,
        metadata,
        AddressCommand::Add {
            address_id,
            fields,
            now,
        },
    )
    .await
}

/// Changes some fields of an address (`AddressNotFound`).
pub async fn change_address(
    ctx: &Context,
    caller: ActiveSession,
    address_id: Uuid,
    changes: AddressChanges,
    metadata: &CommandMetadata,
) -> Result<Committed<AddressBook>, ServiceError> {
    let now = ctx.now();
    change_address_book(
        ctx,
        caller,
        metadata,
        AddressCommand::Change {
            address_id,
            changes,
            now,
        },
    )
    .await
}

/// Removes an address; if it was the default, the newest remaining one becomes the default.
pub async fn remove_address(
    ctx: &Context,
    caller: ActiveSession,
    address_id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<AddressBook>, ServiceError> {
    let now = ctx.now();
    change_address_book(
        ctx,
        caller,
        metadata,
        AddressCommand::Remove { address_id, now },
    )
    .await
}

/// Makes an address the default.
pub async fn make_default_address(
    ctx: &Context,
    caller: ActiveSession,
    address_id: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<AddressBook>, ServiceError> {
    let now = ctx.now();
    change_address_book(
        ctx,
        caller,
        metadata,
        AddressCommand::MakeDefault { address_id, now },
    )
    .await
}

/// Runs a command on the caller's address book; answers the book as changed.
async fn change_address_book(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    command: AddressCommand,
) -> Result<Committed<AddressBook>, ServiceError> {
    let stream = address_book::stream_id(caller.account_id);
    super::accounts::run_own_stream(
        ctx,
        caller,
        metadata,
        stream,
        |book: &AddressBook| address_book::decide(book, command),
        from_address_error,
    )
    .await
}

fn from_address_error(error: ExecuteError<AddressError>) -> ServiceError {
    match error {
        ExecuteError::Domain(AddressError::NotFound) => ServiceError::AddressNotFound,
        ExecuteError::Domain(AddressError::Full) => ServiceError::AddressBookFull,
        ExecuteError::Domain(AddressError::PostcodeMismatch) => {
            ServiceError::Validation(vec![FieldError {
                field: "postcode".to_owned(),
                code: crate::domain::values::Refusal::InvalidPostcode.as_str(),
                message: "the postcode does not suit the receiver's country (6 digits in \
                          mainland China)"
                    .to_owned(),
            }])
        }
        ExecuteError::Store(error) => error.into(),
    }
}
