//! XPath 1.0 semantics seen from the command line (issue 11); the cases themselves are the
//! `tests/cases/xpath_*` golden folders.

use crate::support::{root, xml2prom};

/// The sample lines of an exposition text, without xml2prom's own families.
fn samples(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with("xml2prom_"))
        .filter(|line| line.starts_with("store_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn explain_shows_number_fields_as_run_writes_them_into_labels() {
    let case = root().join("tests/cases/xpath_numbers_in_labels");
    let rules = case.join("rules.yaml");
    let input = case.join("store.xml");
    let run = xml2prom(
        &case,
        &[
            "run".as_ref(),
            "--rules".as_ref(),
            rules.as_os_str(),
            "--input".as_ref(),
            input.as_os_str(),
            "-o".as_ref(),
            "-".as_ref(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let explain = xml2prom(
        &case,
        &[
            "explain".as_ref(),
            "--rules".as_ref(),
            rules.as_os_str(),
            "--input".as_ref(),
            input.as_os_str(),
        ],
    );
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    let written = samples(&run.stdout);
    assert_eq!(written.len(), 1, "{}", run.stdout);
    assert!(
        written[0].contains(r#"inf="Infinity""#)
            && written[0].contains(r#"big="10000000000000000""#),
        "{}",
        written[0]
    );
    assert_eq!(samples(&explain.stdout), written, "{}", explain.stdout);
    assert!(
        explain.stdout.contains(r#"field inf = "Infinity""#),
        "{}",
        explain.stdout
    );
}
