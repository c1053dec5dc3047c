//! Configuration: one struct, built by clap from flags with environment fallbacks, passed down.

use ipnet::IpNet;
use std::net::IpAddr;
use std::path::PathBuf;

/// Everything the service needs to know to run.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// PostgreSQL URL; the database is created if missing.
    #[arg(
        long,
        env = "ACCOUNTS_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/accounts"
    )]
    pub database_url: String,

    /// NATS URL; the relay publishes events to JetStream there.
    #[arg(
        long,
        env = "ACCOUNTS_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub nats_url: String,

    /// JetStream stream the relay publishes to.
    #[arg(long, env = "ACCOUNTS_NATS_STREAM", default_value = "ACCOUNTS_EVENTS")]
    pub nats_stream: String,

    /// Subject prefix: events go to `<prefix>.<stream_type>.<event_type>`.
    #[arg(
        long,
        env = "ACCOUNTS_NATS_SUBJECT_PREFIX",
        default_value = "accounts.events"
    )]
    pub nats_subject_prefix: String,

    /// Address the HTTP API listens on.
    #[arg(long, env = "ACCOUNTS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Folder for local state: the development secret key, and later mail written to files.
    #[arg(long, env = "ACCOUNTS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// 32-byte key (64 hex characters) that seals secrets at rest. Without it, a key is created
    /// on first run in the data folder: fine for development, not for several instances.
    #[arg(long, env = "ACCOUNTS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Key-encryption keys that wrap the per-account data keys of personal data, comma-separated:
    /// each 64 hex characters, or `service` for the key derived from the secret key. The first
    /// wraps new data keys; all unwrap (list the old one second while rotating, then run
    /// `accounts events rewrap`).
    #[arg(
        long,
        env = "ACCOUNTS_KEY_ENCRYPTION_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        default_value = "service"
    )]
    pub key_encryption_keys: Vec<String>,

    /// How long a session lasts, in days (1 to 30).
    #[arg(long, env = "ACCOUNTS_SESSION_TTL_DAYS", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..=30))]
    pub session_ttl_days: u32,

    /// Days between the deletion of an account and the erasure of its personal data (its data
    /// keys destroyed: GDPR art. 17); an administrator may restore it until then. 0 erases at
    /// once.
    #[arg(long, env = "ACCOUNTS_ERASURE_GRACE_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub erasure_grace_days: u32,

    /// Days the JetStream stream keeps each event: events carry personal data to subscribers,
    /// so they are not kept for ever (0: kept for ever, not for production).
    #[arg(long, env = "ACCOUNTS_NATS_MAX_AGE_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub nats_max_age_days: u32,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "ACCOUNTS_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Connections in the database pool for commands and reads; one more per CPU core is kept
    /// open for the session checks, which share them (pipelined).
    #[arg(long, env = "ACCOUNTS_DB_POOL_SIZE", default_value_t = 32)]
    pub db_pool_size: usize,

    /// Longest a query with `min_position` waits for the read model, in milliseconds, before
    /// answering 503 `read_model_behind`.
    #[arg(long, env = "ACCOUNTS_READ_WAIT_MS", default_value_t = 3000)]
    pub read_wait_ms: u64,

    /// Queries that may wait for a read model at once (they hold no database connection
    /// meanwhile); more answer 503 `read_model_behind` at once.
    #[arg(long, env = "ACCOUNTS_MAX_WAITING_READS", default_value_t = 1024)]
    pub max_waiting_reads: usize,

    /// SMTP server for mails: `smtp://user:pass@host:587?tls=required`, `smtps://host:465`, or
    /// `smtp://localhost:25` (no TLS). Without it, mails are written as .eml files in
    /// `<data-dir>/mail`.
    #[arg(long, env = "ACCOUNTS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// SMS gateway webhook: each text is `POST`ed there as JSON `{to, text, purpose, locale,
    /// event_id}`. Without it, texts are written as JSON files in `<data-dir>/sms`.
    #[arg(long, env = "ACCOUNTS_SMS_WEBHOOK_URL", hide_env_values = true)]
    pub sms_webhook_url: Option<String>,

    /// How long a mail worker's claim on a mail or text lasts unless renewed, in seconds (1 to
    /// 3600): the worker renews it while it sends, and a dead worker's claim is taken over once
    /// it has passed.
    #[arg(long, env = "ACCOUNTS_DELIVERY_LEASE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub delivery_lease_secs: u32,

    /// Address the service is reached at from a browser, for links in mails
    /// (`<public-url>/verify-email?token=...`).
    #[arg(
        long,
        env = "ACCOUNTS_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// Sender of mails.
    #[arg(
        long,
        env = "ACCOUNTS_MAIL_FROM",
        default_value = "accounts <no-reply@localhost>"
    )]
    pub mail_from: String,

    /// The product's name: the issuer an authenticator app shows beside a TOTP code (RFC 6238;
    /// the `issuer` of the `otpauth://` URI, Key Uri Format; no colon), and the WebAuthn
    /// relying party's name a passkey prompt shows.
    #[arg(long, env = "ACCOUNTS_TOTP_ISSUER", default_value = "Accounts")]
    pub totp_issuer: String,

    /// The WebAuthn relying party ID passkeys are bound to (WebAuthn §5.1.2): the registrable
    /// domain the service's pages are served under. Default: the host of the public URL.
    /// Changing it later orphans every passkey registered before.
    #[arg(long, env = "ACCOUNTS_WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,

    /// The origins WebAuthn ceremonies may come from (comma-separated, e.g.
    /// `https://app.example.com,https://www.example.com`), each under the RP ID. Default: the
    /// public URL's origin. With the RP ID `localhost`, any port is taken.
    #[arg(long, env = "ACCOUNTS_WEBAUTHN_ORIGINS", value_delimiter = ',')]
    pub webauthn_origins: Vec<String>,

    /// Require a code sent to the address (`POST /v1/codes`, purpose `sign_up`) for a sign-up
    /// by email; the address is then verified from the start.
    #[arg(long, env = "ACCOUNTS_SIGN_UP_EMAIL_CODE")]
    pub sign_up_email_code: bool,

    /// Require administrators and owners to have a second factor: until they enrol one, the
    /// administration operations answer them `403 mfa_enrolment_required`.
    #[arg(long, env = "ACCOUNTS_REQUIRE_MFA_FOR_ADMINS")]
    pub require_mfa_for_admins: bool,

    /// Run the HTTP API (with no role flag, every role runs).
    #[arg(long)]
    pub api: bool,

    /// Run the relay (log to NATS).
    #[arg(long)]
    pub relay: bool,

    /// Run the projectors (NATS to read models).
    #[arg(long)]
    pub projector: bool,

    /// Run the mail worker (sends the mails events ask for).
    #[arg(long)]
    pub mail: bool,

    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is
    /// believed: the client is then the nearest address in it that is not one of them. Without
    /// it the peer's address is the client's, and `X-Forwarded-For` is ignored.
    #[arg(long, env = "ACCOUNTS_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    /// Failed password sign-ins from one client address, within 30 minutes and whatever the
    /// identifiers, after which sign-ins from that address need a solved captcha (as after 3
    /// failures for one identifier); it stops one password being tried on many accounts.
    /// 0 turns it off.
    #[arg(
        long,
        env = "ACCOUNTS_SIGN_IN_FAILURES_PER_ADDRESS",
        default_value_t = 20
    )]
    pub sign_in_failures_per_address: u32,

    /// Sign-ups (`POST /v1/accounts`) from one client address within an hour, after which
    /// the next ones need a solved captcha; it slows a bot making accounts in bulk without
    /// shutting out the many people behind one carrier-grade NAT. 0 turns it off.
    #[arg(long, env = "ACCOUNTS_SIGN_UPS_PER_ADDRESS", default_value_t = 20)]
    pub sign_ups_per_address: u32,

    /// One-time codes (`POST /v1/codes`, and the codes a sign-up, a password reset or a
    /// change of address sends) that one client address may ask for within an hour, after
    /// which it is answered `429` with `Retry-After`; it caps the mails and text messages one
    /// sender can make the service send to other people. 0 turns it off.
    #[arg(long, env = "ACCOUNTS_CODES_PER_ADDRESS", default_value_t = 30)]
    pub codes_per_address: u32,

    /// Password hashes computed at once (each takes 19 MiB and a core for ~15 ms); defaults to
    /// the number of cores.
    #[arg(long, env = "ACCOUNTS_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
}

/// An address (`10.0.0.7`, one host) or a CIDR range (`10.0.0.0/8`).
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR range"))
}

/// Which parts of the service a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The HTTP API.
    pub api: bool,
    /// The relay.
    pub relay: bool,
    /// The projectors.
    pub projector: bool,
    /// The mail worker.
    pub mail: bool,
}

impl Config {
    /// The roles asked for; all of them when none is.
    pub fn roles(&self) -> Roles {
        if self.api || self.relay || self.projector || self.mail {
            Roles {
                api: self.api,
                relay: self.relay,
                projector: self.projector,
                mail: self.mail,
            }
        } else {
            Roles {
                api: true,
                relay: true,
                projector: true,
                mail: true,
            }
        }
    }

    /// The WebAuthn relying party: its RP ID and origins, from the settings or the public URL.
    pub fn passkeys(&self) -> anyhow::Result<crate::passkeys::Passkeys> {
        let mut public = url::Url::parse(&self.public_url)
            .map_err(|error| anyhow::anyhow!("ACCOUNTS_PUBLIC_URL {}: {error}", self.public_url))?;
        // An RP ID is a domain (WebAuthn §5.1.2): a service published on a loopback address
        // (development) takes passkeys from pages opened at `localhost`.
        let loopback = match public.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        if loopback && public.set_host(Some("localhost")).is_err() {
            anyhow::bail!("ACCOUNTS_PUBLIC_URL {}: no host", self.public_url);
        }
        let rp_id = match (&self.webauthn_rp_id, public.domain()) {
            (Some(rp_id), _) => rp_id.clone(),
            (None, Some(domain)) => domain.to_owned(),
            (None, None) => anyhow::bail!(
                "passkeys need a domain name: ACCOUNTS_PUBLIC_URL {} has none, so set \
                 ACCOUNTS_WEBAUTHN_RP_ID and ACCOUNTS_WEBAUTHN_ORIGINS",
                self.public_url
            ),
        };
        let origins = match self.webauthn_origins.is_empty() {
            true => vec![public],
            false => self
                .webauthn_origins
                .iter()
                .map(|origin| {
                    url::Url::parse(origin.trim()).map_err(|error| {
                        anyhow::anyhow!("ACCOUNTS_WEBAUTHN_ORIGINS {origin}: {error}")
                    })
                })
                .collect::<anyhow::Result<_>>()?,
        };
        crate::passkeys::Passkeys::new(&rp_id, &origins, &self.totp_issuer)
    }

    /// How many password hashes may run at once.
    pub fn hash_concurrency(&self) -> usize {
        self.hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
            .max(1)
    }
}

/// Where the log is and the keys that open it, for commands that read it outside `serve`
/// (`rebuild`, `events export`, `events rewrap`): they open its sealed personal data with the
/// keys the service's key-encryption keys wrap.
#[derive(Debug, Clone, clap::Args)]
pub struct LogAccess {
    /// PostgreSQL URL.
    #[arg(
        long,
        env = "ACCOUNTS_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/accounts"
    )]
    pub database_url: String,
    /// Folder of the development secret key (see `serve --data-dir`).
    #[arg(long, env = "ACCOUNTS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The service's 32-byte secret key in hex (see `serve --secret-key`).
    #[arg(long, env = "ACCOUNTS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// The key-encryption keys (see `serve --key-encryption-keys`).
    #[arg(
        long,
        env = "ACCOUNTS_KEY_ENCRYPTION_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        default_value = "service"
    )]
    pub key_encryption_keys: Vec<String>,
}

impl LogAccess {
    /// The keyring of the log under these keys.
    pub fn keyring(&self) -> anyhow::Result<crate::personal::Keyring> {
        let secrets =
            crate::secrets::SecretBox::from_config(self.secret_key.as_deref(), &self.data_dir)?;
        let keks = crate::personal::Kek::parse_list(&self.key_encryption_keys, &secrets)?;
        crate::personal::Keyring::connect(&self.database_url, keks)
    }
}
