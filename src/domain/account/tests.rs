//! Given these events, when this command, then these events (or this error).

use super::*;
use crate::domain::Aggregate;
use crate::domain::testing::{self, Given};
use crate::domain::values::{DisplayName, Email, Gender, Username};
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
        .single()
        .expect("valid time")
}

fn hash(label: &str) -> SealedPasswordHash {
    SealedPasswordHash(format!("sealed:{label}"))
}

fn session(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn given(events: &[AccountEvent]) -> Given<Account> {
    testing::given(events)
}

fn registered() -> AccountEvent {
    AccountEvent::AccountRegistered {
        email: Some(Email::parse("alice@example.com").expect("email")),
        username: None,
        phone: None,
        display_name: None,
        password: Some(hash("one")),
        role: Role::User,
        at: t0(),
    }
}

fn started(id: Uuid, at: DateTime<Utc>) -> AccountEvent {
    AccountEvent::SessionStarted {
        session_id: id,
        identifier: IdentifierKind::Email,
        method: SignInMethod::Password,
        second_factor: None,
        passkey_id: None,
        ip: None,
        user_agent: None,
        expires_at: at + Duration::days(14),
        at,
    }
}

#[test]
fn signing_up_registers_an_active_user() {
    let email = Email::parse("alice@example.com").expect("email");
    given(&[])
        .when(AccountCommand::Register {
            identifier: Identifier::Email(email),
            password: Some(hash("one")),
            email_verified: false,
            display_name: None,
            now: t0(),
        })
        .then(&[registered()]);
    let account = given(&[registered()]).0;
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.role, Role::User);
    assert_eq!(account.created_at, Some(t0()));
}

#[test]
fn signing_up_twice_on_one_stream_is_refused() {
    given(&[registered()])
        .when(AccountCommand::Register {
            identifier: Identifier::Username(Username::parse("alice").expect("name")),
            password: Some(hash("one")),
            email_verified: false,
            display_name: None,
            now: t0(),
        })
        .then_error(AccountError::AlreadyRegistered);
}

fn sign_in(verified: &str, id: Uuid, now: DateTime<Utc>) -> AccountCommand {
    AccountCommand::StartSession {
        session_id: id,
        proof: Proof::Password(hash(verified)),
        second_factor: None,
        identifier: IdentifierKind::Email,
        ip: None,
        user_agent: None,
        expires_at: now + Duration::days(14),
        now,
    }
}

#[test]
fn signing_in_with_the_current_password_starts_a_session() {
    given(&[registered()])
        .when(sign_in("one", session(1), t0()))
        .then(&[started(session(1), t0())]);
}

#[test]
fn signing_in_against_a_replaced_password_is_refused() {
    let changed = AccountEvent::PasswordChanged {
        password: hash("two"),
        at: t0(),
    };
    given(&[registered(), changed])
        .when(sign_in("one", session(1), t0()))
        .then_error(AccountError::InvalidCredentials);
}

#[test]
fn a_deleted_account_cannot_sign_in() {
    given(&[registered(), AccountEvent::AccountDeleted { at: t0() }])
        .when(sign_in("one", session(1), t0()))
        .then_error(AccountError::NotFound);
}

#[test]
fn ending_one_live_session_records_it() {
    given(&[registered(), started(session(1), t0())])
        .when(AccountCommand::EndSessions {
            which: SessionsToEnd::One(session(1)),
            reason: SessionEndReason::SignedOut,
            now: t0(),
        })
        .then(&[AccountEvent::SessionsEnded {
            session_ids: vec![session(1)],
            reason: SessionEndReason::SignedOut,
            at: t0(),
        }]);
}

#[test]
fn ending_a_session_that_is_not_live_is_refused() {
    let ended = AccountEvent::SessionsEnded {
        session_ids: vec![session(1)],
        reason: SessionEndReason::SignedOut,
        at: t0(),
    };
    let end = |id| AccountCommand::EndSessions {
        which: SessionsToEnd::One(id),
        reason: SessionEndReason::EndedByUser,
        now: t0(),
    };
    given(&[registered(), started(session(1), t0()), ended])
        .when(end(session(1)))
        .then_error(AccountError::SessionNotFound);
    given(&[registered()])
        .when(end(session(9)))
        .then_error(AccountError::SessionNotFound);
    let later = t0() + Duration::days(15);
    given(&[registered(), started(session(1), t0())])
        .when(AccountCommand::EndSessions {
            which: SessionsToEnd::One(session(1)),
            reason: SessionEndReason::EndedByUser,
            now: later,
        })
        .then_error(AccountError::SessionNotFound);
}

#[test]
fn ending_all_other_sessions_keeps_the_current_one() {
    given(&[
        registered(),
        started(session(1), t0()),
        started(session(2), t0()),
        started(session(3), t0()),
    ])
    .when(AccountCommand::EndSessions {
        which: SessionsToEnd::AllExcept(session(2)),
        reason: SessionEndReason::EndedByUser,
        now: t0(),
    })
    .then(&[AccountEvent::SessionsEnded {
        session_ids: vec![session(1), session(3)],
        reason: SessionEndReason::EndedByUser,
        at: t0(),
    }]);
}

#[test]
fn ending_all_other_sessions_when_there_are_none_records_nothing() {
    given(&[registered(), started(session(1), t0())])
        .when(AccountCommand::EndSessions {
            which: SessionsToEnd::AllExcept(session(1)),
            reason: SessionEndReason::EndedByUser,
            now: t0(),
        })
        .then(&[]);
}

#[test]
fn expired_sessions_are_forgotten_when_a_new_one_starts() {
    let later = t0() + Duration::days(20);
    let account = given(&[
        registered(),
        started(session(1), t0()),
        started(session(2), later),
    ])
    .0;
    assert_eq!(
        account.live_sessions.keys().copied().collect::<Vec<_>>(),
        vec![session(2)]
    );
}

#[test]
fn changing_the_password_ends_every_other_session() {
    given(&[
        registered(),
        started(session(1), t0()),
        started(session(2), t0()),
    ])
    .when(AccountCommand::ChangePassword {
        verified_password: hash("one"),
        new_password: hash("two"),
        keep_session: session(2),
        step_up: StepUp::Missing,
        now: t0(),
    })
    .then(&[
        AccountEvent::PasswordChanged {
            password: hash("two"),
            at: t0(),
        },
        AccountEvent::SessionsEnded {
            session_ids: vec![session(1)],
            reason: SessionEndReason::PasswordChanged,
            at: t0(),
        },
    ]);
}

#[test]
fn changing_the_password_needs_the_current_one() {
    given(&[registered()])
        .when(AccountCommand::ChangePassword {
            verified_password: hash("guess"),
            new_password: hash("two"),
            keep_session: session(1),
            step_up: StepUp::Missing,
            now: t0(),
        })
        .then_error(AccountError::InvalidCredentials);
}

#[test]
fn a_profile_change_records_only_what_differs() {
    let name = DisplayName::parse("Alice").expect("name");
    let first = AccountEvent::ProfileUpdated {
        changes: ProfileChanges {
            display_name: Some(Some(name.clone())),
            ..ProfileChanges::default()
        },
        at: t0(),
    };
    let requested = ProfileChanges {
        display_name: Some(Some(name)),
        gender: Some(Gender::Female),
        ..ProfileChanges::default()
    };
    given(&[registered(), first])
        .when(AccountCommand::UpdateProfile {
            changes: requested,
            username: None,
            now: t0(),
        })
        .then(&[AccountEvent::ProfileUpdated {
            changes: ProfileChanges {
                gender: Some(Gender::Female),
                ..ProfileChanges::default()
            },
            at: t0(),
        }]);
}

#[test]
fn a_profile_change_that_changes_nothing_records_nothing() {
    given(&[registered()])
        .when(AccountCommand::UpdateProfile {
            changes: ProfileChanges {
                bio: Some(None),
                gender: Some(Gender::Unknown),
                ..ProfileChanges::default()
            },
            username: None,
            now: t0(),
        })
        .then(&[]);
}

#[test]
fn choosing_a_username_records_the_previous_one() {
    let alice = Username::parse("alice").expect("name");
    let wonder = Username::parse("wonder").expect("name");
    let chosen = AccountEvent::UsernameChanged {
        username: alice.clone(),
        previous: None,
        at: t0(),
    };
    given(&[registered(), chosen])
        .when(AccountCommand::UpdateProfile {
            changes: ProfileChanges::default(),
            username: Some(wonder.clone()),
            now: t0(),
        })
        .then(&[AccountEvent::UsernameChanged {
            username: wonder,
            previous: Some(alice),
            at: t0(),
        }]);
}

#[test]
fn privacy_changes_only_when_it_differs() {
    let shown = Privacy {
        show_email: true,
        ..Privacy::default()
    };
    given(&[registered()])
        .when(AccountCommand::ChangePrivacy {
            privacy: shown,
            now: t0(),
        })
        .then(&[AccountEvent::PrivacyChanged {
            privacy: shown,
            at: t0(),
        }]);
    given(&[registered()])
        .when(AccountCommand::ChangePrivacy {
            privacy: Privacy::default(),
            now: t0(),
        })
        .then(&[]);
}

#[test]
fn deleting_needs_the_password_and_ends_everything() {
    given(&[registered()])
        .when(AccountCommand::Delete {
            proof: Proof::Password(hash("guess")),
            step_up: StepUp::Missing,
            now: t0(),
        })
        .then_error(AccountError::InvalidCredentials);
    given(&[registered(), started(session(1), t0())])
        .when(AccountCommand::Delete {
            proof: Proof::Password(hash("one")),
            step_up: StepUp::Missing,
            now: t0(),
        })
        .then(&[AccountEvent::AccountDeleted { at: t0() }]);
    let deleted = given(&[
        registered(),
        started(session(1), t0()),
        AccountEvent::AccountDeleted { at: t0() },
    ])
    .0;
    assert_eq!(deleted.status, AccountStatus::Deleted);
    assert!(deleted.live_sessions.is_empty());
}

#[test]
fn events_keep_their_type_name_and_fields_in_json() {
    let json = serde_json::to_value(registered()).expect("serialize");
    assert_eq!(json["event_type"], "AccountRegistered");
    assert_eq!(json["data"]["email"], "alice@example.com");
    let back: AccountEvent = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, registered());
    let cleared = serde_json::json!({
        "event_type": "ProfileUpdated",
        "data": {"changes": {"bio": null}, "at": t0()}
    });
    let AccountEvent::ProfileUpdated { changes, .. } =
        serde_json::from_value(cleared).expect("deserialize")
    else {
        panic!("wrong event");
    };
    assert_eq!(changes.bio, Some(None));
    assert_eq!(changes.city, None);
}

fn failure(reason: SignInFailure) -> AccountCommand {
    AccountCommand::RecordSignInFailure {
        identifier: IdentifierKind::Email,
        reason,
        ip: Some("203.0.113.9".into()),
        user_agent: Some("curl/8".into()),
        now: t0(),
    }
}

#[test]
fn a_failed_sign_in_is_recorded_and_changes_nothing_else() {
    let account = given(&[registered()]);
    account
        .when(failure(SignInFailure::WrongPassword))
        .then(&[AccountEvent::SignInFailed {
            identifier: IdentifierKind::Email,
            reason: SignInFailure::WrongPassword,
            ip: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            at: t0(),
        }]);
    let after = account.0.clone().evolve(&AccountEvent::SignInFailed {
        identifier: IdentifierKind::Email,
        reason: SignInFailure::WrongPassword,
        ip: None,
        user_agent: None,
        at: t0() + Duration::minutes(1),
    });
    assert_eq!(after, account.0);
}

#[test]
fn a_deleted_account_records_no_failed_sign_in() {
    given(&[registered(), AccountEvent::AccountDeleted { at: t0() }])
        .when(failure(SignInFailure::WrongPassword))
        .then_error(AccountError::NotFound);
}

fn verified() -> AccountEvent {
    AccountEvent::EmailVerified {
        email: Email::parse("alice@example.com").expect("email"),
        at: t0(),
    }
}

#[test]
fn a_code_signs_in_without_the_password() {
    let new_session = session(7);
    given(&[registered(), verified()])
        .when(AccountCommand::StartSession {
            session_id: new_session,
            proof: Proof::Code,
            second_factor: None,
            identifier: IdentifierKind::Email,
            ip: None,
            user_agent: None,
            expires_at: t0() + Duration::days(14),
            now: t0(),
        })
        .then(&[AccountEvent::SessionStarted {
            session_id: new_session,
            identifier: IdentifierKind::Email,
            method: SignInMethod::Code,
            second_factor: None,
            passkey_id: None,
            ip: None,
            user_agent: None,
            expires_at: t0() + Duration::days(14),
            at: t0(),
        }]);
}

#[test]
fn a_password_reset_ends_every_session() {
    let (one, two) = (session(1), session(2));
    given(&[registered(), started(one, t0()), started(two, t0())])
        .when(AccountCommand::ResetPassword {
            new_password: hash("two"),
            proven: IdentifierKind::Phone,
            now: t0() + Duration::hours(1),
        })
        .then(&[
            AccountEvent::PasswordChanged {
                password: hash("two"),
                at: t0() + Duration::hours(1),
            },
            AccountEvent::SessionsEnded {
                session_ids: vec![one, two],
                reason: SessionEndReason::PasswordReset,
                at: t0() + Duration::hours(1),
            },
        ]);
}

#[test]
fn an_email_is_verified_once_and_only_the_accounts_own() {
    let email = Email::parse("alice@example.com").unwrap();
    let other = Email::parse("bob@example.com").unwrap();
    let account = given(&[registered()]);
    account
        .when(AccountCommand::VerifyEmail {
            email: email.clone(),
            verified_password: Some(hash("one")),
            now: t0(),
        })
        .then(&[AccountEvent::EmailVerified {
            email: email.clone(),
            at: t0(),
        }]);
    account
        .when(AccountCommand::VerifyEmail {
            email: other,
            verified_password: None,
            now: t0(),
        })
        .then_error(AccountError::AddressMismatch);
    given(&[registered(), verified()])
        .when(AccountCommand::VerifyEmail {
            email,
            verified_password: None,
            now: t0(),
        })
        .then_error(AccountError::EmailAlreadyVerified);
}

#[test]
fn the_first_proof_of_an_address_without_the_password_removes_it_and_ends_every_session() {
    let email = Email::parse("alice@example.com").unwrap();
    let (one, two) = (session(1), session(2));
    let later = t0() + Duration::hours(1);
    let account = given(&[registered(), started(one, t0()), started(two, t0())]);
    account
        .when(AccountCommand::VerifyEmail {
            email: email.clone(),
            verified_password: None,
            now: later,
        })
        .then(&[
            AccountEvent::EmailVerified {
                email: email.clone(),
                at: later,
            },
            AccountEvent::UnverifiedPasswordRemoved { at: later },
            AccountEvent::SessionsEnded {
                session_ids: vec![one, two],
                reason: SessionEndReason::AddressProven,
                at: later,
            },
        ]);
    // The password the squatter chose no longer signs in.
    let after = [
        AccountEvent::EmailVerified {
            email: email.clone(),
            at: later,
        },
        AccountEvent::UnverifiedPasswordRemoved { at: later },
    ]
    .iter()
    .fold(account.0.clone(), |state, event| state.evolve(event));
    assert_eq!(after.password, None);
    assert!(after.email_verified);
    Given(after)
        .when(AccountCommand::StartSession {
            session_id: session(3),
            proof: Proof::Password(hash("one")),
            second_factor: None,
            identifier: IdentifierKind::Email,
            ip: None,
            user_agent: None,
            expires_at: later + Duration::days(14),
            now: later,
        })
        .then_error(AccountError::InvalidCredentials);
    // A wrong password shown with the proof changes nothing.
    account
        .when(AccountCommand::VerifyEmail {
            email,
            verified_password: Some(hash("guess")),
            now: later,
        })
        .then_error(AccountError::InvalidCredentials);
}

#[test]
fn signing_in_by_a_mailed_code_proves_an_unverified_address() {
    let (old, new) = (session(1), session(7));
    let later = t0() + Duration::hours(1);
    given(&[registered(), started(old, t0())])
        .when(AccountCommand::StartSession {
            session_id: new,
            proof: Proof::Code,
            second_factor: None,
            identifier: IdentifierKind::Email,
            ip: None,
            user_agent: None,
            expires_at: later + Duration::days(14),
            now: later,
        })
        .then(&[
            AccountEvent::EmailVerified {
                email: Email::parse("alice@example.com").unwrap(),
                at: later,
            },
            AccountEvent::UnverifiedPasswordRemoved { at: later },
            AccountEvent::SessionsEnded {
                session_ids: vec![old],
                reason: SessionEndReason::AddressProven,
                at: later,
            },
            AccountEvent::SessionStarted {
                session_id: new,
                identifier: IdentifierKind::Email,
                method: SignInMethod::Code,
                second_factor: None,
                passkey_id: None,
                ip: None,
                user_agent: None,
                expires_at: later + Duration::days(14),
                at: later,
            },
        ]);
}

#[test]
fn a_reset_by_mail_proves_the_address() {
    let later = t0() + Duration::hours(1);
    given(&[registered()])
        .when(AccountCommand::ResetPassword {
            new_password: hash("two"),
            proven: IdentifierKind::Email,
            now: later,
        })
        .then(&[
            AccountEvent::EmailVerified {
                email: Email::parse("alice@example.com").unwrap(),
                at: later,
            },
            AccountEvent::PasswordChanged {
                password: hash("two"),
                at: later,
            },
        ]);
}

#[test]
fn credential_and_identifier_changes_move_the_instant_codes_count_from() {
    let later = t0() + Duration::hours(1);
    let base = given(&[registered()]).0;
    assert_eq!(base.codes_valid_from, Some(t0()));
    for event in [
        AccountEvent::PasswordChanged {
            password: hash("two"),
            at: later,
        },
        AccountEvent::EmailChanged {
            email: Email::parse("alice@new.example").unwrap(),
            previous: None,
            at: later,
        },
        AccountEvent::PhoneChanged {
            phone: crate::domain::values::Phone::parse("+8613812345678").unwrap(),
            previous: None,
            at: later,
        },
        AccountEvent::AccountBlocked { at: later },
        AccountEvent::UnverifiedPasswordRemoved { at: later },
    ] {
        assert_eq!(
            base.clone().evolve(&event).codes_valid_from,
            Some(later),
            "{event:?}"
        );
    }
    let profile = AccountEvent::ProfileUpdated {
        changes: ProfileChanges::default(),
        at: later,
    };
    assert_eq!(base.evolve(&profile).codes_valid_from, Some(t0()));
}

#[test]
fn a_new_email_replaces_the_old_and_counts_as_verified() {
    let new = Email::parse("alice@new.example").unwrap();
    let account = given(&[registered()]);
    account
        .when(AccountCommand::ChangeEmail {
            email: new.clone(),
            step_up: StepUp::Missing,
            now: t0(),
        })
        .then(&[AccountEvent::EmailChanged {
            email: new.clone(),
            previous: Some(Email::parse("alice@example.com").unwrap()),
            at: t0(),
        }]);
    let moved = account.0.clone().evolve(&AccountEvent::EmailChanged {
        email: new.clone(),
        previous: None,
        at: t0(),
    });
    assert_eq!(moved.email, Some(new));
    assert!(moved.email_verified);
}

#[test]
fn a_phone_signs_up_without_a_password_and_counts_as_verified() {
    let phone = crate::domain::values::Phone::parse("+8613812345678").unwrap();
    let account = given(&[]);
    let events = account
        .when(AccountCommand::Register {
            identifier: Identifier::Phone(phone.clone()),
            password: None,
            email_verified: false,
            display_name: None,
            now: t0(),
        })
        .outcome
        .unwrap();
    assert_eq!(
        events,
        [AccountEvent::AccountRegistered {
            email: None,
            username: None,
            phone: Some(phone.clone()),
            display_name: None,
            password: None,
            role: Role::User,
            at: t0(),
        }]
    );
    let registered = given(&events);
    assert!(registered.0.phone_verified);
    // No password: only a code signs in.
    registered
        .when(sign_in("one", session(1), t0()))
        .then_error(AccountError::InvalidCredentials);
}

#[test]
fn an_email_proven_by_a_code_at_sign_up_is_verified_from_the_start() {
    let email = Email::parse("alice@example.com").unwrap();
    let events = given(&[])
        .when(AccountCommand::Register {
            identifier: Identifier::Email(email.clone()),
            password: Some(hash("one")),
            email_verified: true,
            display_name: None,
            now: t0(),
        })
        .outcome
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], AccountEvent::EmailVerified { email, at: t0() });
}

#[test]
fn a_phone_changes_at_most_twice_in_thirty_days() {
    let phone = |n: u32| crate::domain::values::Phone::parse(&format!("+861381234{n:04}")).unwrap();
    let changed = |n: u32, at| AccountEvent::PhoneChanged {
        phone: phone(n),
        previous: None,
        at,
    };
    let day = Duration::days(1);
    let account = given(&[
        registered(),
        verified(),
        changed(1, t0()),
        changed(2, t0() + day),
    ]);
    account
        .when(AccountCommand::ChangePhone {
            phone: phone(3),
            step_up: StepUp::Missing,
            now: t0() + day * 2,
        })
        .then_error(AccountError::TooManyPhoneChanges(28 * 24 * 3600));
    let later = t0() + day * 30;
    account
        .when(AccountCommand::ChangePhone {
            phone: phone(3),
            step_up: StepUp::Missing,
            now: later,
        })
        .then(&[AccountEvent::PhoneChanged {
            phone: phone(3),
            previous: Some(phone(2)),
            at: later,
        }]);
    // The same number again changes nothing.
    account
        .when(AccountCommand::ChangePhone {
            phone: phone(2),
            step_up: StepUp::Missing,
            now: t0() + day * 2,
        })
        .then(&[]);
}

#[test]
fn blocking_ends_every_session_and_unblocking_restores_sign_in() {
    let (one, two) = (session(1), session(2));
    let account = given(&[registered(), started(one, t0()), started(two, t0())]);
    let now = t0() + Duration::hours(1);
    account.when(AccountCommand::Block { now }).then(&[
        AccountEvent::AccountBlocked { at: now },
        AccountEvent::SessionsEnded {
            session_ids: vec![one, two],
            reason: SessionEndReason::Blocked,
            at: now,
        },
    ]);
    let blocked = given(&[registered(), AccountEvent::AccountBlocked { at: now }]);
    blocked
        .when(sign_in("one", session(3), now))
        .then_error(AccountError::Blocked);
    blocked.when(AccountCommand::Block { now }).then(&[]);
    blocked
        .when(AccountCommand::Unblock { now })
        .then(&[AccountEvent::AccountUnblocked { at: now }]);
}

#[test]
fn roles_and_featuring_change_only_when_different() {
    let account = given(&[registered()]);
    account
        .when(AccountCommand::ChangeRole {
            role: Role::Admin,
            now: t0(),
        })
        .then(&[AccountEvent::RoleChanged {
            role: Role::Admin,
            previous: Role::User,
            at: t0(),
        }]);
    account
        .when(AccountCommand::ChangeRole {
            role: Role::User,
            now: t0(),
        })
        .then(&[]);
    account
        .when(AccountCommand::SetFeatured {
            featured: true,
            now: t0(),
        })
        .then(&[AccountEvent::FeaturedChanged {
            featured: true,
            at: t0(),
        }]);
    account
        .when(AccountCommand::SetFeatured {
            featured: false,
            now: t0(),
        })
        .then(&[]);
}

#[test]
fn an_account_with_an_unproven_email_adds_no_phone() {
    let phone = crate::domain::values::Phone::parse("+61412010001").unwrap();
    let change = || AccountCommand::ChangePhone {
        phone: phone.clone(),
        step_up: StepUp::Missing,
        now: t0(),
    };
    given(&[registered()])
        .when(change())
        .then_error(AccountError::EmailNotVerified);
    given(&[registered(), verified()])
        .when(change())
        .then(&[AccountEvent::PhoneChanged {
            phone: phone.clone(),
            previous: None,
            at: t0(),
        }]);
}

#[test]
fn owners_act_on_anyone_admins_on_users_and_themselves() {
    assert!(Role::Owner.may_act_on(Role::Owner, false));
    assert!(Role::Owner.may_act_on(Role::Admin, false));
    assert!(Role::Admin.may_act_on(Role::User, false));
    assert!(Role::Admin.may_act_on(Role::Admin, true));
    assert!(!Role::Admin.may_act_on(Role::Admin, false));
    assert!(!Role::Admin.may_act_on(Role::Owner, false));
    assert!(!Role::User.may_act_on(Role::User, true));
    assert!(Role::Owner.at_least(Role::Admin) && Role::Admin.at_least(Role::Admin));
    assert!(!Role::User.at_least(Role::Admin));
    for role in [Role::User, Role::Admin, Role::Owner] {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("root"), None);
}

fn deleted() -> AccountEvent {
    AccountEvent::AccountDeleted { at: t0() }
}

fn restore() -> AccountCommand {
    AccountCommand::Restore {
        administrator: Uuid::from_u128(99),
        now: t0(),
    }
}

#[test]
fn a_deleted_account_is_restored_active_and_nothing_else_is() {
    let restored =
        given(&[registered(), deleted()])
            .when(restore())
            .then(&[AccountEvent::AccountRestored {
                administrator: Uuid::from_u128(99),
                at: t0(),
            }]);
    assert_eq!(restored.status, AccountStatus::Active);
    assert_eq!(
        restored.email,
        Some(Email::parse("alice@example.com").expect("email"))
    );
    given(&[registered()])
        .when(restore())
        .then_error(AccountError::NotDeleted);
    given(&[])
        .when(restore())
        .then_error(AccountError::NotFound);
}

#[test]
fn erasing_a_deleted_account_leaves_its_facts_only_and_no_way_back() {
    let erase = || AccountCommand::ErasePersonalData { now: t0() };
    let erased = given(&[registered(), deleted()]).when(erase()).then(&[
        AccountEvent::PersonalDataErased { at: t0() },
        AccountEvent::AccountErased { at: t0() },
    ]);
    assert_eq!(erased.status, AccountStatus::Erased);
    assert_eq!(erased.email, None);
    assert_eq!(erased.password, None);
    assert_eq!(erased.created_at, Some(t0()));
    assert_eq!(erased.role, Role::User);
    let history = [
        registered(),
        deleted(),
        AccountEvent::PersonalDataErased { at: t0() },
        AccountEvent::AccountErased { at: t0() },
    ];
    given(&history).when(erase()).then(&[]);
    given(&history)
        .when(restore())
        .then_error(AccountError::Erased);
    // Nothing to erase in a live or a restored account.
    given(&[registered()]).when(erase()).then(&[]);
    given(&[
        registered(),
        deleted(),
        AccountEvent::AccountRestored {
            administrator: Uuid::from_u128(99),
            at: t0(),
        },
    ])
    .when(erase())
    .then(&[]);
    // An erased account is refused everything else, as a deleted one.
    given(&history)
        .when(AccountCommand::ChangePrivacy {
            privacy: Privacy::default(),
            now: t0(),
        })
        .then_error(AccountError::NotFound);
}
