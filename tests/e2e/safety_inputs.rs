//! Inputs bounded as they are read (issue 10): a device or FIFO is checked while it is read and
//! never copied past its first problem, `--max-dom-bytes` counts the bytes a FIFO delivers, a
//! store rewritten in place while it is read never gives a spliced number, and an input that
//! delivers nothing fails after `--read-timeout` instead of holding the output's lock.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::entries;

const PREVIOUS: &str = "previous_run 1\n";

/// One rule over `/store/row/@v`: the sum of every row's value, streamable.
const SUM_RULES: &str = "\
version: 1
metrics:
  - name: store_value_sum
    help: sum of the row values
    type: gauge
    select: /store/row
    value: \"@v\"
    aggregate: sum
";

/// What one run did, and how long it took.
struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `xml2prom ARGS` in `dir` with `env`, through `wrapper` (a command such as `prlimit`)
/// when given; kills it after `limit` and fails the test.
fn run_within(
    dir: &Path,
    wrapper: &[&str],
    args: &[&str],
    env: &[(&str, &Path)],
    limit: Duration,
) -> Finished {
    let binary = env!("CARGO_BIN_EXE_xml2prom");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    for (key, value) in env {
        command.env(key, value);
    }
    let started = Instant::now();
    let mut child = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xml2prom binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for xml2prom") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("xml2prom {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    Finished {
        // A signal (SIGXFSZ under prlimit) has no code: -1 matches no expectation.
        code: status.code().unwrap_or(-1),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        took,
    }
}

/// A FIFO in `dir`, or `None` where mkfifo is missing.
fn fifo_in(dir: &Path, name: &str) -> Option<PathBuf> {
    let fifo = dir.join(name);
    let made = Command::new("mkfifo").arg(&fifo).status();
    made.is_ok_and(|status| status.success()).then_some(fifo)
}

/// Writes `bytes` into `fifo` from a thread, once a reader opens it; write errors (the reader
/// left early) are expected and ignored.
fn feed(fifo: &Path, bytes: Vec<u8>) -> JoinHandle<()> {
    let fifo = fifo.to_owned();
    std::thread::spawn(move || {
        if let Ok(mut pipe) = File::options().write(true).open(fifo) {
            let _ = pipe.write_all(&bytes);
        }
    })
}

/// Lets a writer thread that still waits in `open` for a reader go, then joins it.
fn release(fifo: &Path, writer: JoinHandle<()>) {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening the read end never waits.
    let reader = File::options().read(true).custom_flags(0o4000).open(fifo);
    drop(reader);
    writer.join().expect("the writer");
}

/// A store of `rows` rows whose every value is `digit`: the sum is `rows * digit`, and stores
/// with different digits have the same size.
fn store(rows: usize, digit: u8) -> Vec<u8> {
    let mut xml = b"<store>\n".to_vec();
    for _ in 0..rows {
        xml.extend_from_slice(b"<row v=\"");
        xml.push(digit);
        xml.extend_from_slice(b"\"/>\n");
    }
    xml.extend_from_slice(b"</store>\n");
    xml
}

/// The value of `store_value_sum` in an exposition.
fn sum_in(exposition: &str) -> Option<String> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix("store_value_sum "))
        .map(str::to_owned)
}

#[test]
fn dev_zero_is_refused_at_its_first_byte_without_writing_the_temporary_directory() {
    // Issue 10: `--input /dev/zero` was copied into $TMPDIR up to --max-input-bytes (16 GiB)
    // before its first byte was looked at. Under `prlimit --fsize` (1 MiB) that copy dies of
    // SIGXFSZ; now nothing past the first 64 KiB piece is read or copied.
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("TMPDIR");
    std::fs::write(dir.path().join("rules.yaml"), SUM_RULES).expect("rules");
    let output = dir.path().join("store.prom");
    std::fs::write(&output, PREVIOUS).expect("seed");
    let prlimit = Command::new("prlimit").arg("--version").output();
    let wrapper: &[&str] = if prlimit.is_ok_and(|out| out.status.success()) {
        &["prlimit", "--fsize=1048576", "--"]
    } else {
        eprintln!("prlimit is not available; the size of what is written is not limited");
        &[]
    };
    for engine in ["auto", "dom"] {
        let args = [
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "/dev/zero",
            "--output",
            "store.prom",
            "--engine",
            engine,
        ];
        let run = run_within(
            dir.path(),
            wrapper,
            &args,
            &[("TMPDIR", &tmp)],
            Duration::from_secs(20),
        );
        assert_eq!(run.code, 1, "--engine {engine}: stderr:\n{}", run.stderr);
        assert_eq!(
            run.stderr,
            "xml2prom: error: /dev/zero: not well-formed XML at line 1, column 1: the \
             character U+0000 is not allowed in XML 1.0\n",
            "--engine {engine}"
        );
        assert!(
            run.took < Duration::from_millis(1000),
            "--engine {engine}: took {:?}",
            run.took
        );
        eprintln!("--engine {engine}: /dev/zero refused in {:?}", run.took);
        assert_eq!(
            entries(&tmp),
            Vec::<String>::new(),
            "TMPDIR is left as it was"
        );
        assert_eq!(std::fs::read_to_string(&output).expect("output"), PREVIOUS);
    }
}

#[test]
fn a_fifo_cannot_pass_max_dom_bytes() {
    // Issue 10: --max-dom-bytes compared the metadata length, 0 for a FIFO, so any amount of
    // XML went into the DOM. The DOM's scan now counts the bytes it reads.
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(fifo) = fifo_in(dir.path(), "store.xml") else {
        eprintln!("mkfifo is not available; skipping");
        return;
    };
    std::fs::write(dir.path().join("rules.yaml"), SUM_RULES).expect("rules");
    std::fs::write(dir.path().join("store.prom"), PREVIOUS).expect("seed");
    let document = store(10_000, b'1');
    assert!(document.len() > 100_000);
    let writer = feed(&fifo, document);
    let args = [
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--output",
        "store.prom",
        "--engine",
        "dom",
        "--max-dom-bytes",
        "4096",
    ];
    let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(20));
    release(&fifo, writer);
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "xml2prom: error: store.xml: more than the DOM engine's limit of 4096 bytes was \
             read from the input (it needs about 5 times the file size in memory), and these \
             rules need the DOM engine: metrics[0] (streamable, but --engine dom);"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("raise --max-dom-bytes"),
        "{}",
        run.stderr
    );
    let previous = std::fs::read_to_string(dir.path().join("store.prom")).expect("output");
    assert_eq!(previous, PREVIOUS);

    // Within the limit, the same FIFO is read and evaluated.
    let writer = feed(&fifo, store(100, b'1'));
    let args = [
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--output",
        "-",
        "--engine",
        "dom",
        "--max-dom-bytes",
        "4096",
        "--no-self-metrics",
    ];
    let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(20));
    release(&fifo, writer);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_eq!(
        sum_in(&run.stdout).as_deref(),
        Some("100"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_store_rewritten_in_place_during_runs_never_gives_a_spliced_sum() {
    // Issue 10: an application that rewrites the store with pwrite (no truncate, same size)
    // while xml2prom reads it gave a well-formed mix of old and new rows: 10 runs of 10
    // reported a sum that was neither. Each run must now fail, or give the old or new sum.
    const ROWS: usize = 200_000;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), SUM_RULES).expect("rules");
    let old = store(ROWS, b'1');
    let new = store(ROWS, b'2');
    let path = dir.path().join("store.xml");
    std::fs::write(&path, &old).expect("store");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let path = path.clone();
        std::thread::spawn(move || {
            use std::os::unix::fs::FileExt;
            let file = File::options()
                .write(true)
                .open(path)
                .expect("open to write");
            let mut rewrites = 0_u64;
            while !stop.load(Ordering::SeqCst) {
                let content = if rewrites.is_multiple_of(2) {
                    &new
                } else {
                    &old
                };
                for (index, piece) in content.chunks(256 * 1024).enumerate() {
                    file.write_all_at(piece, (index * 256 * 1024) as u64)
                        .expect("pwrite");
                    std::thread::sleep(Duration::from_millis(1));
                }
                rewrites += 1;
            }
            rewrites
        })
    };
    let (old_sum, new_sum) = (ROWS.to_string(), (2 * ROWS).to_string());
    let mut outcomes = Vec::new();
    for engine in ["auto", "dom", "auto", "dom", "auto", "dom"] {
        std::fs::write(dir.path().join("store.prom"), PREVIOUS).expect("seed");
        let args = [
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output",
            "store.prom",
            "--engine",
            engine,
            "--no-self-metrics",
        ];
        let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(60));
        let written = std::fs::read_to_string(dir.path().join("store.prom")).expect("output");
        if run.code == 0 {
            let sum = sum_in(&written);
            assert!(
                sum.as_ref() == Some(&old_sum) || sum.as_ref() == Some(&new_sum),
                "--engine {engine}: a spliced sum {sum:?}, neither {old_sum} nor {new_sum}"
            );
            outcomes.push(format!("{engine}: {}", sum.unwrap_or_default()));
        } else {
            assert_eq!(run.code, 1, "--engine {engine}: stderr:\n{}", run.stderr);
            assert!(
                run.stderr.contains(
                    "xml2prom: error: store.xml: the input changed while it was read, so what \
                     was read may mix old and new content;"
                ),
                "--engine {engine}: {}",
                run.stderr
            );
            assert_eq!(
                written, PREVIOUS,
                "--engine {engine}: the previous output is kept"
            );
            outcomes.push(format!("{engine}: changed"));
        }
    }
    stop.store(true, Ordering::SeqCst);
    let rewrites = writer.join().expect("the writer");
    eprintln!("{rewrites} rewrites; outcomes: {outcomes:?}");
    assert!(rewrites > 2, "the writer must rewrite during the runs");
}

#[test]
fn a_store_changed_once_during_the_first_read_is_read_again_and_gives_the_new_sum() {
    // Issue 10: one in-place rewrite during a read is read once more, with fresh engines; the
    // run succeeds with the new content and says it read the input again.
    const ROWS: usize = 400_000;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rules.yaml"), SUM_RULES).expect("rules");
    let path = dir.path().join("store.xml");
    for engine in ["auto", "dom"] {
        std::fs::write(&path, store(ROWS, b'1')).expect("store");
        // With relatime, the first read after a write moves the access time: set it back, and
        // the writer sees when the run starts reading.
        let long_ago = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_times(std::fs::FileTimes::new().set_accessed(long_ago)))
            .expect("set the access time");
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                use std::os::unix::fs::FileExt;
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    let accessed = std::fs::metadata(&path).and_then(|m| m.accessed());
                    if accessed.is_ok_and(|time| time > long_ago) {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                let file = File::options().write(true).open(&path).expect("open");
                file.write_all_at(&store(ROWS, b'2'), 0).expect("pwrite");
            })
        };
        let args = [
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output",
            "-",
            "--engine",
            engine,
            "--no-self-metrics",
        ];
        let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(60));
        writer.join().expect("the writer");
        assert_eq!(run.code, 0, "--engine {engine}: stderr:\n{}", run.stderr);
        assert_eq!(
            sum_in(&run.stdout),
            Some((2 * ROWS).to_string()),
            "--engine {engine}"
        );
        assert_eq!(
            run.stderr,
            "xml2prom: warning: store.xml: the input changed while it was read; it was read \
             again (have the program that writes it write a new file and rename it over this \
             one)\n",
            "--engine {engine}"
        );
    }
}

#[test]
fn a_fifo_without_a_writer_fails_after_the_read_timeout_and_keeps_the_output() {
    // Issue 10: a FIFO input with no writer blocked the run forever, holding the output's lock.
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(_fifo) = fifo_in(dir.path(), "store.xml") else {
        eprintln!("mkfifo is not available; skipping");
        return;
    };
    std::fs::write(dir.path().join("rules.yaml"), SUM_RULES).expect("rules");
    std::fs::write(dir.path().join("store.prom"), PREVIOUS).expect("seed");
    let message = "store.xml: cannot read the file: nothing arrived for 1s; check that a \
                   program writes to it (a FIFO needs a writer), or raise --read-timeout\n";
    for engine in ["auto", "dom"] {
        let args = [
            "run",
            "--rules",
            "rules.yaml",
            "--input",
            "store.xml",
            "--output",
            "store.prom",
            "--engine",
            engine,
            "--read-timeout",
            "1s",
        ];
        let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(20));
        assert_eq!(run.code, 1, "--engine {engine}: stderr:\n{}", run.stderr);
        assert_eq!(run.stderr, format!("xml2prom: error: {message}"));
        assert!(
            run.took >= Duration::from_secs(1) && run.took < Duration::from_secs(5),
            "--engine {engine}: took {:?}",
            run.took
        );
        let previous = std::fs::read_to_string(dir.path().join("store.prom")).expect("output");
        assert_eq!(previous, PREVIOUS);
    }
    // explain reads its input with the same timeout.
    let args = [
        "explain",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "--read-timeout",
        "1s",
    ];
    let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(20));
    assert_eq!(run.code, 1, "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
}

#[test]
fn a_read_timeout_of_zero_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "run",
        "--rules",
        "rules.yaml",
        "--input",
        "store.xml",
        "-o",
        "-",
        "--read-timeout",
        "0s",
    ];
    let run = run_within(dir.path(), &[], &args, &[], Duration::from_secs(20));
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("the read timeout must be longer than zero"),
        "{}",
        run.stderr
    );
}
