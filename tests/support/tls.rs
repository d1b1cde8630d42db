//! A TLS endpoint of a test's own: stunnel (installed by scripts/test.sh)
//! with the test CA's server certificate, in front of a plain port.

use super::*;

/// stunnel on a free port forwarding to `127.0.0.1:to`; stopped when dropped.
pub struct Stunnel {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Stunnel {
    pub fn start(to: u16) -> Stunnel {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("stunnel.conf");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\n[test]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{to}\ncert = {}\nkey = {}\n",
                env_of_test("COMPLAINTFLOW_TEST_TLS_CERT"),
                env_of_test("COMPLAINTFLOW_TEST_TLS_KEY"),
            ),
        )
        .unwrap();
        let child = Command::new("stunnel4")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 runs (scripts/test.sh installs it)");
        let up = eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "stunnel did not listen on {port}");
        Stunnel {
            port,
            child,
            _dir: dir,
        }
    }

    /// The https URL clients use (the certificate names `localhost`).
    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
