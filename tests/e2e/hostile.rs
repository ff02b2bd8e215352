//! Hostile and broken inputs, generated here because they are large: each run must fail with
//! exit 1 and one clear line on stderr, quickly, never crash or hang, and leave the previous
//! output byte for byte as it was, with no temporary file behind.

use std::path::Path;

use crate::support::{entries, root, xml2prom};

const PREVIOUS: &str = "previous_run 1\n";

/// Runs the example rules on `input` (written to a temp dir) and checks the failure.
fn assert_refused(input: &[u8], extra_args: &[&str], expected: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.xml"), input).expect("write input");
    assert_refused_path(dir.path(), "store.xml", extra_args, expected)
}

/// Runs the example rules on `input` with each engine: both must refuse it the same way.
fn assert_refused_path(dir: &Path, input: &str, extra_args: &[&str], expected: &[&str]) -> String {
    let streaming = assert_refused_by(dir, input, extra_args, expected, "auto");
    let dom = assert_refused_by(dir, input, extra_args, expected, "dom");
    assert_eq!(streaming, dom, "the engines refuse the input differently");
    streaming
}

fn assert_refused_by(
    dir: &Path,
    input: &str,
    extra_args: &[&str],
    expected: &[&str],
    engine: &str,
) -> String {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let output = out_dir.path().join("store.prom");
    std::fs::write(&output, PREVIOUS).expect("seed");
    let rules = root().join("rules/store.yaml");
    let mut args = vec![
        "run".to_owned(),
        "--rules".to_owned(),
        rules.display().to_string(),
        "--input".to_owned(),
        input.to_owned(),
        "--output".to_owned(),
        output.display().to_string(),
        "--engine".to_owned(),
        engine.to_owned(),
    ];
    args.extend(extra_args.iter().map(|a| (*a).to_owned()));
    let outcome = xml2prom(dir, &args);
    assert_eq!(
        outcome.code, 1,
        "--engine {engine}: expected exit 1; stderr:\n{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.starts_with("xml2prom: error: ") && outcome.stderr.lines().count() == 1,
        "--engine {engine}: expected one error line, got:\n{}",
        outcome.stderr
    );
    for word in expected {
        assert!(
            outcome.stderr.contains(word),
            "--engine {engine}: expected {word:?} in:\n{}",
            outcome.stderr
        );
    }
    assert!(
        outcome.stderr.len() < 600,
        "the message is too long: {}",
        outcome.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&output).expect("still there"),
        PREVIOUS
    );
    assert_eq!(entries(out_dir.path()), [".store.prom.lock", "store.prom"]);
    outcome.stderr
}

#[test]
fn deep_nesting() {
    let depth = 1_000_000;
    let mut xml = "<a>".repeat(depth);
    xml.push_str(&"</a>".repeat(depth));
    assert_refused(xml.as_bytes(), &[], &["store.xml", "deep"]);
}

#[test]
fn many_attributes() {
    let attributes: String = (0..100_000).map(|i| format!(" a{i}=\"1\"")).collect();
    let xml = format!("<store{attributes}/>");
    assert_refused(xml.as_bytes(), &[], &["store.xml", "attributes"]);
}

#[test]
fn huge_attribute_value() {
    let xml = format!("<store><row kind=\"{}\"/></store>", "x".repeat(5 << 20));
    assert_refused(xml.as_bytes(), &[], &["store.xml", "attribute"]);
}

#[test]
fn huge_name() {
    let name = "n".repeat(5 << 20);
    let xml = format!("<{name}/>");
    assert_refused(xml.as_bytes(), &[], &["store.xml", "name"]);
}

#[test]
fn secret_content_is_not_echoed() {
    // An external entity: never fetched, and the error must not show the file's content.
    let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n\
               <store><row kind=\"TOPSECRET\">&x;</row></store>";
    let stderr = assert_refused(xml.as_bytes(), &[], &["store.xml", "entit"]);
    assert!(!stderr.contains("root:"), "{stderr}");
    assert!(!stderr.contains("TOPSECRET"), "{stderr}");
    let xml = "<store><row kind=\"TOPSECRET-TOPSECRET-TOPSECRET-TOPSECRET-TOPSECRET\" size=\"x\"/></store>";
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.xml"), xml).expect("write");
    let outcome = xml2prom(
        dir.path(),
        &[
            "run",
            "--rules",
            &root().join("rules/store.yaml").display().to_string(),
            "--input",
            "store.xml",
            "--output",
            "-",
        ],
    );
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("TOPSECRET"), "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty(), "nothing is written on error");
}

#[test]
fn utf16_with_bom() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "<store><row/></store>".encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    assert_refused(&bytes, &[], &["store.xml", "UTF-8"]);
}

#[test]
fn declared_latin1() {
    let xml =
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<store><row kind=\"caf\xe9\"/></store>";
    assert_refused(xml, &[], &["store.xml", "ISO-8859-1"]);
}

#[test]
fn invalid_utf8() {
    let xml = b"<store>\n<row kind=\"caf\xe9\"/>\n</store>";
    assert_refused(xml, &[], &["store.xml", "UTF-8", "line 2"]);
}

#[test]
fn binary_garbage() {
    // A deterministic pseudo-random byte soup.
    let mut state: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    assert_refused(&bytes, &[], &["store.xml"]);
}

#[test]
fn empty_file() {
    assert_refused(b"", &[], &["store.xml", "empty"]);
}

#[test]
fn too_large_for_the_limit() {
    let xml = format!("<store>{}</store>", "<row/>".repeat(1000));
    assert_refused(
        xml.as_bytes(),
        &["--max-input-bytes", "1000"],
        &["store.xml", "--max-input-bytes"],
    );
}

#[test]
fn input_missing_or_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_refused_path(dir.path(), "nope.xml", &[], &["nope.xml"]);
    std::fs::create_dir(dir.path().join("adir.xml")).expect("mkdir");
    assert_refused_path(dir.path(), "adir.xml", &[], &["adir.xml"]);
}

/// A million differently named children of one element: accepted, in linear time on both
/// engines (the streaming engine once counted sibling names in a list, quadratic here: minutes,
/// then killed by the run timeout). The one `row` among them is still found and named.
#[test]
fn a_million_distinct_sibling_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut xml = String::from("<store>");
    for i in 0..1_000_000 {
        xml.push_str(&format!("<e{i}/>"));
    }
    xml.push_str("<row id=\"1\" kind=\"a\" size=\"7\" status=\"ok\" latency=\"1\"/></store>");
    std::fs::write(dir.path().join("wide.xml"), xml).expect("write");
    let rules = root().join("rules/store.yaml");
    let mut outputs = Vec::new();
    for engine in ["auto", "dom"] {
        let outcome = xml2prom(
            dir.path(),
            &[
                "run",
                "--rules",
                &rules.display().to_string(),
                "--input",
                "wide.xml",
                "--output",
                "-",
                "--no-self-metrics",
                "--engine",
                engine,
            ],
        );
        assert_eq!(outcome.code, 0, "--engine {engine}: {}", outcome.stderr);
        assert!(
            outcome
                .stdout
                .contains("store_row_size_bytes{id=\"1\",kind=\"a\",path=\"wide.xml\"} 7\n"),
            "--engine {engine}:\n{}",
            outcome.stdout
        );
        outputs.push(outcome.stdout);
    }
    assert_eq!(outputs[0], outputs[1], "the engines disagree");
}
