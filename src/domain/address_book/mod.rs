//! An account's shipping addresses: one `address_book` stream per account. At most 20 active
//! addresses; exactly one default whenever any exist (the first added; when the default is
//! removed, the newest remaining one); removed addresses stay removed.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::values::{AddressLine, AddressTag, Phone, Postcode, Receiver};
use super::{Aggregate, DomainEvent};

/// Most active addresses in a book.
pub const MAX_ADDRESSES: usize = 20;

/// The address book stream of an account: a name-based UUID, distinct from the account's own.
pub fn stream_id(account_id: Uuid) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x6163_636f_756e_7473_2d61_6464_7265_7373);
    Uuid::new_v5(&NAMESPACE, account_id.as_bytes())
}

/// The fields of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddressFields {
    /// Who receives parcels.
    pub receiver: Receiver,
    /// The receiver's phone.
    pub receiver_phone: Phone,
    /// The street address.
    pub address: AddressLine,
    /// The postal code.
    pub postcode: Postcode,
    /// A label.
    pub tag: AddressTag,
}

/// Fields to change: absent = unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddressChanges {
    /// New receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<Receiver>,
    /// New receiver phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_phone: Option<Phone>,
    /// New address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressLine>,
    /// New postcode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<Postcode>,
    /// New tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<AddressTag>,
}

impl AddressChanges {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What happens to an address book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event_type", content = "data")]
pub enum AddressEvent {
    /// An address was added.
    AddressAdded {
        /// Its id.
        address_id: Uuid,
        /// Its fields.
        #[serde(flatten)]
        fields: AddressFields,
        /// When.
        at: DateTime<Utc>,
    },
    /// Fields of an address changed.
    AddressChanged {
        /// Which.
        address_id: Uuid,
        /// The fields that changed, with their new values.
        changes: AddressChanges,
        /// When.
        at: DateTime<Utc>,
    },
    /// An address was removed (it stays in the history).
    AddressRemoved {
        /// Which.
        address_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
    /// An address became the default one.
    DefaultAddressSet {
        /// Which.
        address_id: Uuid,
        /// When.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AddressEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::AddressAdded { .. } => "AddressAdded",
            Self::AddressChanged { .. } => "AddressChanged",
            Self::AddressRemoved { .. } => "AddressRemoved",
            Self::DefaultAddressSet { .. } => "DefaultAddressSet",
        }
    }
}

/// An address in the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Its id.
    pub id: Uuid,
    /// Its fields.
    pub fields: AddressFields,
    /// Added.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Removed addresses stay for the history but are never shown or changed.
    pub removed: bool,
}

/// An account's addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressBook {
    /// Every address ever added, in the order added.
    pub addresses: Vec<Address>,
    /// The default one.
    pub default: Option<Uuid>,
}

impl AddressBook {
    /// Active addresses, the default first, then newest first.
    pub fn active(&self) -> Vec<&Address> {
        let mut active: Vec<&Address> = self.addresses.iter().filter(|a| !a.removed).collect();
        active.sort_by_key(|a| (Some(a.id) != self.default, std::cmp::Reverse(a.created_at)));
        active
    }

    fn find_active(&self, id: Uuid) -> Option<&Address> {
        self.addresses.iter().find(|a| a.id == id && !a.removed)
    }
}

impl Aggregate for AddressBook {
    const STREAM_TYPE: &'static str = "address_book";
    const STATE_SOURCES: &'static [&'static str] = &[include_str!("mod.rs")];
    type Event = AddressEvent;
    type Command = AddressCommand;
    type Error = AddressError;

    fn decide(&self, command: AddressCommand) -> Result<Vec<Self::Event>, AddressError> {
        decide(self, command)
    }

    fn evolve(mut self, event: &AddressEvent) -> Self {
        match event {
            AddressEvent::AddressAdded {
                address_id,
                fields,
                at,
            } => self.addresses.push(Address {
                id: *address_id,
                fields: fields.clone(),
                created_at: *at,
                updated_at: *at,
                removed: false,
            }),
            AddressEvent::AddressChanged {
                address_id,
                changes,
                at,
            } => {
                if let Some(address) = self.addresses.iter_mut().find(|a| a.id == *address_id) {
                    let fields = &mut address.fields;
                    let changes = changes.clone();
                    if let Some(value) = changes.receiver {
                        fields.receiver = value;
                    }
                    if let Some(value) = changes.receiver_phone {
                        fields.receiver_phone = value;
                    }
                    if let Some(value) = changes.address {
                        fields.address = value;
                    }
                    if let Some(value) = changes.postcode {
                        fields.postcode = value;
                    }
                    if let Some(value) = changes.tag {
                        fields.tag = value;
                    }
                    address.updated_at = *at;
                }
            }
            AddressEvent::AddressRemoved { address_id, at } => {
                if let Some(address) = self.addresses.iter_mut().find(|a| a.id == *address_id) {
                    address.removed = true;
                    address.updated_at = *at;
                }
                if self.default == Some(*address_id) {
                    self.default = None;
                }
            }
            AddressEvent::DefaultAddressSet { address_id, .. } => {
                self.default = Some(*address_id);
            }
        }
        self
    }
}

/// A request to change an address book.
#[derive(Debug, Clone)]
pub enum AddressCommand {
    /// Add an address.
    Add {
        /// Its new id.
        address_id: Uuid,
        /// Its fields.
        fields: AddressFields,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Change fields of an address.
    Change {
        /// Which.
        address_id: Uuid,
        /// What.
        changes: AddressChanges,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Remove an address.
    Remove {
        /// Which.
        address_id: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Make an address the default.
    MakeDefault {
        /// Which.
        address_id: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
}

/// Why an address command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// No active address with this id.
    #[error("no such address")]
    NotFound,
    /// The book is full.
    #[error("at most {MAX_ADDRESSES} addresses")]
    Full,
    /// The new postcode does not suit the receiver's country.
    #[error("the postcode does not suit the receiver's phone")]
    PostcodeMismatch,
}

/// Decides an address command.
pub fn decide(
    book: &AddressBook,
    command: AddressCommand,
) -> Result<Vec<AddressEvent>, AddressError> {
    match command {
        AddressCommand::Add {
            address_id,
            fields,
            now,
        } => {
            if book.active().len() >= MAX_ADDRESSES {
                return Err(AddressError::Full);
            }
            let mut events = vec![AddressEvent::AddressAdded {
                address_id,
                fields,
                at: now,
            }];
            if book.default.is_none() {
                events.push(AddressEvent::DefaultAddressSet {
                    address_id,
                    at: now,
                });
            }
            Ok(events)
        }
        AddressCommand::Change {
            address_id,
            changes,
            now,
        } => {
            let address = book.find_active(address_id).ok_or(AddressError::NotFound)?;
            // A postcode is checked against the receiver's country: re-check when either moves.
            if changes.receiver_phone.is_some() || changes.postcode.is_some() {
                let phone = changes
                    .receiver_phone
                    .as_ref()
                    .unwrap_or(&address.fields.receiver_phone);
                let postcode = changes
                    .postcode
                    .as_ref()
                    .unwrap_or(&address.fields.postcode);
                if Postcode::parse(postcode.as_str(), phone).is_err() {
                    return Err(AddressError::PostcodeMismatch);
                }
            }
            if changes.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![AddressEvent::AddressChanged {
                address_id,
                changes,
                at: now,
            }])
        }
        AddressCommand::Remove { address_id, now } => {
            book.find_active(address_id).ok_or(AddressError::NotFound)?;
            let mut events = vec![AddressEvent::AddressRemoved {
                address_id,
                at: now,
            }];
            if book.default == Some(address_id) {
                let newest = book
                    .addresses
                    .iter()
                    .filter(|a| !a.removed && a.id != address_id)
                    .max_by_key(|a| a.created_at);
                if let Some(newest) = newest {
                    events.push(AddressEvent::DefaultAddressSet {
                        address_id: newest.id,
                        at: now,
                    });
                }
            }
            Ok(events)
        }
        AddressCommand::MakeDefault { address_id, now } => {
            book.find_active(address_id).ok_or(AddressError::NotFound)?;
            if book.default == Some(address_id) {
                return Ok(Vec::new());
            }
            Ok(vec![AddressEvent::DefaultAddressSet {
                address_id,
                at: now,
            }])
        }
    }
}
