//! A real SMTP server of the test's own, and reading codes and links out of its mails.

use super::*;

/// A real SMTP server (mailin-embedded) of the test's own, on a free port, keeping every mail
/// it receives. It starts when asked, so that a test can have SMTP down first.
pub struct SmtpSink {
    port: u16,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    recipients: Recipients,
}

/// What the sink answers to recipients (`RCPT TO`) and how often each was tried.
#[derive(Clone, Default)]
pub struct Recipients {
    refused: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, u16>>>,
    /// How long the sink waits before answering the end of a mail (it keeps the mail first).
    answer_after: std::sync::Arc<std::sync::Mutex<std::time::Duration>>,
    tried: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

#[derive(Clone)]
pub struct SinkHandler {
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    current: Vec<u8>,
    recipients: Recipients,
}

impl mailin_embedded::Handler for SinkHandler {
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        let to = to.trim_matches(|c| c == '<' || c == '>').to_owned();
        *self
            .recipients
            .tried
            .lock()
            .expect("tried")
            .entry(to.clone())
            .or_default() += 1;
        match self.recipients.refused.lock().expect("refused").get(&to) {
            Some(&code) => mailin_embedded::Response::custom(code, "refused by the test".into()),
            None => mailin_embedded::response::OK,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mail = String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
        self.mails.lock().expect("mails").push(mail);
        let delay = *self.recipients.answer_after.lock().expect("delay");
        std::thread::sleep(delay);
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// A sink on a free port, not listening yet.
    pub fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("free port");
        Self {
            port,
            mails: Default::default(),
            recipients: Recipients::default(),
        }
    }

    /// Answers `RCPT TO:<to>` with `code` from now on: 4xx for a failure that may pass, 5xx
    /// for one that will not (RFC 5321, 4.2.1).
    pub fn refuse(&self, to: &str, code: u16) {
        self.recipients
            .refused
            .lock()
            .expect("refused")
            .insert(to.to_owned(), code);
    }

    /// How many times a mail to `to` was tried.
    /// Keeps each mail at once but answers its end only after `delay`, as a slow server does.
    pub fn answer_after(&self, delay: std::time::Duration) {
        *self.recipients.answer_after.lock().expect("delay") = delay;
    }

    pub fn tries(&self, to: &str) -> usize {
        self.recipients
            .tried
            .lock()
            .expect("tried")
            .get(to)
            .copied()
            .unwrap_or(0)
    }

    /// A listening sink.
    pub async fn start() -> Self {
        let sink = Self::reserve();
        sink.listen().await;
        sink
    }

    /// Starts listening.
    pub async fn listen(&self) {
        let handler = SinkHandler {
            mails: self.mails.clone(),
            current: Vec::new(),
            recipients: self.recipients.clone(),
        };
        let port = self.port;
        std::thread::spawn(move || {
            let mut server = mailin_embedded::Server::new(handler);
            server
                .with_name("sink.test")
                .with_ssl(mailin_embedded::SslConfig::None)
                .expect("no TLS")
                .with_addr(("127.0.0.1", port))
                .expect("address");
            let _ = server.serve();
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "SMTP sink did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().expect("mails").clone()
    }
}

/// The 6-digit code in a code mail (its plain-text part shows it on a line of its own).
pub fn code_in(mail: &str) -> String {
    mail.lines()
        .map(str::trim)
        .find(|line| line.len() == 6 && line.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in the mail:\n{mail}"))
        .to_owned()
}

/// The whole service with a mail worker sending to `smtp`.
pub async fn spawn_with_mail(smtp: &SmtpSink) -> TestApp {
    let url = smtp.url();
    spawn_app_with(|config| {
        config.relay = true;
        config.mail = true;
        config.smtp_url = Some(url);
    })
    .await
}

impl SmtpSink {
    /// Waits for a mail to `to` whose subject contains `subject`, and returns it decoded
    /// (quoted-printable soft breaks joined).
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> String {
        self.wait_for_mails(to, subject, 1).await.remove(0)
    }

    /// Waits until `count` mails to `to` about `subject` have come, and returns them decoded,
    /// in the order they came.
    pub async fn wait_for_mails(&self, to: &str, subject: &str, count: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found: Vec<String> = self
                .mails()
                .into_iter()
                .filter(|mail| {
                    mail.contains(&format!("To: {to}"))
                        && mail.contains(&format!("Subject: {subject}"))
                })
                .map(|mail| {
                    mail.replace("=\r\n", "")
                        .replace("=\n", "")
                        .replace("=3D", "=")
                })
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} mails to {to} about {subject:?}; got {:#?}",
                found.len(),
                self.mails()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// The token of the link to `page` in a (decoded) mail.
pub fn link_token_in(mail: &str, page: &str) -> String {
    let marker = format!("/{page}?token=");
    let start = mail
        .find(&marker)
        .unwrap_or_else(|| panic!("no {page} link in:\n{mail}"))
        + marker.len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}
