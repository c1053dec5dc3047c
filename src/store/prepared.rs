//! Statements prepared once per connection: each function prepares its SQL through the
//! connection's statement cache (deadpool-postgres' `prepare_cached`), so PostgreSQL parses and
//! plans a statement once per connection, not on every request, and each later use is one round
//! trip (bind and execute) instead of two.
//!
//! Used for the event log and the inline tables, whose tables never change shape under a running
//! service. Read-model queries are left unprepared: a projection rebuilt from a new definition
//! swaps its tables, and a statement cached on the old ones could fail with a changed result type.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// Like `GenericClient::query`, with the statement cached.
pub async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

/// Like `GenericClient::query_one`, with the statement cached.
pub async fn query_one(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_one(&statement, params).await
}

/// Like `GenericClient::query_opt`, with the statement cached.
pub async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

/// Like `GenericClient::execute`, with the statement cached.
pub async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}
