//! Test helpers: `spawn_app()` starts the real service on a random port with a fresh database
//! cloned from a migrated template, and `TestApp` offers typed requests.

use accounts::config::Config;
use accounts::secrets::SecretBox;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// A strong password accepted everywhere in tests.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub config: Config,
    pub address: String,
    pub client: reqwest::Client,
    pub db: deadpool_postgres::Object,
    pub pool: deadpool_postgres::Pool,
    /// Stops the relay and projectors when sent `true` (or dropped).
    pub stop: tokio::sync::watch::Sender<bool>,
    /// The service's clock: `clock.advance` shows what time does without waiting for it.
    pub clock: accounts::clock::Clock,
}

/// A signed-up account and its session token.
#[derive(Clone)]
pub struct User {
    pub id: Uuid,
    pub token: String,
    pub email: String,
}

/// A decoded answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn position(&self) -> i64 {
        self.number_header("accounts-position")
    }

    /// The `Retry-After` header, in seconds.
    pub fn retry_after(&self) -> i64 {
        self.number_header("retry-after")
    }

    #[track_caller]
    fn number_header(&self, name: &str) -> i64 {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("a number in the {name} header"))
    }

    /// Asserts a problem answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
    }

    /// The codes of the field errors, as (field, code), sorted.
    pub fn field_errors(&self) -> Vec<(String, String)> {
        let mut errors: Vec<(String, String)> = self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        (
                            e["field"].as_str().unwrap_or_default().to_owned(),
                            e["code"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        errors.sort();
        errors
    }
}

fn server_url() -> String {
    std::env::var("ACCOUNTS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, name: &str) -> String {
    let mut config: tokio_postgres::Config = url.parse().expect("database URL");
    config.dbname(name);
    let host = "127.0.0.1";
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@{host}:5432/{name}")
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Creates a database for one test, cloned from a migrated template made once per migration set.
async fn create_test_database() -> String {
    let admin = connect(&server_url()).await;
    let template = format!(
        "accounts_template_{}",
        accounts::store::migrations::fingerprint()
    );
    // One process builds the template; the others wait for it.
    admin
        .execute("SELECT pg_advisory_lock(774411)", &[])
        .await
        .expect("lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
            .await
            .expect("drop");
        accounts::server::prepare_database(&with_database(&server_url(), &building))
            .await
            .expect("migrate template");
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .await
            .expect("rename template");
        // Templates of earlier migration sets are of no more use.
        let stale = admin
            .query(
                "SELECT datname FROM pg_database
                 WHERE datname LIKE 'accounts\\_template\\_%' AND datname <> $1",
                &[&template],
            )
            .await
            .expect("templates");
        for row in stale {
            let name: String = row.get(0);
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
    admin
        .execute("SELECT pg_advisory_unlock(774411)", &[])
        .await
        .expect("unlock");
    let name = format!("accounts_test_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .await
        .expect("clone template");
    with_database(&server_url(), &name)
}

/// The API alone: no relay, no projectors.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The whole service: API, relay and projectors.
pub async fn spawn_pipeline() -> TestApp {
    spawn_app_with(|config| {
        config.relay = true;
        config.projector = true;
    })
    .await
}

/// Like `spawn_app`, with the configuration adjusted first.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    // `RUST_LOG=accounts=debug` shows the service's logs with a test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let database_url = create_test_database().await;
    let data_dir: PathBuf = std::env::temp_dir().join(format!("accounts-test-{}", Uuid::new_v4()));
    let config = Config {
        database_url: database_url.clone(),
        nats_url: "nats://127.0.0.1:4222".to_owned(),
        nats_stream: format!("TEST_{}", Uuid::new_v4().simple()),
        nats_subject_prefix: format!("test_{}.events", Uuid::new_v4().simple()),
        listen: "127.0.0.1:0".to_owned(),
        data_dir,
        secret_key: None,
        session_ttl_days: 14,
        max_body_bytes: 64 * 1024,
        db_pool_size: 16,
        hash_concurrency: None,
        trusted_proxies: Vec::new(),
        sign_in_failures_per_address: 20,
        // Off: tests sign many accounts up from one address; `sign_up.rs` tests the limit.
        sign_ups_per_address: 0,
        read_wait_ms: 5000,
        smtp_url: None,
        sms_webhook_url: None,
        sign_up_email_code: false,
        public_url: "http://accounts.test".to_owned(),
        mail_from: "accounts <no-reply@example.com>".to_owned(),
        api: true,
        relay: false,
        projector: false,
        mail: false,
    };
    let mut config = config;
    adjust(&mut config);
    let ctx = accounts::server::build_context(&config, SecretBox::random())
        .await
        .expect("context");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    accounts::server::start_workers(&config, &ctx, &stopped).expect("workers");
    let clock = ctx.clock.clone();
    let server = accounts::server::start(&config, ctx, std::future::pending())
        .await
        .expect("server");
    let pool = accounts::store::connect(&database_url, 4).expect("pool");
    TestApp {
        config,
        address: format!("http://{}", server.addr),
        client: reqwest::Client::new(),
        db: pool.get().await.expect("connection"),
        pool,
        stop,
        clock,
    }
}

/// Like `spawn_app_with`, behind a reverse proxy trusted at 127.0.0.1: `post_from` then names
/// the client.
pub async fn spawn_behind_proxy(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|config| {
        config.trusted_proxies = vec![accounts::config::parse_network("127.0.0.1").unwrap()];
        adjust(config);
    })
    .await
}

impl TestApp {
    /// POSTs as a reverse proxy would for `forwarded_for` (its `X-Forwarded-For`).
    pub async fn post_from(&self, forwarded_for: &str, path: &str, body: Value) -> Answer {
        self.send(
            Method::POST,
            path,
            None,
            Some(body),
            &[("x-forwarded-for", forwarded_for)],
        )
        .await
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(Method::GET, path, token, None, &[]).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.send(Method::DELETE, path, Some(token), body, &[])
            .await
    }

    /// Solves a captcha from `GET /v1/captcha` the way the ALTCHA widget does.
    pub async fn solved_captcha(&self) -> String {
        let answer = self.get("/v1/captcha", None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let challenge: accounts::captcha::Challenge =
            serde_json::from_value(answer.body).expect("an ALTCHA challenge");
        let solution = accounts::captcha::solve(&challenge).expect("solvable");
        accounts::captcha::payload(&solution)
    }

    pub async fn sign_up_email(&self, email: &str) -> Answer {
        self.post(
            "/v1/accounts",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await
    }

    /// Signs up a new user by email and returns it.
    pub async fn new_user(&self) -> User {
        let email = format!("user-{}@example.com", Uuid::new_v4().simple());
        let answer = self.sign_up_email(&email).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        User {
            id: answer.body["account"]["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .expect("account id"),
            token: answer.body["session"]["token"]
                .as_str()
                .expect("token")
                .to_owned(),
            email,
        }
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/v1/sessions",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// How many events of a type the log holds (any type for `None`).
    pub async fn count_events(&self, event_type: Option<&str>) -> i64 {
        self.db
            .query_one(
                "SELECT count(*) FROM events WHERE $1::text IS NULL OR event_type = $1",
                &[&event_type],
            )
            .await
            .expect("count")
            .get(0)
    }

    /// The event types of a stream, in order.
    pub async fn event_types(&self, stream_id: Uuid) -> Vec<String> {
        self.db
            .query(
                "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
                &[&stream_id],
            )
            .await
            .expect("query")
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for TestApp {
    /// Stops the workers and removes the test's JetStream stream, if it made one.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if !(self.config.relay || self.config.projector || self.config.mail) {
            return;
        }
        let url = self.config.nats_url.clone();
        let stream = self.config.nats_stream.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let connect = async_nats::connect(url);
                if let Ok(Ok(nats)) =
                    tokio::time::timeout(std::time::Duration::from_secs(2), connect).await
                {
                    let _ = async_nats::jetstream::new(nats)
                        .delete_stream(&stream)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Waits until `projection` has applied the log up to `position`.
pub async fn wait_for_projection(app: &TestApp, projection: &str, position: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !accounts::store::projections::has_reached(&app.db, projection, position)
        .await
        .expect("checkpoint")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "projection {projection} did not reach {position}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A nats-server of the test's own, on a free port, keeping its JetStream files in a folder
/// that outlives restarts.
pub struct OwnNats {
    port: u16,
    store: std::path::PathBuf,
    process: Option<tokio::process::Child>,
}

impl OwnNats {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("free port");
        let store = std::env::temp_dir().join(format!("accounts-nats-{}", uuid::Uuid::new_v4()));
        let mut nats = Self {
            port,
            store,
            process: None,
        };
        nats.restart().await;
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub async fn restart(&mut self) {
        let child = tokio::process::Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/services installs it)");
        self.process = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().await.expect("kill nats-server");
        }
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.store).ok();
    }
}

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
    tried: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

#[derive(Clone)]
struct SinkHandler {
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

/// Makes `user` an owner with `accounts admin create`, as an owner who proved the address
/// first: the CLI promotes no account whose address was never proven.
pub async fn make_owner(app: &TestApp, user: &User) {
    given_email_verified(app, user).await;
    let output = admin_create(app, &user.email, None).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("made owner"));
}

/// Records that `user` proved the address, as following its mailed link would have (for tests
/// whose subject is not the verification).
pub async fn given_email_verified(app: &TestApp, user: &User) {
    let version: i64 = app
        .db
        .query_one(
            "SELECT max(version) FROM events WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("version")
        .get(0);
    let verified = accounts::store::event_log::NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "EmailVerified",
        schema_version: 1,
        data: json!({"email": user.email, "at": chrono::Utc::now()}),
    };
    accounts::store::event_log::append_events(
        &app.db,
        "account",
        user.id,
        version,
        &[verified],
        &json!({"request_id": "test"}),
    )
    .await
    .expect("append");
}

/// Runs `accounts admin create --email <email> [--password <password>]` on the app's database.
pub async fn admin_create(
    app: &TestApp,
    email: &str,
    password: Option<&str>,
) -> std::process::Output {
    let url = app.config.database_url.clone();
    let data_dir = app.config.data_dir.clone();
    let mut args = vec![
        "admin".to_owned(),
        "create".into(),
        "--email".into(),
        email.into(),
    ];
    if let Some(password) = password {
        args.extend(["--password".to_owned(), password.to_owned()]);
    }
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_accounts"))
            .args(&args)
            .env("ACCOUNTS_DATABASE_URL", url)
            .env("ACCOUNTS_DATA_DIR", data_dir)
            .env("ACCOUNTS_NATS_URL", "nats://127.0.0.1:4222")
            .env("RUST_LOG", "warn")
            .output()
            .expect("accounts admin create")
    })
    .await
    .unwrap()
}

/// Posts an HTML form, as a browser on the link pages does; the status and the page.
pub async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .form(fields)
        .send()
        .await
        .expect("form post");
    (response.status(), response.text().await.expect("page"))
}

/// Asks for a password reset of `user` and returns the mail with its code and link.
pub async fn reset_code(app: &TestApp, smtp: &SmtpSink, user: &User) -> String {
    let asked = app
        .post("/v1/password-reset", None, json!({"email": user.email}))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    smtp.wait_for_mail(&user.email, "Your code to reset your password")
        .await
}

/// Asks `POST /v1/codes` for a mailed code and returns it from the mail about `subject`.
pub async fn mailed_code(
    app: &TestApp,
    smtp: &SmtpSink,
    to: &str,
    purpose: &str,
    subject: &str,
) -> String {
    let sent = app
        .post(
            "/v1/codes",
            None,
            json!({"channel": "email", "to": to, "purpose": purpose}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    code_in(&smtp.wait_for_mail(to, subject).await)
}
