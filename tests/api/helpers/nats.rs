//! A nats-server of the test's own, which a test can stop and restart.

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
