//! Starting the service: database, migrations, ctx, HTTP listener, housekeeping.

use crate::config::Config;
use crate::credentials::PasswordHasher;
use crate::messages::{MailConfig, MailTransport, MailWorker, SmsTransport};
use crate::projector::{self, Projector, ProjectorConfig};
use crate::relay::{Relay, RelayConfig};
use crate::secrets::SecretBox;
use crate::service::read_models::ProjectionWatch;
use crate::service::{Context, Policy};
use crate::store;
use poem::listener::{Acceptor, Listener, TcpListener};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;

/// Creates the database if missing and applies migrations.
pub async fn prepare_database(database_url: &str) -> anyhow::Result<()> {
    store::create_database_if_missing(database_url).await?;
    let (mut client, connection) =
        tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    store::migrations::migrate(&mut client).await?;
    drop(client);
    driver.abort();
    Ok(())
}

/// Builds the use cases' shared context from configuration.
pub async fn build_context(config: &Config, secrets: SecretBox) -> anyhow::Result<Context> {
    crate::telemetry::init();
    let read_lanes = std::thread::available_parallelism().map_or(2, usize::from);
    let pool = store::connect(&config.database_url, config.db_pool_size + read_lanes)?;
    let hasher = PasswordHasher::new(config.hash_concurrency(), secrets.clone()).await?;
    let captcha = crate::captcha::Captcha::new(secrets.derive_key("captcha"));
    Ok(Context {
        reads: store::shared_reads::SharedReads::new(pool.clone(), read_lanes),
        pool,
        hasher,
        captcha,
        pseudonyms: crate::domain::pseudonyms::Pseudonyms::new(
            secrets.derive_key("accounts/pseudonyms/v1"),
        ),
        policy: Policy {
            session_ttl: chrono::Duration::days(i64::from(config.session_ttl_days)),
            require_email_code: config.sign_up_email_code,
            sign_in_failures_per_address: config.sign_in_failures_per_address,
            sign_ups_per_address: config.sign_ups_per_address,
            codes_per_address: config.codes_per_address,
            totp_issuer: config.totp_issuer.replace(':', " "),
            require_mfa_for_admins: config.require_mfa_for_admins,
            erasure_grace: chrono::Duration::days(i64::from(config.erasure_grace_days)),
        },
        keys: std::sync::Arc::new(crate::personal::Keyring::connect(
            &config.database_url,
            crate::personal::Kek::parse_list(&config.key_encryption_keys, &secrets)?,
        )?),
        secrets,
        nats: connect_nats(&config.nats_url).await?,
        passkeys: std::sync::Arc::new(config.passkeys()?),
        projections: ProjectionWatch::start(
            &config.database_url,
            Duration::from_millis(config.read_wait_ms),
            config.max_waiting_reads,
        ),
        clock: crate::clock::Clock::default(),
    })
}

/// Starts the relay and the projectors that `config`'s roles ask for; they stop when `stop`
/// turns true.
pub fn start_workers(
    config: &Config,
    ctx: &Context,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let roles = config.roles();
    let mut tasks = Vec::new();
    if roles.relay {
        let relay = Relay::new(
            ctx.pool.clone(),
            ctx.keys.clone(),
            ctx.nats.clone(),
            RelayConfig {
                max_age: Duration::from_secs(u64::from(config.nats_max_age_days) * 24 * 3600),
                ..RelayConfig::new(
                    &config.database_url,
                    &config.nats_stream,
                    &config.nats_subject_prefix,
                )
            },
        );
        tasks.push(tokio::spawn(relay.run(stop.clone())));
    }
    if roles.projector {
        for definition in projector::definition::builtin()? {
            let projector = Projector::new(
                definition,
                ctx.keys.clone(),
                ctx.nats.clone(),
                ProjectorConfig::new(
                    &config.database_url,
                    &config.nats_stream,
                    &config.nats_subject_prefix,
                ),
            );
            tasks.push(tokio::spawn(projector.run(stop.clone())));
        }
    }
    if roles.mail {
        let transport =
            MailTransport::from_config(config.smtp_url.as_deref(), config.data_dir.join("mail"))?;
        let from = config
            .mail_from
            .parse()
            .map_err(|error| anyhow::anyhow!("ACCOUNTS_MAIL_FROM is not a mailbox: {error}"))?;
        let worker = MailWorker::new(
            ctx.pool.clone(),
            ctx.nats.clone(),
            ctx.secrets.clone(),
            ctx.keys.clone(),
            MailConfig {
                stream: config.nats_stream.clone(),
                subject_prefix: config.nats_subject_prefix.clone(),
                from,
                transport,
                sms: SmsTransport::from_config(
                    config.sms_webhook_url.as_deref(),
                    config.data_dir.join("sms"),
                )?,
                public_url: config.public_url.trim_end_matches('/').to_owned(),
                consumer: "mail".to_owned(),
                lease: std::time::Duration::from_secs(config.delivery_lease_secs.into()),
            },
        );
        tasks.push(tokio::spawn(worker.run(stop.clone())));
    }
    Ok(tasks)
}

/// A running HTTP server.
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The server task; it ends when the shutdown future completes.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds the listener and serves the API until `shutdown` completes.
pub async fn start(
    config: &Config,
    ctx: Context,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningServer> {
    let acceptor = TcpListener::bind(config.listen.clone())
        .into_acceptor()
        .await?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|addr| addr.as_socket_addr().copied())
        .ok_or_else(|| anyhow::anyhow!("the listener has no socket address"))?;
    tokio::spawn(housekeeping(ctx.clone()));
    tokio::spawn(crate::service::erasure::run(ctx.clone()));
    let app = crate::api::app(ctx, config);
    let task = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app,
            shutdown,
            Some(Duration::from_secs(10)),
        ),
    );
    Ok(RunningServer { addr, task })
}

/// Data keys destroyed per statement by [`purge_expired_rows`].
const KEYS_PER_ROUND: i64 = 1000;

/// Clean-up every 5 minutes of expired idempotency keys, long-finished sessions, throttle
/// rows, challenges and passkey ceremonies (each an indexed delete of what expired), and of the
/// data keys whose retention ended (`crate::personal::key_lifetime`).
async fn housekeeping(ctx: Context) {
    let mut every_few_minutes = tokio::time::interval(Duration::from_secs(300));
    loop {
        every_few_minutes.tick().await;
        if let Err(error) = purge_expired_rows(&ctx).await {
            tracing::warn!(error = format!("{error:#}"), "housekeeping failed");
        }
    }
}

/// One round of [`housekeeping`]: deletes what expired by now, and destroys the data keys whose
/// retention ended by the service's clock.
pub async fn purge_expired_rows(ctx: &Context) -> anyhow::Result<()> {
    let client = ctx.pool.get().await?;
    let keys = store::idempotency::purge_expired(&client).await?;
    let sessions = store::sessions::purge_finished(&client).await?;
    let throttle =
        store::throttle::purge_expired(&client, crate::service::sign_in::THROTTLE_WINDOW).await?;
    let challenges = store::challenges::purge_expired(&client).await?
        + store::ceremonies::purge_expired(&client).await?;
    let mut data_keys = 0;
    loop {
        let erased = ctx.keys.erase_expired(ctx.now(), KEYS_PER_ROUND).await?;
        data_keys += erased;
        if erased < KEYS_PER_ROUND as u64 {
            break;
        }
    }
    tracing::debug!(
        keys,
        sessions,
        throttle,
        challenges,
        data_keys,
        "purged expired rows"
    );
    Ok(())
}

/// Connects to NATS, retrying in the background when it is down so that the API starts anyway.
pub async fn connect_nats(url: &str) -> anyhow::Result<async_nats::Client> {
    Ok(async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await?)
}

/// `accounts serve`: the API, the relay and the projectors (or the roles asked for), until
/// Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    prepare_database(&config.database_url).await?;
    let secrets = SecretBox::from_config(config.secret_key.as_deref(), &config.data_dir)?;
    let ctx = build_context(&config, secrets).await?;
    let (stop, stopped) = watch::channel(false);
    let workers = start_workers(&config, &ctx, &stopped)?;
    let roles = config.roles();
    tracing::info!(?roles, "starting");

    let server = if roles.api {
        let mut api_stopped = stopped;
        let api_shutdown = async move {
            let _ = api_stopped.wait_for(|stop| *stop).await;
        };
        let server = start(&config, ctx, api_shutdown).await?;
        tracing::info!(addr = %server.addr, "listening");
        println!("accounts is listening on http://{}", server.addr);
        println!("  API docs: http://{}/docs", server.addr);
        Some(server)
    } else {
        None
    };
    shutdown_signal().await;
    let _ = stop.send(true);
    if let Some(server) = server {
        server.task.await??;
    }
    for worker in workers {
        worker.await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}
