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
    Serve(Box<Config>),
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
    /// Rebuild a projection's tables from the event log and swap them in (queries keep
    /// answering from the old tables meanwhile).
    Rebuild {
        /// The projection: a file name of `projections/` without `.sql`, e.g. `users`.
        projection: String,
        #[command(flatten)]
        log: accounts::config::LogAccess,
    },
    /// Work with the event log.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Administration from the command line.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Measure the password checks a second this machine makes with the service's argon2id
    /// parameters at a hash concurrency: the ceiling of sign-in throughput, which
    /// `scripts/bench` prints beside the measured sign-ins.
    HashCeiling {
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Hashes at once (the service's `--hash-concurrency`); the number of cores when absent.
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// Write the JSON Schemas of the events (the envelope and each event type's data) into a
    /// folder, one file each; without a folder, print them all as one JSON object.
    EventSchemas {
        /// The folder, e.g. `openapi/events`.
        folder: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Make an owner: sign the email address up (with --password) or promote the account
    /// that has it.
    Create {
        /// The owner's email address.
        #[arg(long)]
        email: String,
        /// A password, to sign the address up when no account has it.
        #[arg(long, env = "ACCOUNTS_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Write the log as NDJSON to standard output, one envelope per line, in commit order:
    /// for auditors and for loading the history elsewhere.
    Export {
        /// Only events after this log position.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Only these event types (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        #[command(flatten)]
        log: accounts::config::LogAccess,
    },
    /// Re-wrap every data key of personal data with the first key-encryption key
    /// (`ACCOUNTS_KEY_ENCRYPTION_KEYS`), after a rotation: the log is not touched.
    Rewrap {
        #[command(flatten)]
        log: accounts::config::LogAccess,
    },
    /// Append synthetic accounts (four events each, sealed as commands write them), for
    /// measuring rebuilds over a large log (`scripts/bench`). Never on a log that serves anyone.
    #[command(hide = true)]
    Synthesize {
        /// Number of the first account (its address is synthetic-<n>@example.com).
        #[arg(long, default_value_t = 1)]
        first: u64,
        /// How many accounts.
        #[arg(long)]
        accounts: u64,
        #[command(flatten)]
        log: accounts::config::LogAccess,
    },
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
    accounts::faults::configure_from_environment();
    match Cli::parse().command {
        Command::Serve(config) => accounts::server::serve(*config).await,
        Command::Migrate { database_url } => {
            accounts::server::prepare_database(&database_url).await?;
            println!("migrated {database_url}");
            Ok(())
        }
        Command::Rebuild { projection, log } => {
            accounts::server::prepare_database(&log.database_url).await?;
            let definition = accounts::projector::definition::builtin_named(&projection)?;
            let keys = log.keyring()?;
            let report =
                accounts::projector::rebuild(&keys, &log.database_url, &definition, 5000).await?;
            println!(
                "rebuilt {projection}: {} events applied, {} failed, generation {}, in {:.2?}",
                report.applied, report.failed, report.generation, report.elapsed
            );
            Ok(())
        }
        Command::Events {
            command: EventsCommand::Export { after, types, log },
        } => {
            let types = (!types.is_empty()).then_some(types);
            let keys = log.keyring()?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let count = accounts::export::export(
                &keys,
                &log.database_url,
                after,
                types.as_deref(),
                &mut out,
            )
            .await?;
            std::io::Write::flush(&mut out)?;
            eprintln!("exported {count} events");
            Ok(())
        }
        Command::Events {
            command: EventsCommand::Rewrap { log },
        } => {
            accounts::server::prepare_database(&log.database_url).await?;
            let keys = log.keyring()?;
            let rewrapped = keys.rewrap(1000).await?;
            println!("re-wrapped {rewrapped} data keys");
            Ok(())
        }
        Command::Events {
            command:
                EventsCommand::Synthesize {
                    first,
                    accounts,
                    log,
                },
        } => {
            let keys = log.keyring()?;
            let appended =
                accounts::synthetic::synthesize(&keys, &log.database_url, first, accounts, 8)
                    .await?;
            eprintln!("appended {appended} events");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    config,
                },
        } => {
            let email = accounts::domain::values::Email::parse(&email)
                .map_err(|invalid| anyhow::anyhow!("--email: {}", invalid.message))?;
            accounts::server::prepare_database(&config.database_url).await?;
            let secrets = accounts::secrets::SecretBox::from_config(
                config.secret_key.as_deref(),
                &config.data_dir,
            )?;
            let ctx = accounts::server::build_context(&config, secrets).await?;
            let (id, created) =
                accounts::service::admin::create_owner(&ctx, &email, password.as_deref()).await?;
            let how = if created {
                "signed up and made"
            } else {
                "made"
            };
            println!("{email} ({id}) {how} owner", email = email.as_str());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", accounts::api::openapi_json());
            Ok(())
        }
        Command::HashCeiling {
            seconds,
            concurrency,
        } => {
            let rate = accounts::credentials::verifications_per_second(
                concurrency,
                std::time::Duration::from_secs_f64(seconds),
            )
            .await?;
            println!("{rate:.1}");
            Ok(())
        }
        Command::EventSchemas { folder: None } => {
            print!("{}", accounts::events::schemas_json());
            Ok(())
        }
        Command::EventSchemas {
            folder: Some(folder),
        } => {
            std::fs::create_dir_all(&folder)?;
            for entry in std::fs::read_dir(&folder)? {
                let path = entry?.path();
                if path.extension().is_some_and(|ext| ext == "json") {
                    std::fs::remove_file(path)?;
                }
            }
            for (name, text) in accounts::events::schemas() {
                std::fs::write(folder.join(name), text)?;
            }
            Ok(())
        }
    }
}
