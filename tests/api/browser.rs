//! Passkeys in a real browser: `tests/browser/passkeys.mjs` drives Debian's Chromium, with a
//! virtual WebAuthn authenticator, through the service's `/passkeys` page: password sign-in,
//! adding a discoverable passkey, the passkey as the sign-in's second factor, and the passkey
//! alone. `scripts/test` installs Chromium and playwright-core first (`scripts/browser`).

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn chromium_adds_a_discoverable_passkey_and_signs_in_with_it_as_second_factor_and_alone() {
    let app = spawn_app_with(|config| {
        // The page is opened at localhost: the RP ID, at whatever port the test got.
        config.webauthn_rp_id = Some("localhost".to_owned());
        config.webauthn_origins = vec!["http://localhost".to_owned()];
    })
    .await;
    let user = app.new_user().await;
    given_email_verified(&app, &user).await;
    let port = app.address.rsplit(':').next().expect("port");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/passkeys.mjs");
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/node_modules");
    assert!(
        std::path::Path::new(modules).exists(),
        "tests/browser/node_modules is missing: run scripts/browser (scripts/test does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(format!("http://localhost:{port}/passkeys"))
        .arg(&user.email)
        .arg(PASSWORD)
        .output()
        .await
        .expect("node runs (scripts/browser installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(seen["credentials"], 1);
    assert_eq!(seen["resident"], true, "a discoverable credential: {seen}");
    let id = user.id.to_string();
    for step in ["password", "second_factor", "passwordless"] {
        assert!(
            seen[step].as_str().is_some_and(|text| text.contains(&id)),
            "{seen}"
        );
    }

    // What the log says of it.
    let session = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(session.body["mfa_required"], true);
    let events: Vec<Value> = app
        .db
        .query(
            "SELECT data FROM events WHERE stream_id = $1 AND event_type = 'SessionStarted'
             ORDER BY version",
            &[&user.id],
        )
        .await
        .expect("events")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let methods: Vec<(Value, Value)> = events
        .iter()
        .map(|data| (data["method"].clone(), data["second_factor"].clone()))
        .collect();
    assert!(
        methods.contains(&("password".into(), "passkey".into())),
        "{methods:?}"
    );
    assert!(
        methods.contains(&("passkey".into(), "passkey".into())),
        "{methods:?}"
    );
}
