//! Where mails and text messages go: SMTP or a folder of `.eml` files, an SMS gateway over
//! HTTP or a folder, and whether a failure is for now or for good.

use anyhow::Context as _;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

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

    pub(super) async fn send(&self, event_id: Uuid, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => {
                smtp.send(message).await.map_err(|error| {
                    // A 5xx answer (RFC 5321, 4.2.1) will be the same next time.
                    let permanent = error.is_permanent();
                    let error = anyhow::Error::new(error).context("sending over SMTP");
                    if permanent {
                        SendError::Permanent(error)
                    } else {
                        SendError::Transient(error)
                    }
                })?;
            }
            Self::Folder(folder) => {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(SendError::transient)?;
                let path = folder.join(format!("{event_id}.eml"));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(SendError::transient)?;
            }
        }
        Ok(())
    }
}

/// Why a message was not sent.
#[derive(Debug)]
pub(super) enum SendError {
    /// It may go through later: retried.
    Transient(anyhow::Error),
    /// It never will: recorded as failed, not retried.
    Permanent(anyhow::Error),
}

impl SendError {
    pub(super) fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self::Transient(error.into())
    }

    pub(super) fn permanent(error: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(error.into())
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

    pub(super) async fn send(
        &self,
        event_id: Uuid,
        message: &serde_json::Value,
    ) -> Result<(), SendError> {
        match self {
            Self::Webhook { url, client } => {
                let response = client
                    .post(url)
                    .header("Idempotency-Key", event_id.to_string())
                    .json(message)
                    .send()
                    .await
                    .context("calling the SMS gateway")
                    .map_err(SendError::Transient)?;
                let status = response.status();
                if !status.is_success() {
                    let error = anyhow::anyhow!("the SMS gateway answered {status}");
                    // A 4xx refuses this text for good, except "too early" and "too many".
                    let retry_later =
                        status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
                    return Err(if retry_later {
                        SendError::Transient(error)
                    } else {
                        SendError::Permanent(error)
                    });
                }
            }
            Self::Folder(folder) => {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(SendError::transient)?;
                let path = folder.join(format!("{event_id}.json"));
                let json = serde_json::to_vec_pretty(message).map_err(SendError::permanent)?;
                tokio::fs::write(&path, json)
                    .await
                    .map_err(SendError::transient)?;
            }
        }
        Ok(())
    }
}
