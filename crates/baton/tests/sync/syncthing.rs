//! Two real Syncthing instances on this machine sharing one folder, to check the
//! simulator (and later the vault) against the real program.
//!
//! ```text
//! syncthing::need();                 // fails, naming the package, if it is missing
//! let pair = Pair::start();          // A and B, connected, sharing folder "baton"
//! fs::write(pair.a.folder.join("x"), b"1")?;
//! pair.wait_in_sync(Duration::from_secs(30));   // scans both, polls the REST API
//! pair.pause(); ... edit both sides ... pair.resume(); pair.wait_in_sync(...);
//! ```
//!
//! Everything stays on 127.0.0.1: each instance gets its own home folder (keys from
//! `syncthing generate`, then a `config.xml` written here), a GUI/REST address and a
//! listen address `tcp://127.0.0.1:PORT` on free ports; A is given B's address and
//! B waits to be called (see [`Instance::launch`]); global discovery, local
//! discovery, relays, NAT traversal, STUN, usage reporting (`urAccepted` -1), crash
//! reporting and automatic upgrades are off. The folder is `sendreceive` with the
//! file-system watcher off and an hourly rescan, so that changes are picked up when
//! [`Pair::scan`] (or [`Pair::wait_in_sync`]) asks for it, not at some moment of the
//! watcher's choosing.
//!
//! Each instance runs under `timeout` (coreutils), which forwards SIGTERM: dropping
//! the [`Pair`] (also while a test panics) terminates both and waits for them, and
//! if the test process itself is killed, `timeout` still ends them after
//! [`LIFETIME_S`] seconds.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The folder ID both instances share.
pub const FOLDER: &str = "baton";

/// Hard limit on an instance's life, in case nobody stops it.
pub const LIFETIME_S: u32 = 600;

/// Whether the `syncthing` program is on the PATH.
pub fn available() -> bool {
    Command::new("syncthing")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Fails the test, naming the package, when `syncthing` is missing. Tests that call
/// this are `#[ignore]`d, so they run (and may fail) only with `--include-ignored`.
#[track_caller]
pub fn need() {
    assert!(
        available(),
        "this test needs `syncthing`, which is not installed (apt-get install syncthing); \
         it runs only when asked for with --include-ignored"
    );
}

/// One running Syncthing instance.
pub struct Instance {
    pub name: &'static str,
    /// The shared folder's path on this instance.
    pub folder: PathBuf,
    pub device_id: String,
    home: PathBuf,
    api: SocketAddr,
    api_key: String,
    child: Child,
}

/// Two connected instances, `a` and `b`, sharing [`FOLDER`].
pub struct Pair {
    pub a: Instance,
    pub b: Instance,
    // Dropped last, after both instances have stopped.
    _dir: tempfile::TempDir,
}

/// What [`Pair::wait_in_sync`] last saw, for its timeout message.
#[derive(Debug, Default)]
struct Progress(String);

impl Pair {
    /// Starts both instances and waits until they are connected.
    pub fn start() -> Pair {
        let dir = tempfile::tempdir().expect("temporary directory");
        let ports = free_ports(4);
        let mut ids = Vec::new();
        for name in ["a", "b"] {
            let home = dir.path().join(name).join("home");
            fs::create_dir_all(&home).unwrap();
            let out = Command::new("syncthing")
                .args([
                    "generate",
                    "--no-default-folder",
                    "--skip-port-probing",
                    "--home",
                ])
                .arg(&home)
                .env("HOME", &home)
                .output()
                .expect("run syncthing generate");
            assert!(
                out.status.success(),
                "syncthing generate failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let config = fs::read_to_string(home.join("config.xml")).unwrap();
            let version = between(&config, "<configuration version=\"", "\"")
                .expect("config version")
                .to_owned();
            let id = between(&config, "<device id=\"", "\"")
                .expect("device id in generated config")
                .to_owned();
            ids.push((home, id, version));
        }
        let (key_a, key_b) = (api_key(&ids[0].1), api_key(&ids[1].1));
        let a = Instance::launch(
            "a",
            dir.path(),
            (ids[0].0.as_path(), ids[0].1.as_str(), ids[0].2.as_str()),
            (ids[1].1.as_str(), Some(ports[3])),
            ports[0],
            ports[1],
            key_a,
        );
        let b = Instance::launch(
            "b",
            dir.path(),
            (ids[1].0.as_path(), ids[1].1.as_str(), ids[1].2.as_str()),
            (ids[0].1.as_str(), None),
            ports[2],
            ports[3],
            key_b,
        );
        let pair = Pair { a, b, _dir: dir };
        pair.a.wait_ready();
        pair.b.wait_ready();
        pair.wait_connected(true, Duration::from_secs(30));
        pair
    }

    /// Rescans the shared folder on both sides (each call returns when its scan is
    /// done).
    pub fn scan(&self) {
        self.a.scan();
        self.b.scan();
    }

    /// Scans both sides, then polls until both are idle, need nothing, see the other
    /// at 100 % and agree on the global file count, three polls in a row; panics with
    /// the last state seen after `timeout`.
    pub fn wait_in_sync(&self, timeout: Duration) {
        self.scan();
        let start = Instant::now();
        let mut stable = 0;
        let mut progress = Progress::default();
        while stable < 3 {
            if self.in_sync(&mut progress) {
                stable += 1;
            } else {
                stable = 0;
            }
            if start.elapsed() > timeout {
                panic!(
                    "syncthing instances not in sync after {timeout:?}: {}\n{}\n{}",
                    progress.0,
                    self.a.log_tail(),
                    self.b.log_tail()
                );
            }
            sleep(Duration::from_millis(150));
        }
    }

    fn in_sync(&self, progress: &mut Progress) -> bool {
        let mut global = Vec::new();
        progress.0.clear();
        for (me, other) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let status = me.get(&format!("/rest/db/status?folder={FOLDER}"));
            let completion = me.get(&format!(
                "/rest/db/completion?folder={FOLDER}&device={}",
                other.device_id
            ));
            let _ = write!(
                progress.0,
                "[{}: state {}, need {}, pull errors {}, global files {}, local files {}; \
                 sees {} at {}%, needing {}] ",
                me.name,
                status["state"],
                status["needTotalItems"],
                status["pullErrors"],
                status["globalFiles"],
                status["localFiles"],
                other.name,
                completion["completion"],
                completion["needItems"]
            );
            let ok = me.connected_to(other)
                && status["state"] == "idle"
                && status["needTotalItems"] == 0
                && status["globalFiles"] == status["localFiles"]
                && completion["completion"].as_f64() == Some(100.0)
                && completion["needItems"] == 0
                && completion["needDeletes"] == 0;
            if !ok {
                return false;
            }
            global.push((status["globalFiles"].clone(), status["globalBytes"].clone()));
        }
        global[0] == global[1]
    }

    /// Each side pauses the other device, and both wait until they are apart: edits
    /// made now are concurrent.
    pub fn pause(&self) {
        self.a
            .post(&format!("/rest/system/pause?device={}", self.b.device_id));
        self.b
            .post(&format!("/rest/system/pause?device={}", self.a.device_id));
        self.wait_connected(false, Duration::from_secs(20));
    }

    /// Undoes [`Pair::pause`] and waits until they are connected again.
    pub fn resume(&self) {
        self.a
            .post(&format!("/rest/system/resume?device={}", self.b.device_id));
        self.b
            .post(&format!("/rest/system/resume?device={}", self.a.device_id));
        self.wait_connected(true, Duration::from_secs(30));
    }

    fn wait_connected(&self, want: bool, timeout: Duration) {
        let start = Instant::now();
        while self.a.connected_to(&self.b) != want || self.b.connected_to(&self.a) != want {
            if start.elapsed() > timeout {
                panic!(
                    "syncthing instances not {} after {timeout:?}\n{}\n{}",
                    if want { "connected" } else { "apart" },
                    self.a.log_tail(),
                    self.b.log_tail()
                );
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Instance {
    /// Writes the configuration and starts `syncthing serve`.
    fn launch(
        name: &'static str,
        dir: &Path,
        (home, id, version): (&Path, &str, &str),
        (peer_id, peer_port): (&str, Option<u16>),
        api_port: u16,
        listen_port: u16,
        api_key: String,
    ) -> Instance {
        let folder = dir.join(name).join("folder");
        // The folder marker Syncthing expects in a folder that already exists.
        fs::create_dir_all(folder.join(".stfolder")).unwrap();
        let (first, second) = if name == "a" {
            (id, peer_id)
        } else {
            (peer_id, id)
        };
        // Only one side dials: when both dial at once after a pause, the two
        // handshakes can block each other until Syncthing's 20 s Hello timeout.
        let peer_address =
            peer_port.map_or_else(|| "dynamic".to_owned(), |p| format!("tcp://127.0.0.1:{p}"));
        let config = format!(
            r#"<configuration version="{version}">
    <folder id="{FOLDER}" label="{FOLDER}" path="{folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="false" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{first}" introducedBy=""></device>
        <device id="{second}" introducedBy=""></device>
        <minDiskFree unit="%">0</minDiskFree>
        <versioning></versioning>
        <maxConflicts>10</maxConflicts>
        <markerName>.stfolder</markerName>
        <paused>false</paused>
    </folder>
    <device id="{id}" name="{name}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>dynamic</address>
        <paused>false</paused>
    </device>
    <device id="{peer_id}" name="peer-of-{name}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>{peer_address}</address>
        <paused>false</paused>
    </device>
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:{api_port}</address>
        <apikey>{api_key}</apikey>
        <theme>default</theme>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{listen_port}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <stunKeepaliveMinS>0</stunKeepaliveMinS>
        <announceLANAddresses>false</announceLANAddresses>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <startBrowser>false</startBrowser>
        <reconnectionIntervalS>1</reconnectionIntervalS>
        <minHomeDiskFree unit="%">0</minHomeDiskFree>
        <setLowPriority>false</setLowPriority>
    </options>
</configuration>
"#,
            folder = folder.display(),
        );
        fs::write(home.join("config.xml"), config).unwrap();
        let log = fs::File::create(home.join("syncthing.log")).unwrap();
        let child = Command::new("timeout")
            .args([
                "-s",
                "TERM",
                "-k",
                "5",
                &LIFETIME_S.to_string(),
                "syncthing",
                "serve",
            ])
            .args([
                "--no-browser",
                "--no-restart",
                "--no-upgrade",
                "--no-default-folder",
            ])
            .arg("--home")
            .arg(home)
            .env("HOME", home)
            .env("STNORESTART", "1")
            .env("STNOUPGRADE", "1")
            .env("STNODEFAULTFOLDER", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start syncthing (under timeout)");
        Instance {
            name,
            folder,
            device_id: id.to_owned(),
            home: home.to_owned(),
            api: SocketAddr::from(([127, 0, 0, 1], api_port)),
            api_key,
            child,
        }
    }

    /// The first 7 characters of the device ID, as conflict names spell it.
    pub fn short_id(&self) -> &str {
        &self.device_id[..7]
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while self.request("GET", "/rest/system/ping").is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "syncthing {} did not answer\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Rescans the shared folder; returns when the scan is done.
    pub fn scan(&self) {
        self.post(&format!("/rest/db/scan?folder={FOLDER}"));
    }

    pub fn connected_to(&self, other: &Instance) -> bool {
        self.get("/rest/system/connections")["connections"][&other.device_id]["connected"] == true
    }

    /// A GET on the REST API, as JSON; panics with the log on failure.
    pub fn get(&self, path: &str) -> Value {
        let body = self
            .request("GET", path)
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}\n{}", self.name, self.log_tail()));
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e} in {body:?}", self.name))
    }

    /// A POST on the REST API; returns the body.
    pub fn post(&self, path: &str) -> String {
        self.request("POST", path)
            .unwrap_or_else(|e| panic!("POST {path} on {}: {e}\n{}", self.name, self.log_tail()))
    }

    /// One HTTP/1.0 request (so the answer is neither chunked nor kept alive).
    fn request(&self, method: &str, path: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect_timeout(&self.api, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nX-API-Key: {}\r\nContent-Length: 0\r\n\r\n",
            self.api, self.api_key
        )
        .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no HTTP answer: {answer:?}"))?;
        let status = head.split(' ').nth(1).unwrap_or("");
        if status != "200" {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(body.to_owned())
    }

    /// The end of this instance's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.home.join("syncthing.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        format!("--- syncthing {} log (end) ---\n{tail}", self.name)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Both stop at once; each instance's own drop then waits for it.
        self.a.terminate();
        self.b.terminate();
    }
}

impl Instance {
    /// SIGTERM to `timeout`, which passes it on to syncthing and exits with it.
    fn terminate(&self) {
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {} 2>/dev/null", self.child.id())])
            .status();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.terminate();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (held together, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// An API key for an instance (it only guards a port on 127.0.0.1 for the length
/// of a test).
fn api_key(device_id: &str) -> String {
    format!("baton-test-{}", &device_id[..7])
}

/// The text between `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}
