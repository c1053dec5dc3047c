//! The `accounts` command line: serve the API, migrate, print the OpenAPI document.

use accounts::config::Config;
use clap::{Parser, Subcommand};

/// An event-sourced user-account service.
#[derive(Parser)]
#[command(name = "accounts", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, migrate it, and serve the HTTP API.
    Serve(Config),
    /// Create the database if missing and apply migrations.
    Migrate {
        /// PostgreSQL URL.
        #[arg(
            long,
            env = "ACCOUNTS_DATABASE_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/accounts"
        )]
        database_url: String,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tokio_postgres=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(config) => accounts::server::serve(config).await,
        Command::Migrate { database_url } => {
            accounts::server::prepare_database(&database_url).await?;
            println!("migrated {database_url}");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", accounts::api::openapi_json());
            Ok(())
        }
    }
}
