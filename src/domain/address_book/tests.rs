use super::*;
use crate::domain::testing::{self, Given};
use chrono::{Duration, TimeZone};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn fields(tag: &str) -> AddressFields {
    let phone = Phone::parse("18667018590").unwrap();
    AddressFields {
        receiver: Receiver::parse("张三").unwrap(),
        postcode: Postcode::parse("310000", &phone).unwrap(),
        receiver_phone: phone,
        address: AddressLine::parse("浙江省杭州市西湖区文三路 1 号").unwrap(),
        tag: AddressTag::parse(tag).unwrap(),
    }
}

fn add(n: u128, minutes: i64) -> AddressCommand {
    AddressCommand::Add {
        address_id: id(n),
        fields: fields("家"),
        now: t0() + Duration::minutes(minutes),
    }
}

/// The book after `commands`; panics on a refusal.
fn book(commands: Vec<AddressCommand>) -> AddressBook {
    testing::given_commands(commands).0
}

#[test]
fn the_first_address_becomes_the_default() {
    let events = decide(&AddressBook::default(), add(1, 0)).unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        matches!(events[1], AddressEvent::DefaultAddressSet { address_id, .. } if address_id == id(1))
    );
    let second = decide(&book(vec![add(1, 0)]), add(2, 1)).unwrap();
    assert_eq!(second.len(), 1, "only the first becomes default");
}

#[test]
fn removing_the_default_makes_the_newest_remaining_one_default() {
    let full = book(vec![add(1, 0), add(2, 1), add(3, 2)]);
    let events = decide(
        &full,
        AddressCommand::Remove {
            address_id: id(1),
            now: t0() + Duration::minutes(5),
        },
    )
    .unwrap();
    assert_eq!(
        events[1],
        AddressEvent::DefaultAddressSet {
            address_id: id(3),
            at: t0() + Duration::minutes(5)
        }
    );
    let after = events.iter().fold(full, |book, event| book.evolve(event));
    let order: Vec<Uuid> = after.active().iter().map(|a| a.id).collect();
    assert_eq!(order, [id(3), id(2)], "default first, then newest first");
}

#[test]
fn removing_the_last_address_leaves_no_default() {
    let one = book(vec![add(1, 0)]);
    let events = decide(
        &one,
        AddressCommand::Remove {
            address_id: id(1),
            now: t0(),
        },
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    let empty = events.iter().fold(one, |book, event| book.evolve(event));
    assert!(empty.default.is_none() && empty.active().is_empty());
}

#[test]
fn a_removed_address_cannot_be_changed_or_made_default() {
    let removed = book(vec![
        add(1, 0),
        add(2, 1),
        AddressCommand::Remove {
            address_id: id(2),
            now: t0(),
        },
    ]);
    let change = AddressCommand::Change {
        address_id: id(2),
        changes: AddressChanges {
            tag: Some(AddressTag::parse("公司").unwrap()),
            ..AddressChanges::default()
        },
        now: t0(),
    };
    Given(removed.clone())
        .when(change)
        .then_error(AddressError::NotFound);
    let default = AddressCommand::MakeDefault {
        address_id: id(2),
        now: t0(),
    };
    Given(removed.clone())
        .when(default)
        .then_error(AddressError::NotFound);
}

#[test]
fn at_most_twenty_active_addresses() {
    let full = book((0..20).map(|n| add(n, n as i64)).collect());
    Given(full.clone())
        .when(add(99, 30))
        .then_error(AddressError::Full);
    let one_removed = book(
        (0..20)
            .map(|n| add(n, n as i64))
            .chain(std::iter::once(AddressCommand::Remove {
                address_id: id(5),
                now: t0(),
            }))
            .collect(),
    );
    assert!(decide(&one_removed, add(99, 30)).is_ok());
}

#[test]
fn a_new_phone_must_suit_the_postcode() {
    let one = book(vec![add(1, 0)]);
    let foreign = AddressCommand::Change {
        address_id: id(1),
        changes: AddressChanges {
            receiver_phone: Some(Phone::parse("+14155550100").unwrap()),
            ..AddressChanges::default()
        },
        now: t0(),
    };
    // 310000 is also a valid US-style postcode (3 to 10 digits), so this is accepted.
    assert!(decide(&one, foreign).is_ok());
    let short = AddressCommand::Change {
        address_id: id(1),
        changes: AddressChanges {
            postcode: Some(
                Postcode::parse("1234", &Phone::parse("+14155550100").unwrap()).unwrap(),
            ),
            ..AddressChanges::default()
        },
        now: t0(),
    };
    Given(one.clone())
        .when(short)
        .then_error(AddressError::PostcodeMismatch);
}

#[test]
fn making_the_default_default_again_changes_nothing() {
    let two = book(vec![add(1, 0), add(2, 1)]);
    let again = AddressCommand::MakeDefault {
        address_id: id(1),
        now: t0(),
    };
    Given(two.clone()).when(again).then(&[]);
    let other = AddressCommand::MakeDefault {
        address_id: id(2),
        now: t0(),
    };
    assert_eq!(decide(&two, other).unwrap().len(), 1);
}

#[test]
fn an_address_book_has_a_stream_of_its_own() {
    let account = Uuid::now_v7();
    assert_ne!(stream_id(account), account);
    assert_eq!(stream_id(account), stream_id(account));
}
