//! Second factors: given these events, when this command, then these events (or this error).

use super::*;
use crate::domain::testing::{self, Given};
use crate::domain::values::Email;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .expect("valid time")
}

fn password() -> SealedPasswordHash {
    SealedPasswordHash("sealed:one".to_owned())
}

fn secret(label: &str) -> SealedTotpSecret {
    SealedTotpSecret(format!("sealed:{label}"))
}

fn code(n: usize) -> RecoveryCodeHash {
    RecoveryCodeHash(format!("hash:{n}"))
}

fn codes(from: usize) -> Vec<RecoveryCodeHash> {
    (from..from + RECOVERY_CODES_PER_SET).map(code).collect()
}

fn registered(email_verified: bool) -> Vec<AccountEvent> {
    let email = Email::parse("alice@example.com").expect("email");
    let mut events = vec![AccountEvent::AccountRegistered {
        email: Some(email.clone()),
        username: None,
        phone: None,
        display_name: None,
        password: Some(password()),
        role: Role::User,
        at: t0(),
    }];
    if email_verified {
        events.push(AccountEvent::EmailVerified { email, at: t0() });
    }
    events
}

/// An account with TOTP confirmed at time step 100 and the recovery codes 0..10.
fn with_totp() -> Vec<AccountEvent> {
    let mut events = registered(true);
    events.extend([
        AccountEvent::TotpEnrolmentStarted {
            secret: secret("a"),
            at: t0(),
        },
        AccountEvent::TotpEnabled {
            time_step: 100,
            at: t0(),
        },
        AccountEvent::RecoveryCodesGenerated {
            codes: codes(0),
            at: t0(),
        },
    ]);
    events
}

fn given(events: &[AccountEvent]) -> Given<Account> {
    testing::given(events)
}

fn sign_in(second_factor: Option<SecondFactor>) -> AccountCommand {
    AccountCommand::StartSession {
        session_id: Uuid::from_u128(7),
        proof: Proof::Password(password()),
        second_factor,
        identifier: IdentifierKind::Email,
        ip: None,
        user_agent: None,
        expires_at: t0() + Duration::days(14),
        now: t0(),
    }
}

fn started(second_factor: Option<SecondFactorMethod>) -> AccountEvent {
    session_started(7, second_factor, None)
}

/// `SessionStarted` of the session `id`, a password sign-in with `second_factor`, which was
/// the passkey `passkey` when one.
fn session_started(
    id: u128,
    second_factor: Option<SecondFactorMethod>,
    passkey: Option<u128>,
) -> AccountEvent {
    AccountEvent::SessionStarted {
        session_id: Uuid::from_u128(id),
        identifier: IdentifierKind::Email,
        method: SignInMethod::Password,
        second_factor,
        passkey_id: passkey.map(passkey_id),
        ip: None,
        user_agent: None,
        expires_at: t0() + Duration::days(14),
        at: t0(),
    }
}

/// `SessionStarted` for a password sign-in whose second factor was the passkey `n`.
fn started_by_passkey(n: u128) -> AccountEvent {
    session_started(7, Some(SecondFactorMethod::Passkey), Some(n))
}

/// `StepUpProven` of session 7 by `method` (the passkey `passkey`, when one).
fn proven(method: SecondFactorMethod, passkey: Option<u128>) -> AccountEvent {
    AccountEvent::StepUpProven {
        session_id: Uuid::from_u128(7),
        method,
        passkey_id: passkey.map(passkey_id),
        at: t0(),
    }
}

fn totp(time_step: u64) -> SecondFactor {
    SecondFactor::Totp { time_step }
}

#[test]
fn enrolling_needs_the_password_and_a_proven_address_and_activates_nothing() {
    let enrol = |verified_password| AccountCommand::StartTotpEnrolment {
        secret: secret("a"),
        verified_password,
        step_up: StepUp::Missing,
        now: t0(),
    };
    given(&registered(false))
        .when(enrol(Some(password())))
        .then_error(AccountError::EmailNotVerified);
    let verified = given(&registered(true));
    verified
        .when(enrol(None))
        .then_error(AccountError::InvalidCredentials);
    verified
        .when(enrol(Some(SealedPasswordHash("sealed:other".to_owned()))))
        .then_error(AccountError::InvalidCredentials);
    let pending =
        verified
            .when(enrol(Some(password())))
            .then(&[AccountEvent::TotpEnrolmentStarted {
                secret: secret("a"),
                at: t0(),
            }]);
    assert!(!pending.factors.enabled(), "not active until confirmed");
    Given(pending).when(sign_in(None)).then(&[started(None)]);
}

#[test]
fn confirming_enables_totp_with_ten_recovery_codes_and_sign_in_then_needs_it() {
    let mut history = registered(true);
    history.push(AccountEvent::TotpEnrolmentStarted {
        secret: secret("a"),
        at: t0(),
    });
    let enabled = given(&history)
        .when(AccountCommand::ConfirmTotp {
            secret: secret("a"),
            time_step: 100,
            recovery_codes: codes(0),
            session_id: Uuid::from_u128(7),
            now: t0(),
        })
        .then(&[
            AccountEvent::TotpEnabled {
                time_step: 100,
                at: t0(),
            },
            AccountEvent::RecoveryCodesGenerated {
                codes: codes(0),
                at: t0(),
            },
            proven(SecondFactorMethod::Totp, None),
        ]);
    assert_eq!(enabled.factors.totp, Some(secret("a")));
    assert_eq!(enabled.factors.recovery_codes_left(), 10);
    assert_eq!(
        enabled.factors.methods(),
        vec![SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode]
    );
    Given(enabled)
        .when(sign_in(None))
        .then_error(AccountError::SecondFactorRequired);
}

#[test]
fn confirming_needs_a_pending_enrolment_and_enrolling_again_needs_removal_first() {
    let confirm = |label| AccountCommand::ConfirmTotp {
        secret: secret(label),
        time_step: 1,
        recovery_codes: codes(0),
        session_id: Uuid::from_u128(7),
        now: t0(),
    };
    given(&registered(true))
        .when(confirm("a"))
        .then_error(AccountError::TotpNotPending);
    // A code checked against a secret that another enrolment replaced confirms nothing.
    let mut replaced = registered(true);
    for label in ["a", "b"] {
        replaced.push(AccountEvent::TotpEnrolmentStarted {
            secret: secret(label),
            at: t0(),
        });
    }
    given(&replaced)
        .when(confirm("a"))
        .then_error(AccountError::TotpNotPending);
    assert_eq!(given(&replaced).when(confirm("b")).events().len(), 3);
    given(&with_totp())
        .when(AccountCommand::StartTotpEnrolment {
            secret: secret("b"),
            verified_password: Some(password()),
            step_up: StepUp::Recent,
            now: t0(),
        })
        .then_error(AccountError::TotpAlreadyEnabled);
}

#[test]
fn a_totp_time_step_signs_in_once_and_never_an_older_one() {
    let account = given(&with_totp());
    // The confirming code's step is spent already.
    account
        .when(sign_in(Some(totp(100))))
        .then_error(AccountError::SecondFactorInvalid);
    let after = account.when(sign_in(Some(totp(101)))).then(&[
        AccountEvent::TotpCodeUsed {
            time_step: 101,
            at: t0(),
        },
        started(Some(SecondFactorMethod::Totp)),
    ]);
    let after = Given(after);
    after
        .when(sign_in(Some(totp(101))))
        .then_error(AccountError::SecondFactorInvalid);
    after
        .when(sign_in(Some(totp(99))))
        .then_error(AccountError::SecondFactorInvalid);
    assert_eq!(after.when(sign_in(Some(totp(102)))).events().len(), 2);
}

#[test]
fn a_recovery_code_signs_in_once() {
    let account = given(&with_totp());
    let after = account
        .when(sign_in(Some(SecondFactor::RecoveryCode(code(3)))))
        .then(&[
            AccountEvent::RecoveryCodeUsed { index: 3, at: t0() },
            started(Some(SecondFactorMethod::RecoveryCode)),
        ]);
    assert_eq!(after.factors.recovery_codes_left(), 9);
    Given(after)
        .when(sign_in(Some(SecondFactor::RecoveryCode(code(3)))))
        .then_error(AccountError::SecondFactorInvalid);
    account
        .when(sign_in(Some(SecondFactor::RecoveryCode(code(99)))))
        .then_error(AccountError::SecondFactorInvalid);
}

#[test]
fn a_second_factor_proves_nothing_on_an_account_without_one() {
    given(&registered(true))
        .when(sign_in(Some(totp(5))))
        .then_error(AccountError::SecondFactorInvalid);
}

#[test]
fn a_challenge_is_recorded_only_for_a_proven_first_factor_of_an_account_with_a_second() {
    let challenge = |proof| AccountCommand::ChallengeSecondFactor {
        challenge_id: Uuid::from_u128(9),
        proof,
        identifier: IdentifierKind::Email,
        ip: None,
        user_agent: None,
        expires_at: t0() + Duration::minutes(5),
        now: t0(),
    };
    given(&registered(true))
        .when(challenge(Proof::Password(password())))
        .then_error(AccountError::SecondFactorNotEnabled);
    let account = given(&with_totp());
    account
        .when(challenge(Proof::Password(SealedPasswordHash(
            "sealed:other".to_owned(),
        ))))
        .then_error(AccountError::InvalidCredentials);
    account
        .when(challenge(Proof::Code))
        .then(&[AccountEvent::SecondFactorChallenged {
            challenge_id: Uuid::from_u128(9),
            identifier: IdentifierKind::Email,
            method: SignInMethod::Code,
            ip: None,
            user_agent: None,
            expires_at: t0() + Duration::minutes(5),
            at: t0(),
        }]);
    let mut blocked = with_totp();
    blocked.push(AccountEvent::AccountBlocked { at: t0() });
    given(&blocked)
        .when(challenge(Proof::Password(password())))
        .then_error(AccountError::Blocked);
}

#[test]
fn a_challenge_answered_after_a_password_change_proves_nothing() {
    let answer = |issued_at| AccountCommand::StartSession {
        session_id: Uuid::from_u128(7),
        proof: Proof::Challenged {
            method: SignInMethod::Password,
            at: issued_at,
        },
        second_factor: Some(totp(101)),
        identifier: IdentifierKind::Email,
        ip: None,
        user_agent: None,
        expires_at: t0() + Duration::days(14),
        now: t0() + Duration::minutes(2),
    };
    let mut history = with_totp();
    history.push(AccountEvent::PasswordChanged {
        password: SealedPasswordHash("sealed:two".to_owned()),
        at: t0() + Duration::minutes(1),
    });
    let account = given(&history);
    account
        .when(answer(t0()))
        .then_error(AccountError::InvalidCredentials);
    assert_eq!(
        account
            .when(answer(t0() + Duration::minutes(1)))
            .events()
            .len(),
        2
    );
}

#[test]
fn removing_totp_is_a_step_up_action_and_takes_the_recovery_codes_with_it() {
    let account = given(&with_totp());
    let remove = |step_up| AccountCommand::RemoveTotp { step_up, now: t0() };
    account
        .when(remove(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    account
        .when(remove(StepUp::Factor(totp(100))))
        .then_error(AccountError::SecondFactorInvalid);
    account.when(remove(StepUp::Factor(totp(101)))).then(&[
        AccountEvent::TotpCodeUsed {
            time_step: 101,
            at: t0(),
        },
        AccountEvent::TotpRemoved { at: t0() },
        AccountEvent::RecoveryCodesRevoked { at: t0() },
    ]);
    let removed = account.when(remove(StepUp::Recent)).then(&[
        AccountEvent::TotpRemoved { at: t0() },
        AccountEvent::RecoveryCodesRevoked { at: t0() },
    ]);
    assert_eq!(removed.factors, SecondFactors::default());
    let removed = Given(removed);
    removed.when(sign_in(None)).then(&[started(None)]);
    removed
        .when(remove(StepUp::Recent))
        .then_error(AccountError::SecondFactorNotEnabled);
    removed
        .when(sign_in(Some(SecondFactor::RecoveryCode(code(1)))))
        .then_error(AccountError::SecondFactorInvalid);
}

#[test]
fn new_recovery_codes_void_the_old_set_and_need_a_step_up() {
    let account = given(&with_totp());
    let regenerate = |step_up| AccountCommand::RegenerateRecoveryCodes {
        codes: codes(10),
        step_up,
        now: t0(),
    };
    account
        .when(regenerate(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    let renewed = account
        .when(regenerate(StepUp::Factor(SecondFactor::RecoveryCode(
            code(0),
        ))))
        .then(&[
            AccountEvent::RecoveryCodeUsed { index: 0, at: t0() },
            AccountEvent::RecoveryCodesGenerated {
                codes: codes(10),
                at: t0(),
            },
        ]);
    assert_eq!(renewed.factors.recovery_codes_left(), 10);
    let renewed = Given(renewed);
    renewed
        .when(sign_in(Some(SecondFactor::RecoveryCode(code(1)))))
        .then_error(AccountError::SecondFactorInvalid);
    assert_eq!(
        renewed
            .when(sign_in(Some(SecondFactor::RecoveryCode(code(11)))))
            .events()
            .len(),
        2
    );
    given(&registered(true))
        .when(regenerate(StepUp::Recent))
        .then_error(AccountError::SecondFactorNotEnabled);
}

#[test]
fn credentials_identifiers_and_deletion_need_a_step_up_once_a_second_factor_is_on() {
    let account = given(&with_totp());
    let change_password = |step_up| AccountCommand::ChangePassword {
        verified_password: password(),
        new_password: SealedPasswordHash("sealed:two".to_owned()),
        keep_session: Uuid::from_u128(1),
        step_up,
        now: t0(),
    };
    account
        .when(change_password(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    account
        .when(change_password(StepUp::Factor(totp(101))))
        .then(&[
            AccountEvent::TotpCodeUsed {
                time_step: 101,
                at: t0(),
            },
            AccountEvent::PasswordChanged {
                password: SealedPasswordHash("sealed:two".to_owned()),
                at: t0(),
            },
        ]);
    let delete = |step_up| AccountCommand::Delete {
        proof: Proof::Password(password()),
        step_up,
        now: t0(),
    };
    account
        .when(delete(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    account
        .when(delete(StepUp::Recent))
        .then(&[AccountEvent::AccountDeleted { at: t0() }]);
    let email = Email::parse("new@example.com").expect("email");
    let change_email = |step_up| AccountCommand::ChangeEmail {
        email: email.clone(),
        step_up,
        now: t0(),
    };
    account
        .when(change_email(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    account
        .when(change_email(StepUp::Factor(SecondFactor::RecoveryCode(
            code(42),
        ))))
        .then_error(AccountError::SecondFactorInvalid);
    assert_eq!(
        account
            .when(change_email(StepUp::Administrator))
            .events()
            .len(),
        1,
        "an administrator needs no factor of the owner's"
    );
    // Without a second factor, nothing is asked.
    given(&registered(true))
        .when(change_password(StepUp::Missing))
        .events();
}

#[test]
fn an_administrator_resets_every_second_factor_once() {
    let reset = AccountCommand::ResetSecondFactors {
        administrator: Uuid::from_u128(5),
        now: t0(),
    };
    let after = given(&with_totp())
        .when(reset.clone())
        .then(&[AccountEvent::SecondFactorsReset {
            administrator: Uuid::from_u128(5),
            at: t0(),
        }]);
    assert_eq!(after.factors, SecondFactors::default());
    let after = Given(after);
    after.when(reset.clone()).then(&[]);
    after.when(sign_in(None)).then(&[started(None)]);
}

#[test]
fn a_refused_step_up_is_recorded_and_changes_nothing() {
    let account = given(&with_totp());
    let after = account
        .when(AccountCommand::RecordStepUpFailure {
            session_id: Uuid::from_u128(3),
            now: t0(),
        })
        .then(&[AccountEvent::StepUpFailed {
            session_id: Uuid::from_u128(3),
            at: t0(),
        }]);
    assert_eq!(&after, account.state());
}

#[test]
fn an_enrolment_not_confirmed_is_withdrawn_without_a_second_factor() {
    let mut pending = registered(true);
    pending.push(AccountEvent::TotpEnrolmentStarted {
        secret: secret("a"),
        at: t0(),
    });
    let withdrawn = given(&pending)
        .when(AccountCommand::RemoveTotp {
            step_up: StepUp::Missing,
            now: t0(),
        })
        .then(&[AccountEvent::TotpEnrolmentCancelled { at: t0() }]);
    assert_eq!(withdrawn.factors, SecondFactors::default());
    Given(withdrawn)
        .when(AccountCommand::ConfirmTotp {
            secret: secret("a"),
            time_step: 1,
            recovery_codes: codes(0),
            session_id: Uuid::from_u128(7),
            now: t0(),
        })
        .then_error(AccountError::TotpNotPending);
}

fn passkey_id(n: u128) -> Uuid {
    Uuid::from_u128(1000 + n)
}

fn passkey_added(n: u128) -> AccountEvent {
    AccountEvent::PasskeyAdded {
        passkey_id: passkey_id(n),
        name: PasskeyName::parse(&format!("key {n}")).expect("name"),
        credential_id: format!("cred-{n}"),
        credential: PasskeyCredential(serde_json::json!({ "cred": n.to_string() })),
        at: t0(),
    }
}

fn add_passkey(n: u128) -> AccountCommand {
    AccountCommand::AddPasskey {
        passkey_id: passkey_id(n),
        name: PasskeyName::parse(&format!("key {n}")).expect("name"),
        credential_id: format!("cred-{n}"),
        credential: PasskeyCredential(serde_json::json!({ "cred": n.to_string() })),
        recovery_codes: codes(50),
        stepped_up: true,
        session_id: Uuid::from_u128(7),
        now: t0(),
    }
}

fn assertion(n: u128, sign_count: u32) -> SecondFactor {
    SecondFactor::Passkey {
        credential_id: format!("cred-{n}"),
        sign_count,
    }
}

/// A verified account with one passkey (credential `cred-1`) and the recovery codes 50..60.
fn with_passkey() -> Vec<AccountEvent> {
    let mut events = registered(true);
    events.extend([
        passkey_added(1),
        AccountEvent::RecoveryCodesGenerated {
            codes: codes(50),
            at: t0(),
        },
    ]);
    events
}

#[test]
fn a_passkey_name_is_trimmed_and_bounded() {
    assert_eq!(
        PasskeyName::parse("  laptop ").expect("name").as_str(),
        "laptop"
    );
    assert!(PasskeyName::parse(&"钥".repeat(64)).is_ok());
    // Hidden characters that spoof a name: a right-to-left override, a zero-width space, a
    // byte-order mark standing alone, a line separator.
    let hidden = ["\u{202E}gnp.exe", "a\u{200B}b", "\u{FEFF}", "a\u{2028}x"];
    assert!(
        PasskeyName::parse("👨\u{200D}👩\u{200D}👧 laptop").is_ok(),
        "emoji sequences"
    );
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)]
        .into_iter()
        .chain(hidden)
    {
        assert_eq!(
            PasskeyName::parse(bad).map_err(|invalid| invalid.code),
            Err(crate::domain::values::Refusal::InvalidPasskeyName),
            "{bad:?}"
        );
    }
}

#[test]
fn beginning_a_registration_needs_the_password_a_proven_address_and_a_step_up_with_a_factor() {
    let begin = |verified_password, step_up| AccountCommand::StartPasskeyRegistration {
        verified_password,
        step_up,
        now: t0(),
    };
    given(&registered(false))
        .when(begin(Some(password()), StepUp::Missing))
        .then_error(AccountError::EmailNotVerified);
    let verified = given(&registered(true));
    verified
        .when(begin(None, StepUp::Missing))
        .then_error(AccountError::InvalidCredentials);
    verified
        .when(begin(Some(password()), StepUp::Missing))
        .then(&[AccountEvent::PasskeyRegistrationStarted { at: t0() }]);
    // With TOTP on, a second factor confirms it, and is spent.
    let totp_on = given(&with_totp());
    totp_on
        .when(begin(Some(password()), StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    totp_on
        .when(begin(Some(password()), StepUp::Factor(totp(101))))
        .then(&[
            AccountEvent::TotpCodeUsed {
                time_step: 101,
                at: t0(),
            },
            AccountEvent::PasskeyRegistrationStarted { at: t0() },
        ]);
}

#[test]
fn the_first_passkey_is_a_second_factor_with_recovery_codes_and_a_later_one_adds_none() {
    let first = given(&registered(true)).when(add_passkey(1)).then(&[
        passkey_added(1),
        AccountEvent::RecoveryCodesGenerated {
            codes: codes(50),
            at: t0(),
        },
        proven(SecondFactorMethod::Passkey, Some(1)),
    ]);
    assert!(first.factors.enabled());
    assert_eq!(
        first.factors.methods(),
        vec![
            SecondFactorMethod::Passkey,
            SecondFactorMethod::RecoveryCode
        ]
    );
    Given(first.clone())
        .when(sign_in(None))
        .then_error(AccountError::SecondFactorRequired);
    let second = Given(first).when(add_passkey(2)).then(&[
        passkey_added(2),
        proven(SecondFactorMethod::Passkey, Some(2)),
    ]);
    assert_eq!(second.factors.passkeys.len(), 2);
    // A TOTP account's recovery codes stay as they are.
    given(&with_totp()).when(add_passkey(1)).then(&[
        passkey_added(1),
        proven(SecondFactorMethod::Passkey, Some(1)),
    ]);
    given(&with_passkey())
        .when(add_passkey(1))
        .then_error(AccountError::PasskeyAlreadyRegistered);
    given(&registered(false))
        .when(add_passkey(1))
        .then_error(AccountError::EmailNotVerified);
    // A registration begun before the account had a second factor asked no step-up: it
    // finishes on an account without one only.
    let unstepped = || match add_passkey(2) {
        AccountCommand::AddPasskey {
            passkey_id,
            name,
            credential_id,
            credential,
            recovery_codes,
            now,
            ..
        } => AccountCommand::AddPasskey {
            passkey_id,
            name,
            credential_id,
            credential,
            recovery_codes,
            stepped_up: false,
            session_id: Uuid::from_u128(7),
            now,
        },
        _ => unreachable!(),
    };
    given(&with_totp())
        .when(unstepped())
        .then_error(AccountError::StepUpRequired);
    assert_eq!(given(&registered(true)).when(unstepped()).events().len(), 3);
}

#[test]
fn an_account_keeps_at_most_its_limit_of_passkeys() {
    let mut history = registered(true);
    history.extend((0..PASSKEYS_PER_ACCOUNT as u128).map(passkey_added));
    let full = given(&history);
    full.when(add_passkey(99))
        .then_error(AccountError::PasskeyLimitReached);
    full.when(AccountCommand::StartPasskeyRegistration {
        verified_password: Some(password()),
        step_up: StepUp::Recent,
        now: t0(),
    })
    .then_error(AccountError::PasskeyLimitReached);
}

#[test]
fn a_passkey_assertion_signs_in_only_with_its_counter_going_forward() {
    let account = given(&with_passkey());
    let used = |sign_count| AccountEvent::PasskeyUsed {
        passkey_id: passkey_id(1),
        sign_count,
        at: t0(),
    };
    let after = account
        .when(sign_in(Some(assertion(1, 5))))
        .then(&[used(5), started_by_passkey(1)]);
    assert_eq!(after.factors.passkeys[0].sign_count, 5);
    assert_eq!(after.factors.passkeys[0].last_used_at, Some(t0()));
    // The same or a lower counter betrays a cloned authenticator.
    for replayed in [5, 4] {
        Given(after.clone())
            .when(sign_in(Some(assertion(1, replayed))))
            .then_error(AccountError::SecondFactorInvalid);
    }
    // An authenticator that keeps no counter always says 0.
    let zero = account
        .when(sign_in(Some(assertion(1, 0))))
        .then(&[used(0), started_by_passkey(1)]);
    Given(zero)
        .when(sign_in(Some(assertion(1, 0))))
        .then(&[used(0), started_by_passkey(1)]);
    // A credential the account does not have proves nothing.
    account
        .when(sign_in(Some(assertion(2, 9))))
        .then_error(AccountError::SecondFactorInvalid);
}

#[test]
fn a_passkey_alone_signs_in_only_as_its_own_second_factor() {
    let passwordless = |second_factor| AccountCommand::StartSession {
        session_id: Uuid::from_u128(7),
        proof: Proof::Passkey,
        second_factor,
        identifier: IdentifierKind::Passkey,
        ip: None,
        user_agent: None,
        expires_at: t0() + Duration::days(14),
        now: t0(),
    };
    let account = given(&with_passkey());
    account
        .when(passwordless(None))
        .then_error(AccountError::InvalidCredentials);
    account
        .when(passwordless(Some(totp(200))))
        .then_error(AccountError::InvalidCredentials);
    account.when(passwordless(Some(assertion(1, 3)))).then(&[
        AccountEvent::PasskeyUsed {
            passkey_id: passkey_id(1),
            sign_count: 3,
            at: t0(),
        },
        AccountEvent::SessionStarted {
            session_id: Uuid::from_u128(7),
            identifier: IdentifierKind::Passkey,
            method: SignInMethod::Passkey,
            second_factor: Some(SecondFactorMethod::Passkey),
            passkey_id: Some(passkey_id(1)),
            ip: None,
            user_agent: None,
            expires_at: t0() + Duration::days(14),
            at: t0(),
        },
    ]);
    // A blocked account is told so once the passkey is proven.
    let mut blocked = with_passkey();
    blocked.push(AccountEvent::AccountBlocked { at: t0() });
    given(&blocked)
        .when(passwordless(Some(assertion(1, 3))))
        .then_error(AccountError::Blocked);
}

#[test]
fn removing_a_passkey_is_a_step_up_and_the_last_factor_takes_the_recovery_codes() {
    let remove = |n, step_up| AccountCommand::RemovePasskey {
        passkey_id: passkey_id(n),
        step_up,
        now: t0(),
    };
    let account = given(&with_passkey());
    account
        .when(remove(1, StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    account
        .when(remove(2, StepUp::Recent))
        .then_error(AccountError::PasskeyNotFound);
    let removed = account.when(remove(1, StepUp::Recent)).then(&[
        AccountEvent::PasskeyRemoved {
            passkey_id: passkey_id(1),
            at: t0(),
        },
        AccountEvent::RecoveryCodesRevoked { at: t0() },
    ]);
    assert!(!removed.factors.enabled());
    Given(removed).when(sign_in(None)).then(&[started(None)]);
    // With TOTP still on, the codes stay; and removing TOTP keeps them for the passkey.
    let mut both = with_totp();
    both.push(passkey_added(1));
    given(&both)
        .when(remove(
            1,
            StepUp::Factor(SecondFactor::RecoveryCode(code(3))),
        ))
        .then(&[
            AccountEvent::RecoveryCodeUsed { index: 3, at: t0() },
            AccountEvent::PasskeyRemoved {
                passkey_id: passkey_id(1),
                at: t0(),
            },
        ]);
    let without_totp = given(&both)
        .when(AccountCommand::RemoveTotp {
            step_up: StepUp::Recent,
            now: t0(),
        })
        .then(&[AccountEvent::TotpRemoved { at: t0() }]);
    assert!(without_totp.factors.enabled(), "the passkey is left");
    assert_eq!(without_totp.factors.recovery_codes_left(), 10);
    // An administrator's reset takes passkeys too.
    let reset = given(&both)
        .when(AccountCommand::ResetSecondFactors {
            administrator: Uuid::from_u128(9),
            now: t0(),
        })
        .state_after();
    assert!(reset.factors.passkeys.is_empty() && !reset.factors.enabled());
}

#[test]
fn a_live_session_proves_a_second_factor_ahead_of_step_up_actions() {
    let mut history = with_passkey();
    history.push(started(None));
    let prove = |session, factor| AccountCommand::ProveStepUp {
        session_id: Uuid::from_u128(session),
        factor,
        now: t0(),
    };
    let account = given(&history);
    account.when(prove(7, assertion(1, 4))).then(&[
        AccountEvent::PasskeyUsed {
            passkey_id: passkey_id(1),
            sign_count: 4,
            at: t0(),
        },
        AccountEvent::StepUpProven {
            session_id: Uuid::from_u128(7),
            method: SecondFactorMethod::Passkey,
            passkey_id: Some(passkey_id(1)),
            at: t0(),
        },
    ]);
    account
        .when(prove(8, assertion(1, 4)))
        .then_error(AccountError::SessionNotFound);
    account
        .when(prove(7, assertion(2, 4)))
        .then_error(AccountError::SecondFactorInvalid);
    let mut plain = registered(true);
    plain.push(started(None));
    given(&plain)
        .when(prove(7, assertion(1, 4)))
        .then_error(AccountError::SecondFactorNotEnabled);
}

#[test]
fn removing_a_passkey_ends_the_sessions_it_signed_in_or_stepped_up_and_a_reset_ends_all() {
    let mut history = with_passkey();
    history.push(passkey_added(2));
    // Session 7 signed in with passkey 1; session 8 with a recovery code, stepped up with
    // passkey 1 later; session 9 with passkey 2.
    history.push(started_by_passkey(1));
    let other = |id: u128, passkey: Option<u128>| {
        session_started(id, Some(SecondFactorMethod::Passkey), passkey)
    };
    history.push(other(8, None));
    history.push(AccountEvent::StepUpProven {
        session_id: Uuid::from_u128(8),
        method: SecondFactorMethod::Passkey,
        passkey_id: Some(passkey_id(1)),
        at: t0(),
    });
    history.push(other(9, Some(2)));
    let account = given(&history);
    let events = account
        .when(AccountCommand::RemovePasskey {
            passkey_id: passkey_id(1),
            step_up: StepUp::Recent,
            now: t0(),
        })
        .events();
    assert_eq!(
        events.last(),
        Some(&AccountEvent::SessionsEnded {
            session_ids: vec![Uuid::from_u128(7), Uuid::from_u128(8)],
            reason: SessionEndReason::PasskeyRemoved,
            at: t0(),
        })
    );
    let reset = account
        .when(AccountCommand::ResetSecondFactors {
            administrator: Uuid::from_u128(99),
            now: t0(),
        })
        .events();
    assert_eq!(
        reset.last(),
        Some(&AccountEvent::SessionsEnded {
            session_ids: vec![Uuid::from_u128(7), Uuid::from_u128(8), Uuid::from_u128(9)],
            reason: SessionEndReason::SecondFactorsReset,
            at: t0(),
        })
    );
}

#[test]
fn totp_on_an_account_with_a_passkey_needs_a_step_up_and_keeps_its_recovery_codes() {
    let enrol = |step_up| AccountCommand::StartTotpEnrolment {
        secret: secret("a"),
        verified_password: Some(password()),
        step_up,
        now: t0(),
    };
    let confirm = AccountCommand::ConfirmTotp {
        secret: secret("a"),
        time_step: 100,
        recovery_codes: codes(0),
        session_id: Uuid::from_u128(7),
        now: t0(),
    };
    let account = given(&with_passkey());
    account
        .when(enrol(StepUp::Missing))
        .then_error(AccountError::StepUpRequired);
    let pending = account.when(enrol(StepUp::Recent)).state_after();
    let enabled = Given(pending).when(confirm.clone()).then(&[
        AccountEvent::TotpEnabled {
            time_step: 100,
            at: t0(),
        },
        proven(SecondFactorMethod::Totp, None),
    ]);
    assert_eq!(
        enabled.factors.recovery_codes_left(),
        10,
        "the codes it had"
    );
    assert_eq!(enabled.factors.recovery_codes[0], Some(code(50)));

    // Begun before the account had a passkey (no step-up asked), it does not confirm after.
    let mut history = registered(true);
    history.push(AccountEvent::TotpEnrolmentStarted {
        secret: secret("a"),
        at: t0(),
    });
    history.push(passkey_added(1));
    given(&history)
        .when(confirm)
        .then_error(AccountError::StepUpRequired);
}

#[test]
fn the_first_second_factor_ends_every_other_session_and_a_later_one_none() {
    let mut history = registered(true);
    history.push(started(None));
    let other = session_started(8, None, None);
    history.push(other);
    let ended = AccountEvent::SessionsEnded {
        session_ids: vec![Uuid::from_u128(8)],
        reason: SessionEndReason::SecondFactorEnabled,
        at: t0(),
    };
    let events = given(&history).when(add_passkey(1)).events();
    assert_eq!(events.last(), Some(&ended), "the adding session 7 stays");
    let mut pending = history.clone();
    pending.push(AccountEvent::TotpEnrolmentStarted {
        secret: secret("a"),
        at: t0(),
    });
    let confirmed = given(&pending)
        .when(AccountCommand::ConfirmTotp {
            secret: secret("a"),
            time_step: 100,
            recovery_codes: codes(0),
            session_id: Uuid::from_u128(7),
            now: t0(),
        })
        .events();
    assert_eq!(confirmed.last(), Some(&ended));
    // A second factor added to an account that has one ends nothing.
    let mut both = history;
    both.push(passkey_added(1));
    let events = given(&both).when(add_passkey(2)).events();
    assert_eq!(
        events,
        vec![
            passkey_added(2),
            proven(SecondFactorMethod::Passkey, Some(2))
        ]
    );
}
