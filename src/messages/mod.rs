//! The mail worker: sends the mails and text messages that events ask for (one-time codes and
//! links, and notices to an account's owner that its second factors changed), from durable
//! JetStream consumers, at most once per event.
//!
//! Each event is claimed in `message_deliveries` before its mail is sent, with a lease
//! (`MailConfig::lease`): a worker that dies mid-send leaves a claim that lapses when its lease
//! ends. A message is acknowledged only once its mail is sent or has failed for good; one
//! claimed by another worker is redelivered when that worker's lease ends. Up to
//! `DELIVERIES_IN_FLIGHT` messages are handled at once, and a message that fails for now (SMTP
//! down, a 4xx answer, a gateway error) gives its claim and its place back and comes again
//! after a backoff, so that no message holds up the others. A sweeper takes over, from the
//! PostgreSQL log, every claim whose lease has passed (a dead worker's, or a retry that is
//! due), so a delivery never depends on JetStream redelivering it. A message that can never be sent (an address the mailer refuses, a
//! sealed code that does not open with this service's key, a 5xx answer) is recorded as
//! `failed` at once and never retried. Mails go over SMTP (lettre) when `ACCOUNTS_SMTP_URL` is
//! set, else into a folder as `.eml` files. Any number of workers may run: the claim keeps
//! them from sending one mail twice.

mod templates;
mod transport;

use crate::domain::account::{Account, AccountStatus};
use crate::domain::code::Channel;
use crate::domain::values::{Email, Phone};
use crate::secrets::SecretBox;
use crate::store::deliveries::{self, Claim};
use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use futures::{StreamExt as _, TryStreamExt as _};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

pub use templates::{Notice, Rendered, render_code, render_notice, render_notice_sms, render_sms};
use transport::SendError;
pub use transport::{MailTransport, SmsTransport};

/// Messages handled at once by one worker.
const DELIVERIES_IN_FLIGHT: usize = 16;

/// What became of a message.
enum Delivery {
    /// Sent, skipped or failed for good (by this worker or another): acknowledged.
    Done,
    /// Failed for now, or held by another worker: due again after this long.
    RetryIn(Duration),
}

/// The longest a send may take: RFC 5321's limit for a server's answer to the end of the mail
/// (4.5.3.2.6). A send cut off then may still have been delivered; it is tried again.
const MAX_SEND: Duration = Duration::from_secs(600);
/// How often the sweeper looks for lapsed claims.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Lapsed claims the sweeper takes at once.
const SWEEP_BATCH: i64 = 64;

/// An event a task of this worker is delivering, until the task ends (or is dropped).
struct InFlight<'a> {
    events: &'a std::sync::Mutex<std::collections::HashSet<Uuid>>,
    event_id: Uuid,
}

impl<'a> InFlight<'a> {
    /// Marks `event_id` in flight; `None` when another task has it.
    fn enter(
        events: &'a std::sync::Mutex<std::collections::HashSet<Uuid>>,
        event_id: Uuid,
    ) -> Option<Self> {
        let entered = events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(event_id);
        entered.then_some(Self { events, event_id })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.event_id);
    }
}

/// How long a delivery waits before its next try, after `tried` tries: 200 ms doubling up to
/// 10 s.
fn retry_backoff(tried: i64) -> Duration {
    let doublings = u32::try_from(tried.clamp(1, 7) - 1).unwrap_or(0);
    (Duration::from_millis(200) * 2_u32.pow(doublings)).min(Duration::from_secs(10))
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
    /// How long a claim lasts unless renewed: a worker renews its claims every third of it
    /// while it sends, so a dead worker's claim lapses within one lease.
    pub lease: Duration,
}

/// Where a notice goes: the account's proven email address, else its proven phone number.
enum Recipient<'a> {
    Email(&'a Email),
    Phone(&'a Phone),
}

/// A notice whose turn comes later than this after its event is not sent: after a long outage,
/// a backlog of notices is history, not news.
const NOTICE_MAX_AGE: chrono::Duration = chrono::Duration::hours(24);

/// The parts of an event's envelope (`relay::Envelope`) the worker reads.
#[derive(Debug, Deserialize)]
struct EventEnvelope {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: String,
    stream_id: Uuid,
    recorded_at: DateTime<Utc>,
    data: serde_json::Value,
    #[serde(default)]
    metadata: serde_json::Value,
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
    /// This process's worker, as named in its claims.
    id: Uuid,
    /// Events this worker is delivering now: it asks to claim only others.
    in_flight: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    pool: Pool,
    jetstream: jetstream::Context,
    secrets: SecretBox,
    /// Opens the personal fields of events read again from the log.
    keys: std::sync::Arc<crate::personal::Keyring>,
    config: MailConfig,
}

impl MailWorker {
    /// A worker reading events from NATS.
    pub fn new(
        pool: Pool,
        nats: async_nats::Client,
        secrets: SecretBox,
        keys: std::sync::Arc<crate::personal::Keyring>,
        config: MailConfig,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            in_flight: std::sync::Mutex::default(),
            pool,
            jetstream: jetstream::new(nats),
            secrets,
            keys,
            config,
        }
    }

    /// Runs until `shutdown` turns true: follows JetStream and, beside it, sweeps lapsed claims.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tokio::select! {
            () = self.follow_with_restarts(shutdown.clone()) => {}
            () = self.sweep() => {}
            _ = shutdown.changed() => {}
        }
    }

    async fn follow_with_restarts(&self, mut shutdown: watch::Receiver<bool>) {
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

    /// Every `SWEEP_EVERY`, delivers the events whose claim lapsed, read from the log: this
    /// needs no NATS, and picks up what a worker that died held.
    async fn sweep(&self) {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            let due = match deliveries::due(&self.keys, &self.pool, SWEEP_BATCH).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(error = %error, "could not look for lapsed deliveries");
                    continue;
                }
            };
            futures::stream::iter(due)
                .for_each_concurrent(DELIVERIES_IN_FLIGHT, |due| async move {
                    let id = due.event_id;
                    let envelope = EventEnvelope {
                        id,
                        event_type: due.event_type,
                        stream_id: due.stream_id,
                        recorded_at: due.recorded_at,
                        data: due.data,
                        metadata: due.metadata,
                    };
                    if let Err(error) = self.deliver_event(envelope).await {
                        tracing::warn!(error = format!("{error:#}"), event_id = %id, "delivery not recorded; it will come again");
                    }
                })
                .await;
        }
    }

    async fn follow(&self) -> anyhow::Result<()> {
        let stream = crate::jetstream::ensure_stream(
            &self.jetstream,
            &self.config.stream,
            &self.config.subject_prefix,
            None,
        )
        .await?;
        let prefix = &self.config.subject_prefix;
        // The codes' consumer keeps its name from before notices were sent.
        let followed = std::iter::once((
            self.config.consumer.clone(),
            format!("{prefix}.code.CodeIssued"),
        ))
        // The account events whose owner is mailed a notice each have a durable consumer of
        // their own (`<consumer>-<type>`): a consumer of NATS 2.9 filters by one subject.
        .chain(
            Notice::ALL
                .map(Notice::event_type)
                .into_iter()
                .map(|event_type| {
                    (
                        format!("{}-{event_type}", self.config.consumer),
                        format!("{prefix}.account.{event_type}"),
                    )
                }),
        );
        let mut messages = Vec::new();
        for (name, subject) in followed {
            let consumer: consumer::PullConsumer = stream
                .get_or_create_consumer(
                    &name,
                    consumer::pull::Config {
                        durable_name: Some(name.clone()),
                        filter_subject: subject,
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: Duration::from_secs(60),
                        ..Default::default()
                    },
                )
                .await
                .with_context(|| format!("creating the mail consumer {name}"))?;
            messages.push(consumer.messages().await?);
        }
        futures::stream::select_all(messages)
            .map_err(anyhow::Error::from)
            .try_for_each_concurrent(DELIVERIES_IN_FLIGHT, |message| async move {
                self.handle(message).await;
                Ok(())
            })
            .await?;
        anyhow::bail!("the consumers' message streams ended")
    }

    /// Delivers one message and tells JetStream: acknowledged when sent, skipped or failed for
    /// good; redelivered after a backoff when it failed for now or the database failed, and
    /// when another worker's claim ends when that one holds it.
    async fn handle(&self, message: jetstream::Message) {
        let reply = match self.deliver(&message.payload).await {
            Ok(Delivery::Done) => AckKind::Ack,
            Ok(Delivery::RetryIn(delay)) => AckKind::Nak(Some(delay)),
            Err(error) => {
                // The database failed: soon again, not after the consumer's ack wait.
                tracing::warn!(
                    error = format!("{error:#}"),
                    "delivery not recorded; it will come again"
                );
                let delivered = message.info().map_or(1, |info| info.delivered);
                AckKind::Nak(Some(retry_backoff(delivered)))
            }
        };
        if let Err(error) = message.ack_with(reply).await {
            tracing::debug!(error = %error, "acknowledgement not sent");
        }
    }

    /// Delivers the message of a JetStream payload.
    async fn deliver(&self, payload: &[u8]) -> anyhow::Result<Delivery> {
        let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(payload) else {
            tracing::warn!("a message that is no event envelope is dropped");
            return Ok(Delivery::Done);
        };
        self.deliver_event(envelope).await
    }

    /// Sends what an event asks for: its code, or its notice; nothing for any other event.
    async fn deliver_event(&self, envelope: EventEnvelope) -> anyhow::Result<Delivery> {
        if envelope.event_type == "CodeIssued" {
            let Ok(data) = serde_json::from_value::<CodeIssuedData>(envelope.data) else {
                tracing::warn!(event_id = %envelope.id, "a CodeIssued event that does not parse is skipped");
                return Ok(Delivery::Done);
            };
            let id = envelope.id;
            return self.deliver_envelope(CodeIssuedEnvelope { id, data }).await;
        }
        match Notice::of(&envelope.event_type) {
            Some(notice) => self.deliver_notice(notice, envelope).await,
            None => Ok(Delivery::Done),
        }
    }

    /// Claims an event's delivery over `channel`: the tries before, or what to tell JetStream
    /// when it is not this worker's to send.
    async fn claim(&self, event_id: Uuid, channel: &str) -> anyhow::Result<Result<i32, Delivery>> {
        Ok(
            match deliveries::claim(&self.pool, event_id, channel, self.config.lease, self.id)
                .await?
            {
                Claim::Taken { attempts } => Ok(attempts),
                Claim::Finished => Err(Delivery::Done),
                Claim::HeldUntil(until) => {
                    let wait = (until - Utc::now()).to_std().unwrap_or_default();
                    Err(Delivery::RetryIn(wait + Duration::from_millis(100)))
                }
            },
        )
    }

    /// Sends a notice to the owner of the account whose event `envelope` is: to its proven
    /// email address as it is now, else by text to its proven phone number (skipped when it
    /// has neither, or is deleted).
    async fn deliver_notice(
        &self,
        notice: Notice,
        envelope: EventEnvelope,
    ) -> anyhow::Result<Delivery> {
        let Some(_working) = InFlight::enter(&self.in_flight, envelope.id) else {
            return Ok(Delivery::RetryIn(Duration::from_secs(1)));
        };
        let account = {
            let client = self.pool.get().await?;
            crate::service::executor::load::<Account>(&self.keys, &client, envelope.stream_id)
                .await?
                .state
        };
        let live = matches!(
            account.status,
            AccountStatus::Active | AccountStatus::Blocked
        );
        let recipient = match (&account.email, &account.phone) {
            (Some(email), _) if live && account.email_verified => Some(Recipient::Email(email)),
            (_, Some(phone)) if live && account.phone_verified => Some(Recipient::Phone(phone)),
            _ => None,
        };
        let channel = match recipient {
            Some(Recipient::Phone(_)) => Channel::Sms,
            Some(Recipient::Email(_)) | None => Channel::Email,
        };
        let attempts = match self.claim(envelope.id, channel.as_str()).await? {
            Ok(attempts) => attempts,
            Err(delivery) => return Ok(delivery),
        };
        let skip = async |note: &str| -> anyhow::Result<Delivery> {
            deliveries::finish(&self.pool, envelope.id, "skipped", Some(note)).await?;
            Ok(Delivery::Done)
        };
        if Utc::now() - envelope.recorded_at > NOTICE_MAX_AGE {
            return skip("the notice is over a day old").await;
        }
        let sending = match recipient {
            Some(Recipient::Email(email)) => {
                let text = |key: &str| {
                    envelope
                        .metadata
                        .get(key)
                        .and_then(serde_json::Value::as_str)
                };
                let rendered =
                    render_notice(notice, envelope.recorded_at, text("ip"), text("user_agent"));
                self.send_while_claimed(
                    envelope.id,
                    self.send_mail(envelope.id, email.as_str(), rendered),
                )
                .await
            }
            Some(Recipient::Phone(phone)) => {
                let message = serde_json::json!({
                    "to": phone.as_str(),
                    "text": render_notice_sms(notice, envelope.recorded_at),
                    "purpose": "notice",
                    "event_id": envelope.id,
                });
                self.send_while_claimed(envelope.id, self.config.sms.send(envelope.id, &message))
                    .await
            }
            None => return skip("the account has no proven email address or phone number").await,
        };
        self.settle(envelope.id, attempts, sending).await
    }

    /// Sends the message an event asks for, once; `Err` only when the database fails. One
    /// task of this worker at a time works on an event; another comes back a moment later.
    async fn deliver_envelope(&self, envelope: CodeIssuedEnvelope) -> anyhow::Result<Delivery> {
        let Some(_working) = InFlight::enter(&self.in_flight, envelope.id) else {
            return Ok(Delivery::RetryIn(Duration::from_secs(1)));
        };
        let data = &envelope.data;
        if !data.deliver {
            return Ok(Delivery::Done);
        }
        let attempts = match self.claim(envelope.id, data.channel.as_str()).await? {
            Ok(attempts) => attempts,
            Err(delivery) => return Ok(delivery),
        };
        crate::faults::point("mail.claimed").await;
        if Utc::now() >= data.expires_at {
            let note = "the code expired before it could be sent";
            deliveries::finish(&self.pool, envelope.id, "skipped", Some(note)).await?;
            return Ok(Delivery::Done);
        }
        let sent = self
            .send_while_claimed(envelope.id, self.send(envelope.id, data))
            .await;
        self.settle(envelope.id, attempts, sent).await
    }

    /// Awaits `send` within `MAX_SEND`, renewing the claim while it lasts, so that no other
    /// worker takes it over from a slow server and sends the message again.
    async fn send_while_claimed(
        &self,
        event_id: Uuid,
        send: impl Future<Output = Result<(), SendError>>,
    ) -> Result<(), SendError> {
        tokio::select! {
            sent = tokio::time::timeout(MAX_SEND, send) => {
                sent.unwrap_or_else(|_| {
                    Err(SendError::Transient(anyhow::anyhow!(
                        "the server did not answer within {MAX_SEND:?}"
                    )))
                })
            }
            () = self.keep_claim(event_id) => unreachable!("keep_claim never returns"),
        }
    }

    /// Records how a send ended: sent, failed for good, or given back for a retry.
    async fn settle(
        &self,
        event_id: Uuid,
        attempts: i32,
        sent: Result<(), SendError>,
    ) -> anyhow::Result<Delivery> {
        match sent {
            Ok(()) => {
                deliveries::finish(&self.pool, event_id, "sent", None).await?;
                Ok(Delivery::Done)
            }
            Err(SendError::Permanent(error)) => {
                let message = format!("{error:#}");
                tracing::warn!(%event_id, error = %message, "message can never be sent; recorded as failed");
                deliveries::finish(&self.pool, event_id, "failed", Some(&message)).await?;
                Ok(Delivery::Done)
            }
            Err(SendError::Transient(error)) => {
                let message = format!("{error:#}");
                tracing::warn!(%event_id, error = %message, "message not sent; retrying later");
                let retry_in = retry_backoff(i64::from(attempts) + 1);
                deliveries::release(&self.pool, event_id, &message, retry_in).await?;
                Ok(Delivery::RetryIn(retry_in))
            }
        }
    }

    /// Renews this worker's claim on `event_id` every third of the lease, for as long as it is
    /// awaited.
    async fn keep_claim(&self, event_id: Uuid) {
        let lease = self.config.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            if let Err(error) = deliveries::renew(&self.pool, event_id, lease).await {
                tracing::warn!(%event_id, error = %error, "could not renew a delivery claim");
            }
        }
    }

    async fn send(&self, event_id: Uuid, data: &CodeIssuedData) -> Result<(), SendError> {
        // Only to a target the service itself would accept, in its canonical form: an event
        // written by another deployment or before today's rules may hold one it refuses (a
        // quoted local part that some mail servers route elsewhere, say).
        let to = match data.channel {
            Channel::Email => Email::parse(&data.target).map(|email| email.as_str().to_owned()),
            Channel::Sms => Phone::parse(&data.target).map(|phone| phone.as_str().to_owned()),
        }
        .map_err(|invalid| {
            SendError::Permanent(anyhow::anyhow!(
                "the target is not an address this service sends to: {}",
                invalid.message
            ))
        })?;
        let code = self
            .secrets
            .open_text(&data.sealed_code)
            .context("the sealed code does not open with this service's key")
            .map_err(SendError::Permanent)?;
        if data.channel == Channel::Sms {
            let message = serde_json::json!({
                "to": to,
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
                    .context("the sealed link does not open with this service's key")
                    .map_err(SendError::Permanent)?;
                let page = match data.purpose {
                    crate::domain::code::Purpose::ResetPassword => "reset-password",
                    _ => "verify-email",
                };
                Some(format!("{}/{page}?token={token}", self.config.public_url))
            }
            None => None,
        };
        let rendered = render_code(data.purpose, &data.locale, &code, link.as_deref());
        self.send_mail(event_id, &to, rendered).await
    }

    /// Sends `rendered` to the address `to`.
    async fn send_mail(
        &self,
        event_id: Uuid,
        to: &str,
        rendered: Rendered,
    ) -> Result<(), SendError> {
        let to: Mailbox = to
            .parse()
            .context("the target is not a mailbox")
            .map_err(SendError::Permanent)?;
        let message = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .context("building the mail")
            .map_err(SendError::Permanent)?;
        self.config.transport.send(event_id, message).await
    }
}
