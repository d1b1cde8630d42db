//! A broker of a test's own, to pause without stalling other tests.

use super::*;

/// A broker of the test's own (the Tansu binary scripts/test.sh installed),
/// for a test that pauses it; stopped when dropped.
pub struct OwnBroker {
    pub addr: String,
    child: Child,
}

impl OwnBroker {
    pub fn start() -> OwnBroker {
        let bin = std::env::var("COMPLAINTFLOW_TEST_TANSU_BIN")
            .expect("COMPLAINTFLOW_TEST_TANSU_BIN is not set: run the tests with scripts/test.sh");
        let addr = format!("127.0.0.1:{}", free_port());
        let url = format!("tcp://{addr}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let up = eventually(Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        assert!(up, "own broker did not listen on {addr}");
        OwnBroker { addr, child }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): the process freezes, its
    /// connections stay open, as with a long GC pause or a stalled disk.
    pub fn freeze(&self, frozen: bool) {
        let sig = if frozen { "-STOP" } else { "-CONT" };
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} on the own broker");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
