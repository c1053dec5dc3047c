//! Shipping addresses: the account's `address_book` stream.

use super::executor::{self, CommandMetadata, Committed, ExecuteError, Loaded};
use super::{Context, FieldError, ServiceError};
use crate::domain::address_book::{self, AddressBook, AddressCommand, AddressError};
use crate::store::sessions::ActiveSession;

/// The caller's address book.
pub async fn address_book(
    ctx: &Context,
    caller: ActiveSession,
) -> Result<Loaded<AddressBook>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(executor::load::<AddressBook>(&client, address_book::stream_id(caller.account_id)).await?)
}

/// Runs a command on the caller's address book; answers the book as changed.
pub async fn change_address_book(
    ctx: &Context,
    caller: ActiveSession,
    command: impl Fn(&AddressBook) -> AddressCommand,
    metadata: &CommandMetadata,
) -> Result<Committed<AddressBook>, ServiceError> {
    executor::execute(
        &ctx.pool,
        address_book::stream_id(caller.account_id),
        &metadata.with_actor(caller.account_id),
        |book: &AddressBook| address_book::decide(book, command(book)),
        |_, _| Vec::new(),
    )
    .await
    .map_err(|error| match error {
        ExecuteError::Domain(AddressError::NotFound) => ServiceError::AddressNotFound,
        ExecuteError::Domain(AddressError::Full) => ServiceError::AddressBookFull,
        ExecuteError::Domain(AddressError::PostcodeMismatch) => {
            ServiceError::Validation(vec![FieldError {
                field: "postcode".to_owned(),
                code: "invalid_postcode",
                message: "the postcode does not suit the receiver's country (6 digits in \
                          mainland China)"
                    .to_owned(),
            }])
        }
        ExecuteError::Store(error) => error.into(),
    })
}
