//! `run --push`: the exposition sent to a real `prometheus-pushgateway`, started on 127.0.0.1
//! with a free port and read back from its `/metrics`; a push to a closed port; the usage errors
//! of the flags. The Pushgateway tests print a notice and pass when the program is not installed
//! (Debian: `apt-get install prometheus-pushgateway`), unless `XML2PROM_REQUIRE_TOOLS=1`. Every
//! request is bounded by a timeout, and the Pushgateway is killed on drop.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::interop::{free_port, tool_missing, value_of};
use crate::lint;
use crate::support::{Outcome, entries, xml2prom};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

const RULES: &str = "version: 1\nmetrics:\n\
                     - { name: store_rows, help: Rows, type: gauge, value: count(/store/row) }\n\
                     - { name: store_row_size_bytes, help: Row sizes, type: gauge, \
                         select: /store/row, value: '@size', fields: { id: '@id' }, \
                         labels: { id: '{{ id }}' } }\n";

static PUSHGATEWAY_NOTICE: Once = Once::new();

/// A real Pushgateway on 127.0.0.1, killed and reaped on drop.
struct Pushgateway {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    /// Starts `prometheus-pushgateway` (or upstream's `pushgateway`) and waits until `/-/ready`
    /// answers 200; None after a notice when it is not installed.
    fn start() -> Option<Pushgateway> {
        let mut last = String::new();
        for _attempt in 0..2 {
            let gateway = Self::spawn(free_port())?;
            match gateway.wait_until_ready() {
                Ok(gateway) => return Some(gateway),
                // Another process may have taken the port between our probe and its bind.
                Err(message) if message.contains("address already in use") => last = message,
                Err(message) => panic!("{message}"),
            }
        }
        panic!("the Pushgateway did not start: {last}");
    }

    fn spawn(port: u16) -> Option<Pushgateway> {
        let dir = tempfile::tempdir().expect("tempdir for the Pushgateway log");
        let log = dir.path().join("pushgateway.log");
        for program in ["prometheus-pushgateway", "pushgateway"] {
            let spawned = Command::new(program)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).expect("log file"))
                .spawn();
            match spawned {
                Ok(child) => {
                    return Some(Pushgateway {
                        child,
                        port,
                        log,
                        _dir: dir,
                    });
                }
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => panic!("cannot start {program}: {error}"),
            }
        }
        tool_missing(
            &PUSHGATEWAY_NOTICE,
            "skipping Pushgateway checks: prometheus-pushgateway not found; install the Debian \
             package `prometheus-pushgateway`",
        );
        None
    }

    fn wait_until_ready(mut self) -> Result<Pushgateway, String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the Pushgateway exited with {status}\n--- log:\n{}",
                    self.log()
                ));
            }
            if self.get("/-/ready").is_ok_and(|(status, _)| status == 200) {
                return Ok(self);
            }
            std::thread::sleep(POLL);
        }
        Err(format!(
            "the Pushgateway did not answer within {STARTUP_TIMEOUT:?}\n--- log:\n{}",
            self.log()
        ))
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path`, bounded by [`REQUEST_TIMEOUT`]: the status and the body.
    fn get(&self, path: &str) -> Result<(u16, String), ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent.get(format!("{}{path}", self.url())).call()?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()?;
        Ok((status, body))
    }

    /// What the Pushgateway serves to Prometheus.
    fn metrics(&self) -> String {
        match self.get("/metrics") {
            Ok((200, body)) => body,
            other => panic!(
                "GET /metrics from the Pushgateway: {other:?}\n--- log:\n{}",
                self.log()
            ),
        }
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with `rules.yaml` and a `store.xml` of the given rows (id, size).
fn workspace(rows: &[(&str, u32)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), RULES).expect("rules");
    write_store(dir.path(), rows);
    dir
}

fn write_store(dir: &Path, rows: &[(&str, u32)]) {
    let rows: String = rows
        .iter()
        .map(|(id, size)| format!("<row id=\"{id}\" size=\"{size}\"/>"))
        .collect();
    std::fs::write(dir.join("store.xml"), format!("<store>{rows}</store>\n")).expect("store");
}

fn run(dir: &Path, args: &[&str]) -> Outcome {
    let mut all = vec!["run", "--rules", "rules.yaml", "--input", "store.xml"];
    all.extend_from_slice(args);
    xml2prom(dir, &all)
}

#[test]
fn a_push_is_read_back_from_the_pushgateway_with_its_group_labels() {
    let Some(gateway) = Pushgateway::start() else {
        return;
    };
    let dir = workspace(&[("a", 120), ("b", 80)]);
    let url = gateway.url();
    let push = [
        "--push",
        &url,
        "--job",
        "store",
        "--grouping",
        "site=paris",
        "--grouping",
        "path=/srv/stores/a b.xml",
    ];
    let outcome = run(dir.path(), &push);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    // --push alone writes no file.
    assert_eq!(entries(dir.path()), ["rules.yaml", "store.xml"]);

    let group = [
        ("job", "store"),
        ("site", "paris"),
        ("path", "/srv/stores/a b.xml"),
        ("instance", ""),
    ];
    let body = gateway.metrics();
    let with = |more: &[(&'static str, &'static str)]| {
        let mut labels = group.to_vec();
        labels.extend_from_slice(more);
        labels
    };
    assert_eq!(value_of(&body, "store_rows", &group), Some(2.0), "{body}");
    assert_eq!(
        value_of(&body, "store_row_size_bytes", &with(&[("id", "b")])),
        Some(80.0),
        "{body}"
    );
    // The self-metrics go along (no `output` label: there is no file).
    assert!(
        value_of(&body, "xml2prom_last_success_timestamp_seconds", &group).is_some(),
        "{body}"
    );
    // The Pushgateway's own record of a successful push.
    let pushed_at = value_of(&body, "push_time_seconds", &group).expect("push_time_seconds");
    assert!(pushed_at > 0.0, "{body}");
    assert_eq!(
        value_of(&body, "push_failure_time_seconds", &group),
        Some(0.0)
    );

    // A second push replaces the whole group: row `b` is gone, as it is from the store.
    write_store(dir.path(), &[("a", 120)]);
    let outcome = run(dir.path(), &push);
    assert_eq!((outcome.code, outcome.stderr.as_str()), (0, ""));
    let body = gateway.metrics();
    assert_eq!(value_of(&body, "store_rows", &group), Some(1.0), "{body}");
    assert_eq!(
        value_of(&body, "store_row_size_bytes", &with(&[("id", "b")])),
        None,
        "{body}"
    );
    let samples = lint::samples(&body);
    let ours = samples
        .iter()
        .filter(|(name, labels, _)| {
            name.starts_with("store_") && labels.iter().any(|(l, v)| l == "site" && v == "paris")
        })
        .count();
    assert_eq!(ours, 2, "store_rows and one store_row_size_bytes:\n{body}");
}

#[test]
fn every_pushes_on_each_tick_next_to_the_textfile() {
    let Some(gateway) = Pushgateway::start() else {
        return;
    };
    let dir = workspace(&[("a", 120)]);
    let url = gateway.url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args([
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "-o",
            "out.prom",
        ])
        .args(["--every", "1s", "--push", &url, "--job", "loop"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xml2prom starts");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(&mut child);
    let group = [("job", "loop"), ("instance", "")];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pushes = Vec::new();
    while pushes.len() < 2 {
        assert!(Instant::now() < deadline, "fewer than 2 pushes: {pushes:?}");
        let body = gateway.metrics();
        if let Some(at) = value_of(&body, "push_time_seconds", &group)
            && pushes.last() != Some(&at)
        {
            pushes.push(at);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let stop = Instant::now();
    let code = loop {
        if let Some(status) = guard.0.try_wait().expect("wait") {
            break status.code();
        }
        assert!(stop.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(code, Some(0));
    let text = std::fs::read_to_string(dir.path().join("out.prom")).expect("out.prom");
    assert_eq!(
        value_of(&text, "store_rows", &[("output", "")]),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn a_push_to_a_closed_port_fails_with_exit_1_and_the_textfile_is_still_written() {
    let dir = workspace(&[("a", 120)]);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let outcome = run(
        dir.path(),
        &[
            "-o",
            "out.prom",
            "--status-file",
            "status.prom",
            "--push",
            &url,
            "--job",
            "store",
            "--push-timeout",
            "3s",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert_eq!(
        outcome.stderr,
        format!(
            "xml2prom: error: cannot push to the Pushgateway at {url}/metrics/job/store \
             (job=\"store\"): connection refused; check that it runs and that --push names it\n"
        )
    );
    let text = std::fs::read_to_string(dir.path().join("out.prom")).expect("out.prom written");
    lint::assert_clean(&text);
    assert_eq!(value_of(&text, "store_rows", &[]), Some(1.0), "{text}");
    let status = std::fs::read_to_string(dir.path().join("status.prom")).expect("status");
    for (stage, count) in [("push", "1"), ("write", "0")] {
        let line = format!(
            "xml2prom_run_errors{{stage=\"{stage}\",status_file=\"status.prom\"}} {count}\n"
        );
        assert!(status.contains(&line), "{line}in\n{status}");
    }
    // The input reached its file, so it counts as a success; the push is its own failure.
    assert!(
        status
            .contains("xml2prom_input_success{input=\"store.xml\",status_file=\"status.prom\"} 1"),
        "{status}"
    );
}

#[test]
fn push_flags_are_checked_before_anything_runs() {
    let dir = workspace(&[("a", 120)]);
    for (args, expected) in [
        (
            &["--push", "http://127.0.0.1:9"][..],
            "the following required arguments were not provided",
        ),
        (&["-o", "-", "--job", "x"][..], "--push <URL>"),
        (
            &["--push", "127.0.0.1:9091", "--job", "x"][..],
            "is not an http:// or https:// URL",
        ),
        (
            &["--push", "http://gw", "--job", "x", "--output-dir", "out"][..],
            "cannot be used with",
        ),
        (
            &["--push", "http://gw", "--job", "x", "--grouping", "job=y"][..],
            "`job` is set with --job",
        ),
        (
            &["--push", "http://gw", "--job", "x", "--grouping", "__a=y"][..],
            "names starting with `__` are reserved",
        ),
        (&["--push", "http://gw", "--job", ""][..], "--job is empty"),
        (
            &["--push", "http://gw", "--job", "x", "--grouping", "id=a"][..],
            "--grouping id: metrics[1] (`store_row_size_bytes`) sets `id` too; the Pushgateway \
             would replace its values with the group's `a`",
        ),
        (
            &[][..],
            "the following required arguments were not provided",
        ),
    ] {
        let outcome = run(dir.path(), args);
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: want `{expected}` in\n{}",
            outcome.stderr
        );
    }
    assert_eq!(entries(dir.path()), ["rules.yaml", "store.xml"]);
}
