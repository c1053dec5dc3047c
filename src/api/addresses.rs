//! `/v1/me/addresses`: shipping addresses. Every mutation answers the whole, updated list
//! (default first) from the address book itself.

use super::ApiTags;
use super::auth::SignedIn;
use super::problem::{ApiError, Problems, statuses::*};
use crate::domain::address_book::{AddressBook, AddressChanges, AddressFields};
use crate::domain::values::{AddressLine, AddressTag, InvalidValue, Phone, Postcode, Receiver};
use crate::service;
use crate::service::executor::CommandMetadata;
use crate::service::{Context, FieldError};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

/// An address.
#[derive(Debug, Clone, Object)]
pub struct AddressView {
    /// Address id.
    pub id: Uuid,
    /// Who receives parcels.
    pub receiver: String,
    /// The receiver's phone (E.164).
    pub receiver_phone: String,
    /// The street address.
    pub address: String,
    /// The postal code.
    pub postcode: String,
    /// A label (家, 公司).
    pub tag: String,
    /// The default address.
    pub is_default: bool,
    /// Added.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The active addresses of a book, as the API shows them.
pub(super) fn list(book: &AddressBook) -> Vec<AddressView> {
    book.active()
        .into_iter()
        .map(|address| AddressView {
            id: address.id,
            receiver: address.fields.receiver.as_str().to_owned(),
            receiver_phone: address.fields.receiver_phone.as_str().to_owned(),
            address: address.fields.address.as_str().to_owned(),
            postcode: address.fields.postcode.as_str().to_owned(),
            tag: address.fields.tag.as_str().to_owned(),
            is_default: book.default == Some(address.id),
            created_at: address.created_at,
            updated_at: address.updated_at,
        })
        .collect()
}

/// A new address.
#[derive(Debug, Object)]
pub struct NewAddress {
    /// Who receives parcels: 1 to 20 characters.
    #[oai(validator(max_length = 200))]
    pub receiver: String,
    /// The receiver's phone: a mainland China mobile number or E.164.
    #[oai(validator(max_length = 32))]
    pub receiver_phone: String,
    /// The street address: 1 to 200 characters.
    #[oai(validator(max_length = 1000))]
    pub address: String,
    /// The postal code: 6 digits in mainland China, 3 to 10 elsewhere.
    #[oai(validator(max_length = 16))]
    pub postcode: String,
    /// A label: 1 to 10 characters.
    #[oai(validator(max_length = 100))]
    pub tag: String,
}

/// Fields to change; absent fields stay.
#[derive(Debug, Object)]
pub struct AddressPatch {
    /// Who receives parcels.
    #[oai(validator(max_length = 200))]
    pub receiver: Option<String>,
    /// The receiver's phone.
    #[oai(validator(max_length = 32))]
    pub receiver_phone: Option<String>,
    /// The street address.
    #[oai(validator(max_length = 1000))]
    pub address: Option<String>,
    /// The postal code.
    #[oai(validator(max_length = 16))]
    pub postcode: Option<String>,
    /// A label.
    #[oai(validator(max_length = 100))]
    pub tag: Option<String>,
}

#[derive(ApiResponse)]
enum AddressesChanged {
    /// The addresses after the change, default first.
    #[oai(status = 200)]
    Ok(
        Json<Vec<AddressView>>,
        /// Log position of the address book's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum AddressAdded {
    /// The addresses with the new one, default first.
    #[oai(status = 201)]
    Created(
        Json<Vec<AddressView>>,
        /// Log position of the address book's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Shipping addresses.
pub struct AddressesApi;

#[OpenApi(tag = "ApiTags::Addresses")]
impl AddressesApi {
    /// List my addresses
    ///
    /// Active addresses, the default first, then newest first.
    #[oai(
        path = "/v1/me/addresses",
        method = "get",
        operation_id = "listAddresses"
    )]
    async fn list_addresses(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Accepted for uniformity with other queries; this answer is always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Vec<AddressView>>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let loaded = service::addresses::address_book(&ctx, caller.0).await?;
        Ok(Json(list(&loaded.state)))
    }

    /// Add an address
    ///
    /// The first address becomes the default. At most 20 (`409 address_limit_reached`).
    #[oai(
        path = "/v1/me/addresses",
        method = "post",
        operation_id = "addAddress"
    )]
    async fn add_address(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<NewAddress>,
    ) -> Result<AddressAdded, Problems<SIGNED_IN_BODY>> {
        let fields = parse_new(&body.0).map_err(ApiError::validation)?;
        let committed = service::addresses::add_address(&ctx, caller.0, fields, &metadata).await?;
        Ok(AddressAdded::Created(
            Json(list(&committed.state)),
            committed.position,
        ))
    }

    /// Change an address
    #[oai(
        path = "/v1/me/addresses/:id",
        method = "patch",
        operation_id = "updateAddress"
    )]
    async fn update_address(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Address id.
        id: Path<Uuid>,
        body: Json<AddressPatch>,
    ) -> Result<AddressesChanged, Problems<{ SIGNED_IN_BODY | NOT_FOUND }>> {
        let changes = parse_patch(&body.0).map_err(ApiError::validation)?;
        let committed =
            service::addresses::change_address(&ctx, caller.0, id.0, changes, &metadata).await?;
        Ok(AddressesChanged::Ok(
            Json(list(&committed.state)),
            committed.position,
        ))
    }

    /// Remove an address
    ///
    /// If it was the default, the newest remaining address becomes the default.
    #[oai(
        path = "/v1/me/addresses/:id",
        method = "delete",
        operation_id = "deleteAddress"
    )]
    async fn delete_address(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Address id.
        id: Path<Uuid>,
    ) -> Result<AddressesChanged, Problems<{ SIGNED_IN | CONFLICT | NOT_FOUND | UNPROCESSABLE }>>
    {
        let committed = service::addresses::remove_address(&ctx, caller.0, id.0, &metadata).await?;
        Ok(AddressesChanged::Ok(
            Json(list(&committed.state)),
            committed.position,
        ))
    }

    /// Make an address the default
    #[oai(
        path = "/v1/me/addresses/:id/default",
        method = "post",
        operation_id = "setDefaultAddress"
    )]
    async fn set_default_address(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Address id.
        id: Path<Uuid>,
    ) -> Result<AddressesChanged, Problems<{ SIGNED_IN | CONFLICT | NOT_FOUND | UNPROCESSABLE }>>
    {
        let committed =
            service::addresses::make_default_address(&ctx, caller.0, id.0, &metadata).await?;
        Ok(AddressesChanged::Ok(
            Json(list(&committed.state)),
            committed.position,
        ))
    }
}

fn field<T>(
    name: &str,
    parsed: Result<T, InvalidValue>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    parsed
        .map_err(|invalid| errors.push(FieldError::new(name, invalid)))
        .ok()
}

fn parse_new(body: &NewAddress) -> Result<AddressFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let receiver = field("receiver", Receiver::parse(&body.receiver), &mut errors);
    let phone = field(
        "receiver_phone",
        Phone::parse(&body.receiver_phone),
        &mut errors,
    );
    let address = field("address", AddressLine::parse(&body.address), &mut errors);
    let postcode = match &phone {
        Some(phone) => field(
            "postcode",
            Postcode::parse(&body.postcode, phone),
            &mut errors,
        ),
        None => field("postcode", Postcode::parse_any(&body.postcode), &mut errors),
    };
    let tag = field("tag", AddressTag::parse(&body.tag), &mut errors);
    match (receiver, phone, address, postcode, tag) {
        (Some(receiver), Some(receiver_phone), Some(address), Some(postcode), Some(tag))
            if errors.is_empty() =>
        {
            Ok(AddressFields {
                receiver,
                receiver_phone,
                address,
                postcode,
                tag,
            })
        }
        _ => Err(errors),
    }
}

fn parse_patch(body: &AddressPatch) -> Result<AddressChanges, Vec<FieldError>> {
    let mut errors = Vec::new();
    let changes = AddressChanges {
        receiver: body
            .receiver
            .as_deref()
            .and_then(|v| field("receiver", Receiver::parse(v), &mut errors)),
        receiver_phone: body
            .receiver_phone
            .as_deref()
            .and_then(|v| field("receiver_phone", Phone::parse(v), &mut errors)),
        address: body
            .address
            .as_deref()
            .and_then(|v| field("address", AddressLine::parse(v), &mut errors)),
        postcode: body
            .postcode
            .as_deref()
            .and_then(|v| field("postcode", Postcode::parse_any(v), &mut errors)),
        tag: body
            .tag
            .as_deref()
            .and_then(|v| field("tag", AddressTag::parse(v), &mut errors)),
    };
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}
