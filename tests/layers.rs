//! The one-way rule between the parts of `src/`. Reads every `src/**/*.rs`, finds each path into
//! the crate (`crate::X::…`, `use crate::{X, Y}`, and `xml2prom::X` in `main.rs`) and fails with
//! one `src/file.rs:line: engine/ may not import commands/` line per import against [`ALLOWED`].
//! Comment lines are skipped; `#[cfg(test)]` code obeys the same directions. `crate::VERSION`
//! may be read by anyone. Inside `engine/`, `stream.rs` and `dom/` never use each other.

use std::path::Path;

/// Which parts each part may import, besides itself.
const ALLOWED: &str = "
    main       → cli commands engine rules xml exposition output model
    lib        → cli commands engine rules xml exposition output model
    cli        → commands engine rules xml exposition output model
    commands   → engine rules xml exposition output model
    engine     → rules xml model
    rules      → model
    exposition → model
    xml        →
    output     →
    model      →
";

/// The two engines are siblings: a file under the first never uses the second.
const SIBLINGS: &[(&str, &str, &str)] = &[
    ("engine/stream.rs", "dom", "engine/dom/"),
    ("engine/dom/", "stream", "engine/stream.rs"),
];

/// What `part` may import, or `None` if it is no part of the crate.
fn allowed(part: &str) -> Option<Vec<&'static str>> {
    ALLOWED.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(part)).then(|| words.skip(1).collect())
    })
}

/// A part as a message names it: `engine/` for a folder, `cli.rs` for a file.
fn shown(part: &str) -> String {
    let file = ["main", "lib", "cli", "exposition", "output"].contains(&part);
    format!("{part}{}", if file { ".rs" } else { "/" })
}

/// Every path of the use tree at `code[*at..]`, each with the offset of its last segment:
/// `crate::{a::b, c}` gives `crate::a::b` and `crate::c`.
fn use_tree(code: &[u8], at: &mut usize, prefix: &[String], out: &mut Vec<(usize, Vec<String>)>) {
    let is = |at: usize, f: fn(&u8) -> bool| code.get(at).is_some_and(f);
    let space = |c: &u8| c.is_ascii_whitespace() || *c == b',';
    while is(*at, space) {
        *at += 1;
    }
    if is(*at, |&c| c == b'{') {
        *at += 1;
        while is(*at, |&c| c != b'}') {
            let before = *at;
            use_tree(code, at, prefix, out);
            *at = (*at).max(before + 1); // past a stray character
            while is(*at, space) {
                *at += 1;
            }
        }
        *at += 1;
        return;
    }
    let start = *at;
    while is(*at, |&c| c.is_ascii_alphanumeric() || c == b'_') {
        *at += 1;
    }
    let mut path = prefix.to_vec();
    path.push(String::from_utf8_lossy(&code[start..*at]).into_owned());
    if *at > start && code[*at..].starts_with(b"::") {
        *at += 2;
        return use_tree(code, at, &path, out);
    }
    // `as name`, `*` or the rest of an expression, up to the next item of a group.
    while is(*at, |c| !b",;}\n".contains(c)) {
        *at += 1;
    }
    out.push((start, path));
}

/// The violations in one file, named by its path under `src/`, and how many paths into other
/// parts of the crate it holds.
fn check(file: &str, text: &str) -> (Vec<String>, usize) {
    let comment = |l: &&str| l.trim_start().starts_with("//");
    let lines = text
        .lines()
        .map(|l| Some(l).filter(|l| !comment(l)).unwrap_or(""));
    let code = lines.collect::<Vec<_>>().join("\n").into_bytes();
    let from = file.split(['/', '.']).next().unwrap_or(file);
    let sibling = SIBLINGS.iter().find(|(f, ..)| file.starts_with(f));
    let roots: &[&str] = if from == "main" {
        &["crate", "xml2prom"]
    } else {
        &["crate", "super"]
    };
    let mut paths = Vec::new();
    for i in 0..code.len() {
        let starts =
            i == 0 || !(code[i - 1].is_ascii_alphanumeric() || b"_:".contains(&code[i - 1]));
        if starts
            && roots
                .iter()
                .any(|r| code[i..].starts_with(format!("{r}::").as_bytes()))
        {
            use_tree(&code, &mut i.clone(), &[], &mut paths);
        }
    }
    let (mut found, mut references) = (Vec::new(), 0);
    for (at, path) in &paths {
        let line = code[..*at].iter().filter(|&&c| c == b'\n').count() + 1;
        let (to, next) = match path[0].as_str() {
            // `super::` paths only matter to the sibling rule.
            "super" if from == "engine" => ("engine", path.iter().find(|s| *s != "super")),
            "super" => continue,
            _ => (path[1].as_str(), path.get(2)),
        };
        let wrong = match sibling {
            Some((who, other, name)) if to == "engine" && next.is_some_and(|n| n == other) => {
                Some((who.to_string(), name.to_string()))
            }
            _ if to == from || to == "VERSION" => None,
            _ if allowed(to).is_none() => {
                Some((shown(from), format!("`{to}` (no part of the crate)")))
            }
            _ => {
                references += 1;
                let ok = allowed(from).is_some_and(|a| a.contains(&to));
                (!ok).then(|| (shown(from), shown(to)))
            }
        };
        if let Some((who, to)) = wrong {
            found.push(format!("src/{file}:{line}: {who} may not import {to}"));
        }
    }
    (found, references)
}

/// Every `.rs` file under `dir` and its text, named by its path under `src/`.
fn sources(dir: &Path, under: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("src/ is readable").path();
        let name = format!("{under}{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            sources(&path, &format!("{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push((
                name,
                std::fs::read_to_string(&path).expect("a source file is UTF-8"),
            ));
        }
    }
}

#[test]
fn imports_point_one_way() {
    let (src, mut files) = (
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        Vec::new(),
    );
    sources(&src, "", &mut files);
    let (mut violations, mut references) = (Vec::new(), 0);
    for (file, text) in &files {
        let (found, count) = check(file, text);
        violations.extend(found);
        references += count;
    }
    assert!(
        files.len() > 40,
        "only {} files found under src/",
        files.len()
    );
    assert!(
        references > 100,
        "only {references} imports between parts found"
    );
    violations.sort();
    assert!(
        violations.is_empty(),
        "imports against the one-way rule:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_reports_wrong_imports_and_skips_comments() {
    let found = |file, text| check(file, text).0;
    let text = "//! Runs like [`crate::commands::run`] (a comment).\n\
                use crate::model::sample::Sample;\n\
                use crate::{\n    rules::{plan, file::Rule},\n    commands::run,\n};\n\
                    // crate::commands::serve\n\
                fn f() -> String { crate::VERSION.to_string() + &crate::commands::x() }\n";
    let (wrong, references) = check("engine/node.rs", text);
    let line = |n| format!("src/engine/node.rs:{n}: engine/ may not import commands/");
    assert_eq!((wrong, references), (vec![line(5), line(8)], 5));

    let text = "use crate::engine::{dom::build, node};\nuse super::dom;";
    let line = |n| format!("src/engine/stream.rs:{n}: engine/stream.rs may not import engine/dom/");
    assert_eq!(found("engine/stream.rs", text), [line(1), line(2)]);
    let text = "use super::super::stream::Engine;\nuse xml2prom::commands;";
    let line = "src/engine/dom/build.rs:1: engine/dom/ may not import engine/stream.rs";
    assert_eq!(found("engine/dom/build.rs", text), [line]);

    let text = "use xml2prom::{cli, commands::run};\nuse crate::zzz;";
    let line = "src/main.rs:2: main.rs may not import `zzz` (no part of the crate)";
    assert_eq!(found("main.rs", text), [line]);
    let text = "pub(crate) fn f() { mycrate::model::x(); a::crate::rules::y() }";
    assert_eq!(found("xml/mod.rs", text), Vec::<String>::new());
}
