//! `xml2prom explain`: the debug view, as text (compared with `tests/explain/`), as JSON, with
//! colours only when asked for.

use crate::support::{assert_matches_file, root, xml2prom};

fn explain(args: &[&str]) -> crate::support::Outcome {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    xml2prom(&root(), &all)
}

#[test]
fn text_view_of_a_rule_with_skips() {
    let outcome = explain(&[
        "--rules",
        "rules/backup.yaml",
        "--input",
        "rules/examples/backup-lyon.xml",
        "--metric",
        "backup_job_transferred_bytes",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(!outcome.stdout.contains('\u{1b}'), "no colour when piped");
    assert_matches_file(
        &root().join("tests/explain/lyon_transferred.txt"),
        &outcome.stdout,
    );
}

#[test]
fn text_view_of_every_rule_with_a_limit() {
    let outcome = explain(&[
        "--rules",
        "rules/store.yaml",
        "--input",
        "rules/examples/store.xml",
        "--limit",
        "2",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_matches_file(
        &root().join("tests/explain/store_limit_2.txt"),
        &outcome.stdout,
    );
}

#[test]
fn json_view() {
    let outcome = explain(&[
        "--rules",
        "rules/store.yaml",
        "--input",
        "rules/examples/store.xml",
        "--metric",
        "store_rows",
        "--format",
        "json",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let value: serde_json::Value = serde_json::from_str(&outcome.stdout).expect("valid JSON");
    let rules = value["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["metric"], "store_rows");
    assert_eq!(rules[0]["matched"], 6);
    assert_eq!(rules[0]["nodes"].as_array().map(Vec::len), Some(5));
    assert_eq!(rules[0]["nodes"][0]["path"], "/store/row[1]");
    assert_eq!(
        rules[0]["samples"][2],
        "store_rows{kind=\"order\",path=\"rules/examples/store.xml\"} 3"
    );
}

#[test]
fn colours_only_when_forced_and_never_with_no_color() {
    let args = [
        "explain",
        "--rules",
        "rules/store.yaml",
        "--input",
        "rules/examples/store.xml",
    ];
    let forced = crate::support::xml2prom_with_env(
        &root(),
        &args,
        &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
    );
    assert!(forced.stdout.contains("\u{1b}[1m"), "{}", forced.stdout);
    let no_color = crate::support::xml2prom_with_env(&root(), &args, &[("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains('\u{1b}'));
}

#[test]
fn a_broken_input_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("broken.xml");
    std::fs::write(&input, "<store><row></store>").expect("write");
    let rules = root().join("rules/store.yaml");
    let outcome = xml2prom(
        dir.path(),
        &[
            "explain",
            "--rules",
            &rules.display().to_string(),
            "--input",
            "broken.xml",
        ],
    );
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.starts_with("xml2prom: error: broken.xml: "),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_rule_scoped_to_other_inputs_says_so_and_reads_nothing() {
    let case = "tests/cases/rules_scoped_to_inputs";
    let rules = format!("{case}/rules.yaml");
    let input = format!("{case}/zones.xml");
    let outcome = explain(&["--rules", &rules, "--input", &input, "--format", "json"]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let view: serde_json::Value = serde_json::from_str(&outcome.stdout).expect("JSON");
    let rules = view["rules"].as_array().expect("rules");
    let engine = |metric: &str| {
        rules
            .iter()
            .find(|rule| rule["metric"] == metric)
            .map(|rule| (rule["engine"].clone(), rule["nodes"].clone()))
            .expect("the rule is listed")
    };
    let (scoped, nodes) = engine("bind_incoming_requests_total");
    assert_eq!(
        scoped,
        "none: the rule reads only the inputs `inputs: [server.xml]` names, not this one"
    );
    assert_eq!(nodes, serde_json::json!([]));
    let (read, nodes) = engine("bind_zone_serial");
    assert_eq!(read, "streaming engine");
    assert_eq!(nodes.as_array().map(Vec::len), Some(2));
}

#[test]
fn explain_warns_as_check_input_does() {
    let outcome = explain(&[
        "--rules",
        "tests/check/samples.yaml",
        "--input",
        "tests/check/samples/store.xml",
        "--format",
        "json",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let view: serde_json::Value = serde_json::from_str(&outcome.stdout).expect("JSON");
    let warnings: Vec<&str> = view["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    for code in ["[matches-nothing]", "[label-always-empty]", "[nan-value]"] {
        assert_eq!(
            warnings.iter().filter(|w| w.ends_with(code)).count(),
            1,
            "{code}: {warnings:?}"
        );
    }
    assert!(
        warnings.iter().all(|w| !w.contains("store_failed_rows")),
        "allowed: {warnings:?}"
    );
}

/// A templated name: each node shows the name it rendered, the samples are those of every
/// family the rule rendered, and `--metric` finds the rule by a rendered name.
#[test]
fn text_view_of_a_templated_name() {
    let outcome = explain(&[
        "--rules",
        "rules/fritzbox.yaml",
        "--input",
        "rules/examples/fritzbox-wan-common-link-properties.xml",
        "--metric",
        "fritzbox_wan_layer1_upstream_max_bit_rate",
    ]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_matches_file(
        &root().join("tests/explain/fritzbox_templated_name.txt"),
        &outcome.stdout,
    );
    let json = explain(&[
        "--rules",
        "rules/fritzbox.yaml",
        "--input",
        "rules/examples/fritzbox-wlan-total-associations.xml",
        "--metric",
        "fritzbox_wlan_total_associations",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert!(
        json.stdout
            .contains("\"name\": \"fritzbox_wlan_total_associations\""),
        "{}",
        json.stdout
    );
}
