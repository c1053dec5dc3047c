//! An SMS gateway of the test's own: a real HTTP server keeping every text posted to it.

use super::*;
use serde_json::Value;

/// An SMS gateway of the test's own: a real HTTP server keeping every JSON body posted to it.
pub struct SmsGateway {
    pub url: String,
    texts: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    /// Requests still to be refused with 503, as a gateway that is down.
    pub refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Requests received, refused or not.
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SmsGateway {
    pub async fn start() -> Self {
        use poem::listener::{Acceptor, Listener};
        use std::sync::atomic::Ordering;
        let texts: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
        let refusals: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
        let requests: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
        let kept = texts.clone();
        let (refusing, counting) = (refusals.clone(), requests.clone());
        let app = poem::Route::new().at(
            "/send",
            poem::post(poem::endpoint::make(move |mut req: poem::Request| {
                let kept = kept.clone();
                let (refusing, counting) = (refusing.clone(), counting.clone());
                async move {
                    counting.fetch_add(1, Ordering::SeqCst);
                    let refuse = refusing
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refuse {
                        return Err(poem::Error::from_status(
                            poem::http::StatusCode::SERVICE_UNAVAILABLE,
                        ));
                    }
                    let key = req
                        .headers()
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let body: Value = req.take_body().into_json().await?;
                    kept.lock().expect("texts").push((key, body));
                    Ok::<_, poem::Error>("queued")
                }
            })),
        );
        let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind");
        let addr = acceptor.local_addr()[0]
            .as_socket_addr()
            .copied()
            .expect("address");
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        Self {
            url: format!("http://{addr}/send"),
            texts,
            refusals,
            requests,
        }
    }

    /// The texts received.
    pub fn texts(&self) -> Vec<(String, Value)> {
        self.texts.lock().expect("texts").clone()
    }

    /// Waits for a text to `to` and returns its code and the `Idempotency-Key` it came with.
    pub async fn wait_for_code(&self, to: &str, purpose: &str) -> (String, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found = self
                .texts
                .lock()
                .expect("texts")
                .iter()
                .find(|(_, text)| text["to"] == to && text["purpose"] == purpose)
                .cloned();
            if let Some((key, text)) = found {
                let code: String = text["text"]
                    .as_str()
                    .unwrap_or_default()
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|word| word.len() == 6)
                    .expect("a 6-digit code")
                    .to_owned();
                return (code, key);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {purpose} text to {to}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// The whole service with a mail worker sending mails to `smtp` and texts to `gateway`.
pub async fn spawn_with_mail_and_sms(smtp: &SmtpSink, gateway: &SmsGateway) -> TestApp {
    let (smtp_url, sms_url) = (smtp.url(), gateway.url.clone());
    spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.smtp_url = Some(smtp_url);
        config.sms_webhook_url = Some(sms_url);
    })
    .await
}

/// The whole service with a mail worker sending texts to `gateway` (and mails to a folder).
pub async fn spawn_with_sms(gateway: &SmsGateway) -> TestApp {
    let url = gateway.url.clone();
    spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.sms_webhook_url = Some(url);
    })
    .await
}
