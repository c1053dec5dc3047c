//! A fresh database per test, cloned from a migrated template.

use tokio_postgres::NoTls;
use uuid::Uuid;

pub fn server_url() -> String {
    std::env::var("ACCOUNTS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn with_database(url: &str, name: &str) -> String {
    let mut config: tokio_postgres::Config = url.parse().expect("database URL");
    config.dbname(name);
    let host = "127.0.0.1";
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:5432/{name}")
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Creates a database for one test, cloned from a migrated template made once per migration set.
pub async fn create_test_database() -> String {
    let admin = connect(&server_url()).await;
    let template = format!(
        "accounts_template_{}",
        accounts::store::migrations::fingerprint()
    );
    // One process builds the template; the others wait for it.
    admin
        .execute("SELECT pg_advisory_lock(774411)", &[])
        .await
        .expect("lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
            .await
            .expect("drop");
        accounts::server::prepare_database(&with_database(&server_url(), &building))
            .await
            .expect("migrate template");
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .expect("rename template");
        // Templates of earlier migration sets are of no more use.
        let stale = admin
            .query(
                "SELECT datname FROM pg_database
                 WHERE datname LIKE 'accounts\\_template\\_%' AND datname <> $1",
                &[&template],
            )
            .await
            .expect("templates");
        for row in stale {
            let name: String = row.get(0);
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
    admin
        .execute("SELECT pg_advisory_unlock(774411)", &[])
        .await
        .expect("unlock");
    let name = format!("accounts_test_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .await
        .expect("clone template");
    with_database(&server_url(), &name)
}
