//! The service under test: `spawn_app()` starts it on a random port with a fresh database,
//! and `TestApp` offers typed requests and answers.

use super::*;
use accounts::config::Config;
use accounts::secrets::SecretBox;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use uuid::Uuid;

/// A strong password accepted everywhere in tests.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub config: Config,
    pub address: String,
    pub client: reqwest::Client,
    pub db: deadpool_postgres::Object,
    pub pool: deadpool_postgres::Pool,
    /// The service's data keys: to seal what a test appends itself, and open what it reads.
    pub keys: std::sync::Arc<accounts::personal::Keyring>,
    /// The service's context, for tests that run use cases or the executor directly.
    pub ctx: accounts::service::Context,
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
        key_encryption_keys: vec!["service".to_owned()],
        session_ttl_days: 14,
        erasure_grace_days: 30,
        nats_max_age_days: 30,
        max_body_bytes: 64 * 1024,
        db_pool_size: 16,
        hash_concurrency: None,
        trusted_proxies: Vec::new(),
        sign_in_failures_per_address: 20,
        // Off: tests sign many accounts up from one address; `sign_up.rs` tests the limit.
        sign_ups_per_address: 0,
        codes_per_address: 30,
        read_wait_ms: 5000,
        max_waiting_reads: 1024,
        smtp_url: None,
        sms_webhook_url: None,
        delivery_lease_secs: 60,
        sign_up_email_code: false,
        require_mfa_for_admins: false,
        public_url: "http://accounts.test".to_owned(),
        mail_from: "accounts <no-reply@example.com>".to_owned(),
        totp_issuer: "Accounts".to_owned(),
        webauthn_rp_id: None,
        // As a deployment behind TLS: authenticators take no plain-HTTP origin but localhost.
        webauthn_origins: vec!["https://accounts.test".to_owned()],
        api: true,
        relay: false,
        projector: false,
        mail: false,
    };
    let mut config = config;
    adjust(&mut config);
    // The key file in the data folder, as `serve` makes it: the commands a test runs with
    // `--data-dir` (admin create, export, rebuild) share it.
    let secrets = SecretBox::from_config(None, &config.data_dir).expect("secret key");
    let ctx = accounts::server::build_context(&config, secrets)
        .await
        .expect("context");
    let keys = ctx.keys.clone();
    let service = ctx.clone();
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
        keys,
        ctx: service,
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
    /// Appends `events` to a stream as a command would (sealed with the stream's data key),
    /// after `version`, with no snapshot.
    pub async fn append(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        stream_type: &str,
        stream: Uuid,
        version: i64,
        events: &[accounts::store::event_log::NewEvent],
        metadata: &Value,
    ) -> Result<Vec<i64>, accounts::store::StoreError> {
        let sealed = self
            .keys
            .seal(
                (stream, stream_type),
                self.clock.now(),
                events,
                metadata,
                None,
            )
            .await?;
        accounts::store::event_log::append_events(client, stream_type, version, &sealed).await
    }

    /// A stream's events as the service reads them (personal fields opened), in version order.
    pub async fn stream_events(
        &self,
        stream: Uuid,
    ) -> Vec<accounts::store::event_log::RecordedEvent> {
        accounts::store::event_log::load_stream(&self.keys, &self.db, stream)
            .await
            .expect("the stream's events")
    }

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

    /// Sends a request with an optional JSON body and bearer token. With
    /// `ACCOUNTS_TEST_EVERY_KEY` set (`scripts/test` runs the HTTP tests so a second time), a
    /// request without an `Idempotency-Key` gets a fresh one.
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
        if std::env::var_os("ACCOUNTS_TEST_EVERY_KEY").is_some()
            && !headers
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("idempotency-key"))
        {
            request = request.header("idempotency-key", Uuid::new_v4().to_string());
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

    /// The event types of each transaction that wrote `types`, in commit order: the events
    /// that committed together, in one list.
    pub async fn transactions_of(&self, types: &[&str]) -> Vec<Vec<String>> {
        let types: Vec<String> = types.iter().map(|t| (*t).to_owned()).collect();
        self.db
            .query(
                "SELECT array_agg(event_type ORDER BY position) FROM events
                 WHERE event_type = ANY($1)
                 GROUP BY transaction_id ORDER BY transaction_id",
                &[&types],
            )
            .await
            .expect("transactions")
            .iter()
            .map(|row| row.get(0))
            .collect()
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
