//! The mail worker: sends the mails and text messages that events ask for (one-time codes and
//! links), from a durable JetStream consumer, at most once per event.
//!
//! Each event is claimed in `message_deliveries` before its mail is sent. While SMTP is down the
//! worker retries with backoff, renewing its claim; a claim of a worker that died lapses after
//! five minutes. Mails go over SMTP (lettre) when `ACCOUNTS_SMTP_URL` is set, else into a
//! folder as `.eml` files. Any number of workers may run: the claim keeps them from sending
//! one mail twice.

mod templates;

use crate::domain::code::Channel;
use crate::secrets::SecretBox;
use anyhow::Context as _;
use async_nats::jetstream::{self, consumer};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::StreamExt as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

pub use templates::{Rendered, render_code, render_sms};

/// Where mails go.
#[derive(Clone)]
pub enum MailTransport {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder (development).
    Folder(PathBuf),
}

impl MailTransport {
    /// SMTP when `smtp_url` is given (`smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`, `smtp://localhost:25`), else the folder.
    pub fn from_config(smtp_url: Option<&str>, folder: PathBuf) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("ACCOUNTS_SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            )),
            None => Ok(Self::Folder(folder)),
        }
    }

    async fn send(&self, event_id: Uuid, message: Message) -> anyhow::Result<()> {
        match self {
            Self::Smtp(smtp) => {
                smtp.send(message).await.context("sending over SMTP")?;
            }
            Self::Folder(folder) => {
                tokio::fs::create_dir_all(folder).await?;
                let path = folder.join(format!("{event_id}.eml"));
                tokio::fs::write(&path, message.formatted()).await?;
            }
        }
        Ok(())
    }
}

/// Where text messages go.
#[derive(Clone)]
pub enum SmsTransport {
    /// A gateway's webhook: `POST` of JSON `{to, text, purpose, locale, event_id}` with
    /// `Idempotency-Key` = the event id; any 2xx is success.
    Webhook {
        /// The gateway URL.
        url: String,
        /// The HTTP client.
        client: reqwest::Client,
    },
    /// JSON files in a folder (development).
    Folder(PathBuf),
}

impl SmsTransport {
    /// The webhook when `url` is given, else the folder.
    pub fn from_config(url: Option<&str>, folder: PathBuf) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Self::Webhook {
                url: url.to_owned(),
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()?,
            }),
            None => Ok(Self::Folder(folder)),
        }
    }

    async fn send(&self, event_id: Uuid, message: &serde_json::Value) -> anyhow::Result<()> {
        match self {
            Self::Webhook { url, client } => {
                let response = client
                    .post(url)
                    .header("Idempotency-Key", event_id.to_string())
                    .json(message)
                    .send()
                    .await
                    .context("calling the SMS gateway")?;
                if !response.status().is_success() {
                    anyhow::bail!("the SMS gateway answered {}", response.status());
                }
            }
            Self::Folder(folder) => {
                tokio::fs::create_dir_all(folder).await?;
                let path = folder.join(format!("{event_id}.json"));
                tokio::fs::write(&path, serde_json::to_vec_pretty(message)?).await?;
            }
        }
        Ok(())
    }
}

/// How the mail worker runs.
#[derive(Clone)]
pub struct MailConfig {
    /// JetStream stream of the events.
    pub stream: String,
    /// Subject prefix of the events.
    pub subject_prefix: String,
    /// The sender, e.g. `accounts <no-reply@example.com>`.
    pub from: Mailbox,
    /// Where mails go.
    pub transport: MailTransport,
    /// Where text messages go.
    pub sms: SmsTransport,
    /// The service's address for links, without a trailing slash.
    pub public_url: String,
    /// Name of the durable consumer (one per deployment).
    pub consumer: String,
}

/// The part of a `CodeIssued` envelope the worker reads.
#[derive(Debug, Deserialize)]
struct CodeIssuedEnvelope {
    id: Uuid,
    data: CodeIssuedData,
}

#[derive(Debug, Deserialize)]
struct CodeIssuedData {
    channel: Channel,
    target: String,
    purpose: crate::domain::code::Purpose,
    sealed_code: String,
    deliver: bool,
    locale: String,
    expires_at: DateTime<Utc>,
    #[serde(default)]
    sealed_link: Option<String>,
}

/// Sends the mails of events.
pub struct MailWorker {
    pool: Pool,
    jetstream: jetstream::Context,
    secrets: SecretBox,
    config: MailConfig,
}

impl MailWorker {
    /// A worker reading events from NATS.
    pub fn new(
        pool: Pool,
        nats: async_nats::Client,
        secrets: SecretBox,
        config: MailConfig,
    ) -> Self {
        Self {
            pool,
            jetstream: jetstream::new(nats),
            secrets,
            config,
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        while !*shutdown.borrow() {
            let outcome = tokio::select! {
                outcome = self.follow() => outcome,
                _ = shutdown.changed() => return,
            };
            if let Err(error) = outcome {
                tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "mail worker stopped; starting again");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn follow(&self) -> anyhow::Result<()> {
        let stream = crate::relay::ensure_stream(
            &self.jetstream,
            &self.config.stream,
            &self.config.subject_prefix,
        )
        .await?;
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                &self.config.consumer,
                consumer::pull::Config {
                    durable_name: Some(self.config.consumer.clone()),
                    filter_subject: format!("{}.code.CodeIssued", self.config.subject_prefix),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(60),
                    ..Default::default()
                },
            )
            .await
            .context("creating the mail consumer")?;
        let mut messages = consumer.messages().await?;
        while let Some(message) = messages.next().await {
            let message = message?;
            self.deliver(&message.payload).await?;
            if let Err(error) = message.ack().await {
                tracing::debug!(error = %error, "acknowledgement not sent");
            }
        }
        anyhow::bail!("the consumer's message stream ended")
    }

    /// Sends the mail an event asks for, retrying until it is sent; `Err` only when the database
    /// fails.
    async fn deliver(&self, payload: &[u8]) -> anyhow::Result<()> {
        let Ok(envelope) = serde_json::from_slice::<CodeIssuedEnvelope>(payload) else {
            tracing::warn!("ignoring a CodeIssued message that does not parse");
            return Ok(());
        };
        let data = &envelope.data;
        if !data.deliver {
            return Ok(());
        }
        if !self.claim(envelope.id, data.channel.as_str()).await? {
            return Ok(());
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            if Utc::now() >= data.expires_at {
                self.finish(
                    envelope.id,
                    "skipped",
                    Some("the code expired before it could be sent"),
                )
                .await?;
                return Ok(());
            }
            match self.send(envelope.id, data).await {
                Ok(()) => {
                    self.finish(envelope.id, "sent", None).await?;
                    return Ok(());
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    tracing::warn!(event_id = %envelope.id, error = %message, retry_in = ?backoff, "mail not sent; retrying");
                    self.renew(envelope.id, &message).await?;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn send(&self, event_id: Uuid, data: &CodeIssuedData) -> anyhow::Result<()> {
        let code = self
            .secrets
            .open_text(&data.sealed_code)
            .context("the sealed code does not open with this service's key")?;
        if data.channel == Channel::Sms {
            let message = serde_json::json!({
                "to": data.target,
                "text": templates::render_sms(data.purpose, &data.locale, &code),
                "purpose": data.purpose.as_str(),
                "locale": data.locale,
                "event_id": event_id,
            });
            return self.config.sms.send(event_id, &message).await;
        }
        let link = match &data.sealed_link {
            Some(sealed) => {
                let token = self
                    .secrets
                    .open_text(sealed)
                    .context("the sealed link does not open with this service's key")?;
                let page = match data.purpose {
                    crate::domain::code::Purpose::ResetPassword => "reset-password",
                    _ => "verify-email",
                };
                Some(format!("{}/{page}?token={token}", self.config.public_url))
            }
            None => None,
        };
        let rendered = render_code(data.purpose, &data.locale, &code, link.as_deref());
        let to: Mailbox = data.target.parse().context("the target is not a mailbox")?;
        let message = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .context("building the mail")?;
        self.config.transport.send(event_id, message).await
    }

    /// Claims an event for sending: false when it was sent, skipped, or is being sent by a
    /// live worker.
    async fn claim(&self, event_id: Uuid, channel: &str) -> anyhow::Result<bool> {
        let client = self.pool.get().await?;
        let claimed = client
            .execute(
                "INSERT INTO message_deliveries (event_id, channel, status) VALUES ($1, $2, 'sending')
                 ON CONFLICT (event_id) DO UPDATE SET claimed_at = now()
                 WHERE message_deliveries.status = 'sending'
                   AND message_deliveries.claimed_at < now() - interval '5 minutes'",
                &[&event_id, &channel],
            )
            .await?;
        Ok(claimed == 1)
    }

    async fn renew(&self, event_id: Uuid, error: &str) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE message_deliveries
                 SET claimed_at = now(), attempts = attempts + 1, last_error = $2
                 WHERE event_id = $1",
                &[&event_id, &error],
            )
            .await?;
        Ok(())
    }

    async fn finish(&self, event_id: Uuid, status: &str, note: Option<&str>) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE message_deliveries
                 SET status = $2, attempts = attempts + 1, last_error = coalesce($3, last_error),
                     sent_at = CASE WHEN $2 = 'sent' THEN now() END
                 WHERE event_id = $1",
                &[&event_id, &status, &note],
            )
            .await?;
        Ok(())
    }
}
