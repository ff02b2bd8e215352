//! The deployment recipes and the monitoring kit under `deploy/`, tested as far as this machine
//! allows: each recipe's command line is run with the real binary against the bundled example,
//! in a temporary directory laid out like the machine or pod the recipe describes; the files are
//! checked by the tools made for them when installed (`systemd-analyze verify`, `kubectl`,
//! `promtool`, node_exporter), with a notice when one is absent. Docker cannot build here (no
//! daemon), so the Dockerfile is checked for consistency: stages, user, copied paths, context.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;
use serde::Deserialize;
use serde_yaml::Value;

use crate::golden::assert_accepted_everywhere;
use crate::interop::{promtool, scrape_textfile_dir};
use crate::support::{entries, root};

/// How long an external checker (`systemd-analyze`, `kubectl`) may run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a `--every` loop may take to write its first files.
const FIRST_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a `--every` loop may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn deploy(path: &str) -> PathBuf {
    root().join("deploy").join(path)
}

/// Prints why a check that needs an optional tool did not run. These tools are not part of CI's
/// install (`.ci/run`), so their absence is never an error.
fn skip(message: &str) {
    eprintln!("skipping: {message}");
}

/// Runs a program to its end (at most [`TOOL_TIMEOUT`]), or None if it is not installed.
fn run_tool(program: &str, args: &[&str], dir: &Path) -> Option<(ExitStatus, String, String)> {
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(child) => Some(wait_bounded(child, TOOL_TIMEOUT, program)),
        Err(error) if error.kind() == ErrorKind::NotFound => None,
        Err(error) => panic!("cannot start {program}: {error}"),
    }
}

/// Waits for a child with piped stdout and stderr, killing it after `timeout`.
fn wait_bounded(mut child: Child, timeout: Duration, what: &str) -> (ExitStatus, String, String) {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status,
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

// ---------------------------------------------------------------------------------------------
// Running a recipe's command line

/// A temporary directory standing for the root of the machine or container of a recipe: the
/// absolute paths of the recipe's command line are taken below it.
struct FakeRoot {
    dir: tempfile::TempDir,
}

impl FakeRoot {
    fn new() -> FakeRoot {
        FakeRoot {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `/etc/x` -> `ROOT/etc/x`; anything else unchanged.
    fn path(&self, path: &str) -> PathBuf {
        match path.strip_prefix('/') {
            Some(relative) => self.dir.path().join(relative),
            None => PathBuf::from(path),
        }
    }

    /// An argument with its absolute path (alone, or after `=`) moved below the root.
    fn arg(&self, arg: &str) -> String {
        if arg.starts_with('/') {
            return self.path(arg).display().to_string();
        }
        match arg.split_once("=/") {
            Some((flag, path)) if flag.starts_with("--") => {
                format!("{flag}={}", self.path(&format!("/{path}")).display())
            }
            _ => arg.to_owned(),
        }
    }

    /// Lays out what `xml2prom ARGS` needs: the rule file (from `rules`, or the bundled one if
    /// the recipe provides none), the bundled example store at the input, and the output
    /// directories.
    fn prepare(&self, args: &[String], rules: Option<&str>) {
        let rules_path = self.path(flag_value(args, "--rules"));
        if !rules_path.exists() {
            let text = rules.map_or_else(|| read(&root().join("rules/store.yaml")), str::to_owned);
            write_creating(&rules_path, &text);
        }
        let store = read(&root().join("rules/examples/store.xml"));
        write_creating(&self.path(flag_value(args, "--input")), &store);
        for flag in ["--output-dir"] {
            if let Some(dir) = optional_flag_value(args, flag) {
                std::fs::create_dir_all(self.path(dir)).expect("output dir");
            }
        }
        for flag in ["--output", "--status-file"] {
            if let Some(file) = optional_flag_value(args, flag) {
                let parent = self.path(file).parent().map(Path::to_path_buf);
                std::fs::create_dir_all(parent.expect("a file has a directory")).expect("dir");
            }
        }
    }
}

fn write_creating(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a file has a directory")).expect("dir");
    std::fs::write(path, text).expect("write");
}

fn optional_flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> &'a str {
    optional_flag_value(args, flag).unwrap_or_else(|| panic!("{flag} missing in {args:?}"))
}

/// Whether the built binary has `run --every` (a loop until SIGTERM).
fn binary_has_every() -> bool {
    let (_, help, _) = run_tool(env!("CARGO_BIN_EXE_xml2prom"), &["run", "--help"], &root())
        .expect("the binary runs");
    help.contains("--every")
}

/// Runs the binary with a recipe's arguments (after the program name) below `fake`, and checks
/// that it wrote every output the arguments name, each accepted by promtool and node_exporter.
///
/// A loop (`--every`) is stopped with SIGTERM once its first files are there, and must exit 0.
/// On a build without `--every`, the loop's other arguments run once instead, with a notice.
fn run_recipe(what: &str, fake: &FakeRoot, args: &[String]) {
    let mut args: Vec<String> = args.iter().map(|a| fake.arg(a)).collect();
    let outputs = expected_outputs(&args);
    let every = args.iter().position(|a| a == "--every");
    let binary = env!("CARGO_BIN_EXE_xml2prom");
    match every {
        Some(_) if binary_has_every() => {
            let mut child = Command::new(binary)
                .args(&args)
                .current_dir(fake.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the binary starts");
            let start = Instant::now();
            while !outputs.iter().all(|p| p.exists()) {
                if start.elapsed() > FIRST_WRITE_TIMEOUT
                    || child.try_wait().ok().flatten().is_some()
                {
                    let _ = child.kill();
                    let (status, out, err) = wait_bounded(child, STOP_TIMEOUT, what);
                    panic!("{what}: {args:?} wrote no {outputs:?} ({status}):\n{out}{err}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let pid = child.id().to_string();
            let killed = Command::new("kill").args(["-TERM", &pid]).status();
            assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
            let (status, _, stderr) = wait_bounded(child, STOP_TIMEOUT, what);
            assert_eq!(status.code(), Some(0), "{what}: after SIGTERM:\n{stderr}");
        }
        Some(i) => {
            skip(&format!(
                "{what}: this build has no `run --every`; running its other arguments once"
            ));
            args.drain(i..(i + 2).min(args.len()));
            run_once(what, fake, &args);
        }
        None => run_once(what, fake, &args),
    }
    for output in &outputs {
        let text = read(output);
        let dir = output.parent().expect("a file has a directory");
        assert_accepted_everywhere(what, &text, dir);
    }
}

fn run_once(what: &str, fake: &FakeRoot, args: &[String]) {
    let child = Command::new(env!("CARGO_BIN_EXE_xml2prom"))
        .args(args)
        .current_dir(fake.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let (status, _, stderr) = wait_bounded(child, TOOL_TIMEOUT, what);
    assert_eq!(
        status.code(),
        Some(0),
        "{what}: xml2prom {args:?}:\n{stderr}"
    );
    assert_eq!(stderr, "", "{what}");
}

/// The files a run with these (rebased) arguments must write: `--output`, `--status-file`, and
/// `store.prom` in `--output-dir` (the bundled example's input is always `store.xml`).
fn expected_outputs(args: &[String]) -> Vec<PathBuf> {
    let mut outputs = Vec::new();
    if let Some(dir) = optional_flag_value(args, "--output-dir") {
        let input = Path::new(flag_value(args, "--input"));
        let stem = input.file_stem().expect("input has a name");
        outputs.push(Path::new(dir).join(format!("{}.prom", stem.to_string_lossy())));
    }
    for flag in ["--output", "--status-file"] {
        if let Some(file) = optional_flag_value(args, flag) {
            outputs.push(PathBuf::from(file));
        }
    }
    assert!(!outputs.is_empty(), "{args:?} writes nothing");
    outputs
}

// ---------------------------------------------------------------------------------------------
// systemd

const UNITS: [&str; 3] = [
    "xml2prom.service",
    "xml2prom.timer",
    "xml2prom-loop.service",
];

/// The `key=value` settings of one section of a unit file, in order (a key may repeat).
fn unit_settings(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut settings = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(!line.ends_with('\\'), "no continuation lines: {line}");
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section {
            let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("{line}"));
            settings.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    settings
}

fn unit_value(text: &str, section: &str, key: &str) -> Option<String> {
    unit_settings(text, section)
        .into_iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn unit(name: &str) -> String {
    read(&deploy("systemd").join(name))
}

/// ExecStart split into words, as systemd does for a line without quotes, escapes or `$`
/// (asserted, so that the split is faithful).
fn exec_start(text: &str) -> Vec<String> {
    let line = unit_value(text, "Service", "ExecStart").expect("ExecStart");
    assert!(
        !line.contains(['"', '\'', '\\', '$', '%', ';']),
        "keep ExecStart free of quotes, escapes and specifiers: {line}"
    );
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_systemd_units_run_the_bundled_example() {
    for name in ["xml2prom.service", "xml2prom-loop.service"] {
        let text = unit(name);
        let words = exec_start(&text);
        assert_eq!(words[0], "/usr/local/bin/xml2prom", "{name}");
        let args = &words[1..];
        assert_eq!(args[0], "run", "{name}");
        let fake = FakeRoot::new();
        fake.prepare(args, None);
        run_recipe(name, &fake, args);
    }
}

#[test]
fn the_systemd_units_are_hardened_and_may_write_what_they_write() {
    for name in ["xml2prom.service", "xml2prom-loop.service"] {
        let text = unit(name);
        for (key, value) in [
            ("DynamicUser", "yes"),
            ("ProtectSystem", "strict"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"),
            ("ProtectHome", "yes"),
            ("UMask", "0022"),
        ] {
            assert_eq!(
                unit_value(&text, "Service", key).as_deref(),
                Some(value),
                "{name}: {key}"
            );
        }
        // ProtectSystem=strict makes everything read-only but ReadWritePaths: each directory
        // the command writes into must be listed, or every run fails with a write error.
        let writable = unit_value(&text, "Service", "ReadWritePaths").expect("ReadWritePaths");
        let writable: Vec<&str> = writable.split_whitespace().collect();
        let args = exec_start(&text);
        let mut written = vec![flag_value(&args, "--output-dir").to_owned()];
        let status = Path::new(flag_value(&args, "--status-file"));
        written.push(status.parent().expect("dir").display().to_string());
        for dir in written {
            assert!(
                writable.iter().any(|w| Path::new(&dir).starts_with(w)),
                "{name}: writes into {dir}, not in ReadWritePaths {writable:?}"
            );
        }
    }
    let oneshot = unit("xml2prom.service");
    assert_eq!(
        unit_value(&oneshot, "Service", "Type").as_deref(),
        Some("oneshot")
    );
    let timer = unit("xml2prom.timer");
    assert_eq!(
        unit_value(&timer, "Timer", "Persistent").as_deref(),
        Some("true")
    );
    assert!(unit_value(&timer, "Timer", "OnCalendar").is_some());
    // The timer starts the unit of its own name unless it says otherwise.
    assert_eq!(unit_value(&timer, "Timer", "Unit"), None);
    let looping = unit("xml2prom-loop.service");
    assert_eq!(
        unit_value(&looping, "Service", "Type").as_deref(),
        Some("simple")
    );
    assert_eq!(
        unit_value(&looping, "Service", "ExecReload").as_deref(),
        Some("/bin/kill -HUP $MAINPID")
    );
    assert!(exec_start(&looping).contains(&"--every".to_owned()));
}

/// `systemd-analyze verify` on copies of the units whose ExecStart is the built binary (verify
/// refuses a unit whose program does not exist).
#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in UNITS {
        let text = unit(name).replace("/usr/local/bin/xml2prom", env!("CARGO_BIN_EXE_xml2prom"));
        std::fs::write(dir.path().join(name), text).expect("write unit");
    }
    let mut args = vec!["verify", "--man=no"];
    args.extend(UNITS);
    let Some((status, stdout, stderr)) = run_tool("systemd-analyze", &args, dir.path()) else {
        skip("systemd-analyze not found; the unit files were not verified");
        return;
    };
    // verify reports unknown keys and bad values on stderr but still exits 0: both must be clean.
    assert!(
        status.success() && stdout.is_empty() && stderr.is_empty(),
        "systemd-analyze verify ({status}):\n{stdout}{stderr}"
    );
    // And it does catch a mistake.
    std::fs::write(
        dir.path().join("xml2prom.service"),
        unit("xml2prom.service").replace("ProtectSystem=", "ProtectSystems="),
    )
    .expect("write");
    let (_, stdout, stderr) =
        run_tool("systemd-analyze", &args, dir.path()).expect("ran just before");
    assert!(stderr.contains("ProtectSystems"), "{stdout}{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Docker

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = String::new();
    let mut instructions = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && joined.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                joined.push_str(part);
                joined.push(' ');
            }
            None => {
                joined.push_str(trimmed);
                let (keyword, rest) = joined.split_once(' ').unwrap_or((&joined, ""));
                instructions.push((keyword.to_uppercase(), rest.trim().to_owned()));
                joined.clear();
            }
        }
    }
    instructions
}

/// Whether `.dockerignore` keeps `path` in the build context (last matching pattern wins).
fn in_docker_context(ignore: &str, path: &str) -> bool {
    let mut kept = true;
    for line in ignore.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keep, pattern) = match line.strip_prefix('!') {
            Some(pattern) => (true, pattern),
            None => (false, line),
        };
        let pattern = pattern.trim_end_matches('/');
        let glob = glob::Pattern::new(pattern).expect("a .dockerignore pattern");
        let matches = glob.matches(path)
            || Path::new(path)
                .ancestors()
                .any(|a| glob.matches(&a.display().to_string()));
        if matches {
            kept = keep;
        }
    }
    kept
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_the_binary_as_nonroot_in_another() {
    let instructions = dockerfile_instructions(&read(&deploy("docker/Dockerfile")));
    let ignore = read(&root().join(".dockerignore"));
    let mut stages: Vec<(String, String)> = Vec::new(); // (name, image)
    let mut workdirs: BTreeMap<String, String> = BTreeMap::new();
    let mut user_of_last = None;
    let mut copied_binary = None;
    let mut built = false;
    for (keyword, rest) in &instructions {
        let stage = stages
            .last()
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        match keyword.as_str() {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                assert!(
                    words.len() == 3 && words[1].eq_ignore_ascii_case("AS"),
                    "{rest}"
                );
                stages.push((words[2].to_owned(), words[0].to_owned()));
                user_of_last = None;
            }
            "WORKDIR" => {
                workdirs.insert(stage, rest.clone());
            }
            "USER" => user_of_last = Some(rest.clone()),
            "RUN" if rest.contains("cargo build") => {
                assert!(
                    rest.contains("--release") && rest.contains("--locked"),
                    "{rest}"
                );
                assert!(rest.contains("--bin xml2prom"), "{rest}");
                built = true;
            }
            "COPY" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let Some(from) = words[0].strip_prefix("--from=") {
                    let (source, target) = (words[1], words[2]);
                    assert!(
                        stages[..stages.len() - 1].iter().any(|(n, _)| n == from),
                        "COPY --from={from}: no earlier stage of that name"
                    );
                    let workdir = workdirs.get(from).expect("the build stage sets WORKDIR");
                    assert_eq!(
                        source,
                        format!("{workdir}/target/release/xml2prom"),
                        "the binary cargo builds in stage {from}"
                    );
                    copied_binary = Some(target.to_owned());
                } else {
                    for source in &words[..words.len() - 1] {
                        let source = source.trim_start_matches("./").trim_end_matches('/');
                        assert!(root().join(source).exists(), "COPY {source}: no such file");
                        assert!(
                            in_docker_context(&ignore, source),
                            "COPY {source}: left out of the build context by .dockerignore"
                        );
                    }
                }
            }
            _ => {}
        }
    }
    assert!(built, "no cargo build");
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].1.starts_with("rust:1-bookworm"), "{stages:?}");
    let runtime = &stages[1].1;
    assert!(
        runtime.starts_with("gcr.io/distroless/") || runtime.contains("-slim"),
        "{runtime}"
    );
    let user = user_of_last.expect("the runtime stage sets USER");
    let user_name = user.split(':').next().unwrap_or_default();
    assert!(!["root", "0", ""].contains(&user_name), "USER {user}");
    let binary = copied_binary.expect("the runtime stage copies the binary");
    let entrypoint = instructions
        .iter()
        .rev()
        .find(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, rest)| rest.clone())
        .expect("ENTRYPOINT");
    // Exec form: no shell in a distroless image to run a shell form.
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint).expect("exec form");
    assert_eq!(entrypoint, [binary]);
    // Nothing but what the build needs goes into the context.
    for path in [
        "target/release/xml2prom",
        "tests/cases",
        ".git/HEAD",
        "bench/run.py",
    ] {
        assert!(
            !in_docker_context(&ignore, path),
            "{path} is in the context"
        );
    }
}

#[test]
fn dockerignore_matching_follows_the_last_pattern() {
    let ignore = "*\n!src/\n!rules/store.yaml\n";
    assert!(in_docker_context(ignore, "src/main.rs"));
    assert!(in_docker_context(ignore, "rules/store.yaml"));
    assert!(!in_docker_context(ignore, "rules/backup.yaml"));
    assert!(!in_docker_context(ignore, "target"));
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

const MANIFESTS: [&str; 4] = [
    "configmap.yaml",
    "cronjob.yaml",
    "sidecar.yaml",
    "kustomization.yaml",
];

fn documents(name: &str) -> Vec<Value> {
    let text = read(&deploy("kubernetes").join(name));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: not YAML: {e}")))
        .collect()
}

fn get<'a>(value: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(value, |v, key| &v[key])
}

fn str_at<'a>(value: &'a Value, path: &str) -> &'a str {
    get(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string in {value:?}"))
}

/// Every Kubernetes object of the recipes.
fn objects() -> Vec<(&'static str, Value)> {
    MANIFESTS
        .iter()
        .filter(|name| **name != "kustomization.yaml")
        .flat_map(|name| documents(name).into_iter().map(move |doc| (*name, doc)))
        .collect()
}

/// The pod spec of a workload, if it is one.
fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "CronJob" => Some(get(object, "spec.jobTemplate.spec.template.spec")),
        "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => {
            Some(get(object, "spec.template.spec"))
        }
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|seq| {
            seq.iter()
                .map(|v| v.as_str().expect("a string argument").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn sequence(value: &Value) -> &[Value] {
    value.as_sequence().map_or(&[], Vec::as_slice)
}

#[test]
fn every_kubernetes_document_is_an_object() {
    let objects = objects();
    assert!(objects.len() >= 5, "{}", objects.len());
    for (file, object) in &objects {
        for field in ["apiVersion", "kind", "metadata.name"] {
            assert!(
                !str_at(object, field).is_empty(),
                "{file}: {field} is empty"
            );
        }
    }
    let kinds: BTreeSet<&str> = objects.iter().map(|(_, o)| str_at(o, "kind")).collect();
    for kind in [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    let kustomization = &documents("kustomization.yaml")[0];
    for resource in strings(&kustomization["resources"]) {
        assert!(MANIFESTS.contains(&resource.as_str()), "{resource}");
    }
}

#[test]
fn the_rules_configmap_is_the_bundled_rule_file() {
    let objects = objects();
    let (_, configmap) = objects
        .iter()
        .find(|(_, o)| o["kind"] == "ConfigMap")
        .expect("a ConfigMap");
    assert_eq!(
        configmap["data"]["store.yaml"].as_str(),
        Some(read(&root().join("rules/store.yaml")).as_str()),
        "deploy/kubernetes/configmap.yaml differs from rules/store.yaml"
    );
}

#[test]
fn every_workload_runs_non_root_on_a_read_only_root() {
    for (file, object) in objects() {
        let Some(spec) = pod_spec(&object) else {
            continue;
        };
        let pod_security = &spec["securityContext"];
        assert_eq!(pod_security["runAsNonRoot"], Value::Bool(true), "{file}");
        for container in sequence(&spec["containers"]) {
            let name = str_at(container, "name");
            if name == "app" {
                continue; // the user's own application
            }
            let security = &container["securityContext"];
            assert_eq!(
                security["readOnlyRootFilesystem"],
                Value::Bool(true),
                "{file} {name}"
            );
            assert_eq!(
                security["allowPrivilegeEscalation"],
                Value::Bool(false),
                "{file} {name}"
            );
            assert!(
                get(container, "resources.limits.memory").is_string(),
                "{file} {name}: no memory limit"
            );
        }
        if object["kind"] == "CronJob" {
            assert_eq!(str_at(&object, "spec.concurrencyPolicy"), "Forbid");
        }
    }
}

/// Lays out a pod below `fake`: each volume is a directory, linked at every container's mount
/// path; a ConfigMap volume holds the ConfigMap's files.
fn lay_out_pod(fake: &FakeRoot, spec: &Value, configmaps: &BTreeMap<String, Value>) {
    let volumes = fake.dir.path().join(".volumes");
    for volume in sequence(&spec["volumes"]) {
        let name = str_at(volume, "name");
        let dir = volumes.join(name);
        std::fs::create_dir_all(&dir).expect("volume dir");
        if let Some(configmap) = volume["configMap"]["name"].as_str() {
            let data = configmaps
                .get(configmap)
                .unwrap_or_else(|| panic!("no ConfigMap {configmap} in the recipes"));
            for (key, text) in data.as_mapping().expect("data") {
                let key = key.as_str().expect("key");
                std::fs::write(dir.join(key), text.as_str().expect("text")).expect("write");
            }
        }
    }
    for container in sequence(&spec["containers"]) {
        for mount in sequence(&container["volumeMounts"]) {
            let at = fake.path(str_at(mount, "mountPath"));
            if at.exists() {
                continue; // another container mounts the same volume at the same path
            }
            std::fs::create_dir_all(at.parent().expect("parent")).expect("dir");
            std::os::unix::fs::symlink(volumes.join(str_at(mount, "name")), &at).expect("mount");
        }
    }
}

#[test]
fn the_kubernetes_workloads_run_the_bundled_example() {
    let objects = objects();
    let configmaps: BTreeMap<String, Value> = objects
        .iter()
        .filter(|(_, o)| o["kind"] == "ConfigMap")
        .map(|(_, o)| (str_at(o, "metadata.name").to_owned(), o["data"].clone()))
        .collect();
    let mut ran = 0;
    for (file, object) in &objects {
        let Some(spec) = pod_spec(object) else {
            continue;
        };
        let fake = FakeRoot::new();
        lay_out_pod(&fake, spec, &configmaps);
        for container in sequence(&spec["containers"]) {
            if !str_at(container, "image").contains("xml2prom") {
                continue;
            }
            // The image's ENTRYPOINT is the binary: `args` is its whole command line.
            assert!(
                container["command"].is_null(),
                "{file}: keep the entrypoint"
            );
            let args = strings(&container["args"]);
            // The ConfigMap is mounted: the rule file comes from it, not from the repository.
            assert!(
                fake.path(flag_value(&args, "--rules")).exists(),
                "{file}: rules"
            );
            fake.prepare(&args, None);
            run_recipe(file, &fake, &args);
            ran += 1;
        }
        // node_exporter beside xml2prom reads the directory xml2prom writes.
        for container in sequence(&spec["containers"]) {
            let args = strings(&container["args"]);
            let Some(dir) = args
                .iter()
                .find_map(|a| a.strip_prefix("--collector.textfile.directory="))
            else {
                continue;
            };
            let listing = entries(&fake.path(dir));
            assert!(
                listing.contains(&"store.prom".to_owned()),
                "{file}: {listing:?}"
            );
            if let Some(scrape) = scrape_textfile_dir(&fake.path(dir)) {
                assert!(scrape.contains("\nstore_total_rows{"), "{scrape}");
                assert!(
                    scrape.contains("\nnode_textfile_mtime_seconds{file="),
                    "{scrape}"
                );
            }
        }
    }
    assert_eq!(ran, 2, "the CronJob and the sidecar");
}

#[test]
fn the_kubernetes_manifests_pass_kubectl() {
    let dir = deploy("kubernetes");
    let Some((status, stdout, stderr)) = run_tool("kubectl", &["kustomize", "."], &dir) else {
        skip("kubectl not found; the manifests were not checked by kubectl");
        return;
    };
    assert!(status.success(), "kubectl kustomize:\n{stderr}");
    assert!(stdout.contains("kind: CronJob"), "{stdout}");
    for name in ["configmap.yaml", "cronjob.yaml", "sidecar.yaml"] {
        let args = ["apply", "--dry-run=client", "--validate=false", "-f", name];
        let (status, stdout, stderr) = run_tool("kubectl", &args, &dir).expect("ran before");
        // Client-side dry runs still ask a cluster for its API groups.
        if stderr.contains("connection refused") || stderr.contains("no such host") {
            skip("kubectl apply --dry-run=client needs a reachable cluster; none here");
            return;
        }
        assert!(status.success(), "kubectl apply {name}:\n{stdout}{stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// Monitoring: the alert rules and the Grafana dashboard use only metrics that exist

/// The metric names a PromQL expression reads.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let strings = Regex::new(r#""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"#).expect("regex");
    let matchers = Regex::new(r"\{[^}]*\}").expect("regex");
    let grouping = Regex::new(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
        .expect("regex");
    let ranges = Regex::new(r"\[[^\]]*\]").expect("regex");
    let variables = Regex::new(r"\$\{[^}]*\}|\$\w+").expect("regex");
    let identifier = Regex::new(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b").expect("regex");
    const KEYWORDS: [&str; 10] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
        "group_left",
        "group_right",
    ];
    let mut text = strings.replace_all(expr, "\"\"").into_owned();
    for re in [&matchers, &grouping, &ranges, &variables] {
        text = re.replace_all(&text, " ").into_owned();
    }
    identifier
        .find_iter(&text)
        .filter(|m| {
            let after = text[m.end()..].trim_start();
            let before = text[..m.start()].chars().next_back();
            !after.starts_with('(')
                && !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
                && !KEYWORDS.contains(&m.as_str().to_lowercase().as_str())
        })
        .map(|m| m.as_str().to_owned())
        .collect()
}

#[test]
fn metric_names_are_found_in_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.9, sum by (le, kind) (rate(a_bucket{x=~"b.*", instance=~"$instance"}[5m]))) / on (kind) group_left b:c offset 1h > 1e3 and time() - d"#,
    );
    assert_eq!(
        names,
        BTreeSet::from(["a_bucket".into(), "b:c".into(), "d".into()])
    );
}

/// Every metric name xml2prom or node_exporter's textfile collector serves for the recipes: the
/// self and status metrics declared in src/commands/status.rs, the example stores' metrics (as written
/// in rules/examples/*.prom) and node_exporter's two textfile metrics.
fn known_metrics() -> BTreeSet<String> {
    let declared = Regex::new(r#"name: "(xml2prom_[a-z_]+)""#).expect("regex");
    let status = read(&root().join("src/commands/status.rs"));
    let mut known: BTreeSet<String> = declared
        .captures_iter(&status)
        .map(|c| c[1].to_owned())
        .collect();
    assert_eq!(known.len(), 10, "{known:?}");
    for file in entries(&root().join("rules/examples")) {
        if file.ends_with(".prom") {
            for line in read(&root().join("rules/examples").join(file)).lines() {
                if !line.starts_with('#') {
                    let end = line.find(['{', ' ']).unwrap_or(line.len());
                    known.insert(line[..end].to_owned());
                }
            }
        }
    }
    known.insert("node_textfile_mtime_seconds".into());
    known.insert("node_textfile_scrape_error".into());
    known
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(&deploy("grafana/xml2prom.json"))).expect("valid JSON")
}

/// Every `expr` anywhere in a JSON value.
fn exprs(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("expr", serde_json::Value::String(expr)) => found.push(expr.clone()),
                    _ => exprs(inner, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| exprs(i, found)),
        _ => {}
    }
}

#[test]
fn the_dashboard_uses_only_metrics_we_serve() {
    let dashboard = dashboard();
    for field in ["uid", "title"] {
        assert!(
            dashboard[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    let instance = variables
        .iter()
        .find(|v| v["name"] == "instance")
        .expect("an `instance` variable");
    let query = instance["definition"].as_str().expect("definition");
    let label_values = Regex::new(r"^label_values\((\w+), instance\)$").expect("regex");
    let variable_metric = label_values
        .captures(query)
        .expect("label_values(METRIC, instance)");

    let known = known_metrics();
    let mut found = Vec::new();
    exprs(&dashboard, &mut found);
    assert!(found.len() >= 20, "{}", found.len());
    let mut used: BTreeSet<String> = BTreeSet::from([variable_metric[1].to_owned()]);
    for expr in &found {
        assert!(
            expr.contains(r#"instance=~"$instance""#),
            "not filtered by $instance: {expr}"
        );
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        used.extend(names);
    }
    let unknown: Vec<&String> = used.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard reads metrics nobody serves: {unknown:?}"
    );
    for name in known.iter().filter(|n| n.starts_with("xml2prom_")) {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }
    assert!(used.iter().any(|n| n.starts_with("store_")));
}

/// promtool parses every expression of the dashboard (as recording rules, `$instance` as `.*`).
#[test]
fn the_dashboard_queries_are_valid_promql() {
    let mut found = Vec::new();
    exprs(&dashboard(), &mut found);
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in found.iter().enumerate() {
        let expr = expr.replace("$instance", ".*");
        let quoted = serde_json::to_string(&expr).expect("a JSON string is a YAML string");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dashboard.rules.yml"), rules).expect("write");
    let Some((status, output)) = promtool(dir.path(), &["check", "rules", "dashboard.rules.yml"])
    else {
        return;
    };
    assert!(status.success(), "promtool check rules:\n{output}");
    assert!(
        output.contains(&format!("SUCCESS: {} rules found", found.len())),
        "{output}"
    );
}

fn alert_rules() -> Vec<Value> {
    let text = read(&deploy("monitoring/xml2prom.rules.yml"));
    let file: Value = serde_yaml::from_str(&text).expect("YAML");
    sequence(&file["groups"])
        .iter()
        .flat_map(|group| sequence(&group["rules"]).to_vec())
        .collect()
}

#[test]
fn the_alert_rules_use_only_metrics_we_serve() {
    let known = known_metrics();
    let rules = alert_rules();
    assert_eq!(rules.len(), 8);
    for rule in &rules {
        let expr = str_at(rule, "expr");
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr}");
        let unknown: Vec<&String> = names.difference(&known).collect();
        assert!(unknown.is_empty(), "{}: {unknown:?}", str_at(rule, "alert"));
        assert!(
            ["warning", "info"].contains(&str_at(rule, "labels.severity")),
            "{expr}"
        );
    }
}

/// Each alert has a unit test where it fires and one where it does not.
#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let text = read(&deploy("monitoring/xml2prom.rules.test.yml"));
    let tests: Value = serde_yaml::from_str(&text).expect("YAML");
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for test in sequence(&tests["tests"]) {
        for case in sequence(&test["alert_rule_test"]) {
            let name = str_at(case, "alertname").to_owned();
            if sequence(&case["exp_alerts"]).is_empty() {
                quiet.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    for rule in alert_rules() {
        let name = str_at(&rule, "alert");
        assert!(firing.contains(name), "{name} is never tested firing");
        assert!(quiet.contains(name), "{name} is never tested not firing");
    }
}

// ---------------------------------------------------------------------------------------------
// README

/// The README's "Deploying" section names every recipe file, and "Scaling out" exists.
#[test]
fn the_readme_points_at_every_recipe() {
    let readme = read(&root().join("README.md"));
    let section = readme
        .split("\n## Deploying\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a `## Deploying` section");
    let mut files = vec!["deploy/docker/Dockerfile".to_owned()];
    for dir in ["systemd", "kubernetes", "monitoring", "grafana", "deb"] {
        for name in entries(&deploy(dir)) {
            files.push(format!("deploy/{dir}/{name}"));
        }
    }
    for file in files {
        assert!(
            section.contains(&file),
            "README's Deploying section does not name {file}"
        );
    }
    assert!(readme.contains("\n## Scaling out\n"));
}
