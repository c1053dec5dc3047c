//! Starting the service: database, migrations, services, HTTP listener, housekeeping.

use crate::config::Config;
use crate::credentials::PasswordHasher;
use crate::relay::{Relay, RelayConfig};
use crate::secrets::SecretBox;
use crate::service::Services;
use crate::store;
use poem::listener::{Acceptor, Listener, TcpListener};
use std::net::SocketAddr;
use std::time::Duration;

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

/// Builds the services from configuration.
pub async fn build_services(config: &Config, secrets: SecretBox) -> anyhow::Result<Services> {
    let pool = store::connect(&config.database_url, config.db_pool_size)?;
    let hasher = PasswordHasher::new(config.hash_concurrency(), secrets.clone()).await?;
    Ok(Services {
        pool,
        hasher,
        secrets,
        session_ttl: chrono::Duration::days(i64::from(config.session_ttl_days)),
        nats: connect_nats(&config.nats_url).await?,
    })
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
    services: Services,
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
    tokio::spawn(housekeeping(services.clone()));
    let app = crate::api::app(services, config.max_body_bytes);
    let task = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app,
            shutdown,
            Some(Duration::from_secs(10)),
        ),
    );
    Ok(RunningServer { addr, task })
}

/// Hourly clean-up of expired idempotency keys and long-finished sessions.
async fn housekeeping(services: Services) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        if let Err(error) = purge_expired_rows(&services).await {
            tracing::warn!(error = format!("{error:#}"), "housekeeping failed");
        }
    }
}

async fn purge_expired_rows(services: &Services) -> anyhow::Result<()> {
    let client = services.pool.get().await?;
    let keys = store::idempotency::purge_expired(&client).await?;
    let sessions = store::sessions::purge_finished(&client).await?;
    tracing::debug!(keys, sessions, "purged expired rows");
    Ok(())
}

/// Connects to NATS, retrying in the background when it is down so that the API starts anyway.
pub async fn connect_nats(url: &str) -> anyhow::Result<async_nats::Client> {
    Ok(async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await?)
}

/// `accounts serve`: the API and the relay, until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    prepare_database(&config.database_url).await?;
    let secrets = SecretBox::from_config(config.secret_key.as_deref(), &config.data_dir)?;
    let services = build_services(&config, secrets).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let relay = Relay::new(
        services.pool.clone(),
        services.nats.clone(),
        RelayConfig::new(
            &config.database_url,
            &config.nats_stream,
            &config.nats_subject_prefix,
        ),
    );
    let relay_task = tokio::spawn(relay.run(stopped.clone()));

    let mut api_stopped = stopped;
    let api_shutdown = async move {
        let _ = api_stopped.wait_for(|stop| *stop).await;
    };
    let server = start(&config, services, api_shutdown).await?;
    tracing::info!(addr = %server.addr, "listening");
    println!("accounts is listening on http://{}", server.addr);
    println!("  API docs: http://{}/docs", server.addr);
    shutdown_signal().await;
    let _ = stop.send(true);
    server.task.await??;
    relay_task.await?;
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
