//! Clients generated from the checked-in OpenAPI document, unedited, run the main flows:
//! openapi-python-client's Python client and openapi-typescript's types through openapi-fetch
//! (`scripts/generated-clients`, which pins, installs and runs them).

use crate::helpers::{PASSWORD, make_owner, spawn_pipeline};

#[tokio::test]
async fn generated_python_and_typescript_clients_run_every_main_flow() {
    if std::env::var_os("ACCOUNTS_TEST_EVERY_KEY").is_some() {
        // The clients send no Idempotency-Key of their own: the pass with one on every
        // command would run the same requests again.
        return;
    }
    let app = spawn_pipeline().await;
    let owner = app.new_user().await;
    make_owner(&app, &owner).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/generated-clients");
    let output = tokio::process::Command::new(script)
        .arg(&app.address)
        .env("ACCOUNTS_OWNER_EMAIL", &owner.email)
        .env("ACCOUNTS_OWNER_PASSWORD", PASSWORD)
        .output()
        .await
        .expect("scripts/generated-clients runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("python client: every flow passed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("typescript client: every flow passed"),
        "{stdout}"
    );
}
