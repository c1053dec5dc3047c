use super::*;
use crate::domain::testing::{self, Given};
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

fn issue(now: DateTime<Utc>, hash: &str) -> CodeCommand {
    CodeCommand::Issue {
        channel: Channel::Email,
        target: "ada@example.com".into(),
        purpose: Purpose::SignIn,
        code_hash: hash.into(),
        sealed_code: "v1.sealed".into(),
        deliver: true,
        locale: "en".into(),
        link: None,
        now,
    }
}

fn check(hash: &str, consume: bool, now: DateTime<Utc>) -> CodeCommand {
    CodeCommand::Check {
        presented: Presented::Code(hash.into()),
        consume,
        issued_after: None,
        now,
    }
}

/// The state after running `commands` one after the other, and each one's outcome.
fn run(commands: Vec<CodeCommand>) -> (Codes, Vec<Result<Vec<CodeEvent>, CodeError>>) {
    testing::run(commands)
}

#[test]
fn an_issued_code_is_valid_ten_minutes_and_used_once() {
    let (codes, results) = run(vec![
        issue(t0(), "h1"),
        check("h1", false, t0() + Duration::minutes(1)),
        check("h1", true, t0() + Duration::minutes(2)),
        check("h1", true, t0() + Duration::minutes(3)),
    ]);
    let issued = results[0].as_ref().unwrap();
    assert!(matches!(
        &issued[0],
        CodeEvent::CodeIssued { expires_at, .. } if *expires_at == t0() + CODE_LIFETIME
    ));
    assert_eq!(results[1], Ok(vec![]), "checking does not spend it");
    assert_eq!(
        results[2],
        Ok(vec![CodeEvent::CodeUsed {
            at: t0() + Duration::minutes(2)
        }])
    );
    assert_eq!(results[3], Err(CodeError::Invalid), "used once");
    assert!(codes.current.unwrap().used);
}

#[test]
fn an_expired_code_is_refused() {
    let (_, results) = run(vec![
        issue(t0(), "h1"),
        check("h1", true, t0() + CODE_LIFETIME),
    ]);
    assert_eq!(results[1], Err(CodeError::Expired));
}

#[test]
fn five_wrong_tries_kill_the_code() {
    let mut commands = vec![issue(t0(), "right")];
    commands.extend((0..5).map(|_| check("wrong", true, t0())));
    commands.push(check("right", true, t0()));
    let (codes, results) = run(commands);
    for (n, result) in results[1..6].iter().enumerate() {
        assert_eq!(
            result,
            &Ok(vec![CodeEvent::CodeAttemptFailed {
                attempts_left: MAX_ATTEMPTS - 1 - n as u32,
                at: t0()
            }])
        );
    }
    assert_eq!(
        results[6],
        Err(CodeError::Invalid),
        "dead even with the right code"
    );
    assert_eq!(codes.current.unwrap().attempts_left, 0);
}

#[test]
fn a_new_code_replaces_the_old_one() {
    let later = t0() + Duration::minutes(2);
    let (_, results) = run(vec![
        issue(t0(), "old"),
        issue(later, "new"),
        check("old", true, later),
        check("new", true, later),
    ]);
    assert!(
        matches!(results[2], Ok(ref events) if matches!(events[0], CodeEvent::CodeAttemptFailed { .. }))
    );
    assert_eq!(results[3], Ok(vec![CodeEvent::CodeUsed { at: later }]));
}

#[test]
fn one_code_a_minute_and_ten_an_hour_per_target() {
    let (_, results) = run(vec![
        issue(t0(), "a"),
        issue(t0() + Duration::seconds(20), "b"),
    ]);
    assert_eq!(results[1], Err(CodeError::TooMany(40)));

    let mut commands: Vec<CodeCommand> = (0..10)
        .map(|n| issue(t0() + Duration::minutes(2 * n), "x"))
        .collect();
    commands.push(issue(t0() + Duration::minutes(25), "y"));
    commands.push(issue(t0() + Duration::minutes(61), "z"));
    let (_, results) = run(commands);
    assert!(results[..10].iter().all(Result::is_ok));
    assert_eq!(results[10], Err(CodeError::TooMany(35 * 60)));
    assert!(results[11].is_ok(), "the first code left the hour");
}

#[test]
fn nothing_to_check_is_invalid() {
    Given(Codes::default())
        .when(check("h", true, t0()))
        .then_error(CodeError::Invalid);
}

#[test]
fn a_target_has_one_stream_per_channel_and_purpose_named_by_a_keyed_pseudonym() {
    let key = crate::domain::pseudonyms::Pseudonyms::new([7; 32]);
    let a = stream_id(&key, Channel::Email, "ada@example.com", Purpose::SignIn);
    assert_eq!(
        a,
        stream_id(&key, Channel::Email, "ada@example.com", Purpose::SignIn)
    );
    assert_ne!(
        a,
        stream_id(&key, Channel::Email, "ada@example.com", Purpose::SignUp)
    );
    assert_ne!(
        a,
        stream_id(&key, Channel::Sms, "ada@example.com", Purpose::SignIn)
    );
    // Without the service's key, the id cannot be found from the address.
    let other = crate::domain::pseudonyms::Pseudonyms::new([8; 32]);
    assert_ne!(
        a,
        stream_id(&other, Channel::Email, "ada@example.com", Purpose::SignIn)
    );
}

/// A code issued at `t0` with a link valid for `lifetime`; the code's hash is "code", the
/// link's "link".
fn issue_with_link(purpose: Purpose, lifetime: Duration) -> CodeCommand {
    CodeCommand::Issue {
        channel: Channel::Email,
        target: "ada@example.com".into(),
        purpose,
        code_hash: "code".into(),
        sealed_code: "v1.sealed".into(),
        deliver: true,
        locale: "en".into(),
        link: Some(NewLink {
            hash: "link".into(),
            sealed: "v1.link".into(),
            lifetime,
        }),
        now: t0(),
    }
}

#[test]
fn a_link_issued_with_a_code_works_once_until_it_expires() {
    let with_link = issue_with_link(Purpose::VerifyEmail, Duration::hours(24));
    let by_link = |hash: &str, now| CodeCommand::Check {
        presented: Presented::Link(hash.into()),
        consume: true,
        issued_after: None,
        now,
    };
    let hour = t0() + Duration::hours(1);
    let (_, results) = run(vec![
        with_link.clone(),
        by_link("other", hour),
        by_link("link", hour),
        by_link("link", hour),
    ]);
    assert_eq!(results[1], Err(CodeError::Invalid));
    assert_eq!(
        results[2],
        Ok(vec![CodeEvent::CodeUsed { at: hour }]),
        "valid after the code's 10 minutes"
    );
    assert_eq!(results[3], Err(CodeError::Invalid), "once");
    let (_, results) = run(vec![with_link, by_link("link", t0() + Duration::hours(24))]);
    assert_eq!(results[1], Err(CodeError::Expired));
}

#[test]
fn codes_and_links_issued_before_the_accounts_last_credential_change_are_refused() {
    let with_link = issue_with_link(Purpose::ResetPassword, Duration::hours(1));
    let (codes, _) = run(vec![with_link]);
    let changed = t0() + Duration::minutes(1);
    for presented in [
        Presented::Code("code".into()),
        Presented::Link("link".into()),
    ] {
        let stale = CodeCommand::Check {
            presented: presented.clone(),
            consume: true,
            issued_after: Some(changed),
            now: changed,
        };
        Given(codes.clone())
            .when(stale)
            .then_error(CodeError::Invalid);
        let current = CodeCommand::Check {
            presented,
            consume: true,
            issued_after: Some(t0()),
            now: changed,
        };
        assert_eq!(
            decide(&codes, current),
            Ok(vec![CodeEvent::CodeUsed { at: changed }])
        );
    }
}
