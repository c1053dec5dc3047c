//! The service as a child process of the test, which the test can kill (`SIGKILL`) at a fault
//! point and start again on the same database, NATS stream and secret key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt as _;

/// What every start of the process shares.
pub struct ProcessSetup {
    pub database_url: String,
    pub nats_url: String,
    pub stream: String,
    pub subject_prefix: String,
    pub data_dir: std::path::PathBuf,
    pub secret_key: String,
    /// `ACCOUNTS_SMTP_URL`, when mail goes over SMTP.
    pub smtp_url: Option<String>,
    /// More `serve` arguments.
    pub args: Vec<String>,
}

impl ProcessSetup {
    /// A fresh database, stream and key; the shared NATS server.
    pub async fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple();
        Self {
            database_url: super::create_test_database().await,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            stream: format!("TEST_{id}"),
            subject_prefix: format!("test_{id}.events"),
            data_dir: std::env::temp_dir().join(format!("accounts-test-{id}")),
            secret_key: hex::encode(rand::random::<[u8; 32]>()),
            smtp_url: None,
            args: Vec::new(),
        }
    }
}

/// A running `accounts serve`.
pub struct ServedProcess {
    child: tokio::process::Child,
    pub address: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServedProcess {
    /// Starts the whole service (API, relay, projectors, mail worker), with `failpoints`
    /// (`FAILPOINTS` syntax, e.g. `idempotency.before_commit=1*return`) configured, and waits
    /// until it answers.
    pub async fn start(setup: &ProcessSetup, failpoints: &str) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_accounts"));
        command
            .arg("serve")
            .args(["--database-url", &setup.database_url])
            .args(["--nats-url", &setup.nats_url])
            .args(["--nats-stream", &setup.stream])
            .args(["--nats-subject-prefix", &setup.subject_prefix])
            // A port of its own choosing, which it prints: a port picked here and handed over
            // could be taken meanwhile (by another test's outgoing connection, say).
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&setup.data_dir)
            .args(["--sign-ups-per-address", "0"])
            .args(&setup.args)
            .env("ACCOUNTS_SECRET_KEY", &setup.secret_key)
            .env("FAILPOINTS", failpoints)
            .env("RUST_LOG", "warn")
            .env_remove("ACCOUNTS_SMTP_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(smtp) = &setup.smtp_url {
            command.env("ACCOUNTS_SMTP_URL", smtp);
        }
        let mut child = command.spawn().expect("the accounts binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let kept = lines.clone();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                kept.lock().expect("lines").push(line);
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (listening, address) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            let mut listening = Some(listening);
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(address) = line.strip_prefix("accounts is listening on ") {
                    if let Some(listening) = listening.take() {
                        listening.send(address.to_owned()).ok();
                    }
                }
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(60), address)
            .await
            .ok()
            .and_then(Result::ok);
        let Some(address) = address else {
            panic!(
                "the service never said where it listens; it logged:\n{}",
                lines.lock().expect("lines").join("\n")
            );
        };
        let process = Self {
            child,
            address,
            lines,
        };
        let client = reqwest::Client::new();
        process
            .wait_until("the service answers", || {
                let client = client.clone();
                let url = format!("{}/healthz", process.address);
                async move { client.get(url).send().await.is_ok() }
            })
            .await;
        process
    }

    /// Waits until `condition` holds (up to 60 s), failing the test with the process's log
    /// otherwise.
    pub async fn wait_until<F, Fut>(&self, what: &str, condition: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !condition().await {
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}; the service logged:\n{}",
                self.lines.lock().expect("lines").join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the process reports that it reached the fault point `name`.
    pub async fn wait_for_fault_point(&self, name: &str) {
        let line = format!("fault point {name} reached");
        self.wait_until(&line, || {
            let reached = self
                .lines
                .lock()
                .expect("lines")
                .iter()
                .any(|logged| logged.contains(&line));
            async move { reached }
        })
        .await;
    }

    /// Kills the process (`SIGKILL`: no clean-up of any kind) and waits for it to end.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill the service");
    }
}
