//! Rule files bounded (issue 10) and every error of every rule (issue 11): hostile YAML fails
//! fast and small in every command that loads rules, a running `--every` loop keeps its rules on
//! SIGHUP, and `check` lists the errors of every rule in each format.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{root, xml2prom};

/// Each attack must fail within this time and memory.
const MAX_SECONDS: f64 = 1.0;
const MAX_RSS_KB: u64 = 64 * 1024;

/// A "billion laughs": ten levels of nine aliases each.
fn alias_bomb() -> String {
    let mut yaml =
        String::from("version: 1\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let items = vec![format!("*a{}", i - 1); 9].join(", ");
        yaml.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    yaml.push_str("metrics: *a9\n");
    yaml
}

/// The attacks of issue 10, each with the words of the limit its error must name.
fn attacks() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "alias bomb",
            alias_bomb(),
            "aliases (`*name`) expand to more than",
        ),
        (
            "nested block sequences",
            format!("version: 1\nmetrics:\n{}x\n", "- ".repeat(50_000)),
            "nested deeper than 64 levels",
        ),
        (
            "nested flow sequences",
            format!("version: 1\nmetrics: {}\n", "[".repeat(200_000)),
            "nested deeper than 64 levels",
        ),
    ]
}

struct Measured {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    seconds: f64,
    rss_kb: Option<u64>,
}

/// Runs `xml2prom ARGS` in `dir` under `/usr/bin/time` when installed, for its peak memory.
fn measure(dir: &Path, args: &[&str]) -> Measured {
    let time = Path::new("/usr/bin/time");
    let report = dir.join("time.txt");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(env!("CARGO_BIN_EXE_xml2prom"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_xml2prom"))
    };
    let started = Instant::now();
    let output = command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("xml2prom runs");
    let seconds = started.elapsed().as_secs_f64();
    let rss_kb = std::fs::read_to_string(&report)
        .ok()
        .and_then(|text| text.lines().last().and_then(|l| l.trim().parse().ok()));
    Measured {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        seconds,
        rss_kb,
    }
}

fn assert_bounded(what: &str, outcome: &Measured, words: &str) {
    let text = format!("{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(outcome.code, Some(2), "{what}: {text}");
    assert!(text.contains(words), "{what}: {text}");
    assert!(
        outcome.seconds < MAX_SECONDS,
        "{what}: took {:.2} s",
        outcome.seconds
    );
    if let Some(rss) = outcome.rss_kb {
        assert!(rss < MAX_RSS_KB, "{what}: {rss} KB");
    }
    assert!(
        text.len() < 8192,
        "{what}: {} bytes of messages",
        text.len()
    );
}

/// Issue 10: each attack fails within 1 s and 64 MiB, naming the limit, in `check`, `run`,
/// `test` and `serve`.
#[test]
fn hostile_yaml_fails_fast_and_small_in_every_command() {
    for (name, yaml, words) in attacks() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rules.yaml"), &yaml).expect("rules");
        std::fs::write(dir.path().join("store.xml"), "<store/>").expect("store");
        std::fs::write(
            dir.path().join("store.test.yaml"),
            "rules: rules.yaml\ntests:\n  - name: t\n    input: <store/>\n    expect: ''\n",
        )
        .expect("test file");
        let commands: [&[&str]; 4] = [
            &["check", "rules.yaml"],
            &[
                "run",
                "--rules",
                "rules.yaml",
                "--input",
                "store.xml",
                "-o",
                "-",
            ],
            &["test", "store.test.yaml"],
            &[
                "serve",
                "--rules",
                "rules.yaml",
                "--input",
                "store.xml",
                "--listen",
                "127.0.0.1:0",
            ],
        ];
        for args in commands {
            let outcome = measure(dir.path(), args);
            assert_bounded(&format!("{name}, {}", args[0]), &outcome, words);
        }
    }
}

/// Issue 10: a rule file that never ends is refused at 16 MiB without reading more.
#[test]
fn a_device_as_rule_file_is_refused_at_the_size_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = measure(dir.path(), &["check", "/dev/zero"]);
    assert_bounded("/dev/zero", &outcome, "larger than 16 MiB");
    let big = dir.path().join("big.yaml");
    let mut text = String::from("version: 1\nmetrics: []\n");
    text.push_str(&"#".repeat(17 << 20));
    std::fs::write(&big, text).expect("big file");
    let outcome = measure(dir.path(), &["check", "big.yaml"]);
    assert_bounded("a 17 MiB file", &outcome, "error[too-large]");
}

/// Issue 10: on SIGHUP with an alias bomb, a running `--every` loop says so and keeps running
/// with the rules it had.
#[test]
fn sighup_with_an_alias_bomb_keeps_the_old_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nmetrics:\n  - { name: store_rows, help: Rows, type: gauge, value: \
         count(/store/row) }\n",
    )
    .expect("rules");
    std::fs::write(dir.path().join("store.xml"), "<store><row/></store>").expect("store");
    let stderr = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(["run", "--rules", "rules.yaml", "--input", "store.xml"])
        .args(["--output", "out.prom", "--every", "1s"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("xml2prom starts");
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    };
    let out = dir.path().join("out.prom");
    wait_for("the first write", &|| out.exists());
    std::fs::write(&rules, alias_bomb()).expect("bomb");
    let kill = |signal: &str| {
        Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("kill runs")
    };
    assert!(kill("HUP").success());
    wait_for("the refused reload", &|| {
        std::fs::read_to_string(&stderr)
            .is_ok_and(|text| text.contains("the rules loaded before keep running"))
    });
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(
        log.contains("aliases (`*name`) expand to more than"),
        "{log}"
    );
    // The loop still writes with the old rules.
    std::fs::remove_file(&out).expect("remove the output");
    wait_for("a write after the reload", &|| out.exists());
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(written.contains("store_rows 1"), "{written}");
    assert!(kill("TERM").success());
    let status = child.wait().expect("it ends");
    assert_eq!(status.code(), Some(0));
}

const THREE: &str = "tests/cases/rule_three_errors_in_three_rules/rules.yaml";

/// Issue 11: one bad key in one rule does not hide a bad metric name in another, a broken
/// XPath in a third, or a key at the wrong level in a fourth, in every format of `check`.
#[test]
fn check_reports_every_rule_in_every_format() {
    let human = xml2prom(&root(), &["check", THREE]);
    assert_eq!(human.code, 2);
    assert!(
        human
            .stdout
            .ends_with("xml2prom: checked 1 rule file: 4 errors, 0 warnings\n"),
        "{}",
        human.stdout
    );
    for needle in [
        "6:5: error[unknown-key]",
        "= help: did you mean `value`?",
        "7:11: error[bad-value]: metrics[1].name",
        "14:12: error[bad-value]: metrics[2].value",
        "= help: `map` belongs under `convert:`",
    ] {
        assert!(human.stdout.contains(needle), "{needle}: {}", human.stdout);
    }

    let json = xml2prom(&root(), &["check", "--format", "json", THREE]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed["errors"], 4);
    let lines: Vec<u64> = parsed["diagnostics"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["line"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(lines, [6, 7, 14, 20]);
    assert_eq!(parsed["diagnostics"][0]["help"], "did you mean `value`?");

    let github = xml2prom(&root(), &["check", "--format", "github", THREE]);
    let annotations: Vec<&str> = github.stdout.lines().collect();
    assert_eq!(annotations.len(), 4, "{}", github.stdout);
    assert!(
        annotations[2].starts_with("::error file="),
        "{}",
        annotations[2]
    );
    assert!(
        annotations[2].contains("line=14,col=12"),
        "{}",
        annotations[2]
    );
}

/// Issue 11: a huge value is shown shortened in a rule-file error, never echoed whole.
#[test]
fn huge_values_are_shortened_in_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "x-".repeat(2_500_000);
    let yaml = format!(
        "version: 1\nmetrics:\n  - name: {name}\n    help: h\n    type: gauge\n    value: '1'\n"
    );
    std::fs::write(dir.path().join("rules.yaml"), yaml).expect("rules");
    let outcome = xml2prom(dir.path(), &["check", "rules.yaml"]);
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stdout.len() < 4096,
        "{} bytes",
        outcome.stdout.len()
    );
    assert!(
        outcome.stdout.contains("(4999880 more characters)"),
        "{}",
        outcome.stdout
    );
}
