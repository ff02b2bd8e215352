//! Inputs: the `--input` arguments to the sorted list of XML files a run reads, and the output
//! file each of them gets with `--output-dir`.
//!
//! An argument is a path, or a glob pattern such as `/srv/stores/*.xml` that xml2prom expands
//! itself: a systemd unit runs commands without a shell, and a shell passes a pattern that
//! matches nothing on unexpanded, which xml2prom then reports by name. An
//! argument that names an existing file is always a path, even if it contains `*`, `?` or `[`.
//! Hidden files are matched only by a pattern that spells the dot (`.*.xml`), as in a shell.
//! `-`, an `http://` or `https://` URL and `exec:CMD ARGS` are not files: they pass through
//! unexpanded, and [`fetch`] reads them.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::commands::fetch::{self, Remote};

/// How patterns match: like a shell, `*`, `?` and `**` do not match a leading dot.
const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// How the directories are walked. glob 0.3.4's walk with `require_literal_leading_dot` drops
/// every hidden entry, even for `.*.xml`, and panics on a file name that is not UTF-8; so the
/// walk sees everything and [`MATCH`] filters its results.
const WALK: glob::MatchOptions = glob::MatchOptions {
    require_literal_leading_dot: false,
    ..MATCH
};

/// An `--input` argument that gives no file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A pattern matched no file.
    #[error(
        "the pattern `{pattern}` matches no file; check the pattern and the directory it lists"
    )]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A directory could not be listed while expanding a pattern.
    #[error("cannot list {} for the pattern `{pattern}`: {source}", path.display())]
    Unlistable {
        /// The pattern as given.
        pattern: String,
        /// The directory or entry that could not be read.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl InputError {
    /// The pattern the error is about, as given on the command line.
    pub fn pattern(&self) -> &str {
        match self {
            InputError::NoMatch { pattern } | InputError::Unlistable { pattern, .. } => pattern,
        }
    }
}

/// The argument as a glob pattern, if it is one: valid UTF-8 with `*`, `?` or `[`, and not the
/// name of an existing file.
fn as_pattern(arg: &Path) -> Option<&str> {
    if Remote::of(arg).is_some() {
        return None;
    }
    let text = arg.to_str()?;
    let has_wildcard = text.contains(['*', '?', '[']);
    (has_wildcard && std::fs::symlink_metadata(arg).is_err()).then_some(text)
}

/// Checks the syntax of an argument that is a pattern, a URL or a command (the command line
/// refuses a bad one).
///
/// ```
/// # use std::path::Path;
/// # use xml2prom::commands::inputs::check_pattern;
/// assert!(check_pattern(Path::new("stores/*.xml")).is_ok());
/// assert!(check_pattern(Path::new("stores/[ab.xml")).is_err());
/// ```
pub fn check_pattern(arg: &Path) -> Result<(), String> {
    if let Some(remote) = Remote::of(arg) {
        return fetch::check_remote(&remote);
    }
    match as_pattern(arg) {
        None => Ok(()),
        Some(pattern) => glob::Pattern::new(pattern).map(drop).map_err(|error| {
            format!(
                "`{pattern}` is not a valid glob pattern: {} at character {}; write `[[]` for \
                 a literal `[`",
                error.msg, error.pos
            )
        }),
    }
}

/// Expands the arguments into files, sorted and without duplicates. A path is kept as given
/// (a missing one fails later, when it is read); a pattern gives the paths it matches, or an
/// error. Every argument is expanded, so one bad pattern does not hide the files of the others.
pub fn expand(args: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        let Some(pattern) = as_pattern(arg) else {
            files.push(arg.clone());
            continue;
        };
        let (paths, matcher) = match (glob::glob_with(pattern, WALK), glob::Pattern::new(pattern)) {
            (Ok(paths), Ok(matcher)) => (paths, matcher),
            // The command line checked the syntax; an error here still only fails this input.
            _ => {
                errors.push(InputError::NoMatch {
                    pattern: pattern.to_owned(),
                });
                continue;
            }
        };
        let before = files.len();
        for entry in paths {
            match entry {
                Ok(path) if matcher.matches_path_with(&path, MATCH) => files.push(path),
                Ok(_) => {}
                Err(error) => errors.push(InputError::Unlistable {
                    pattern: pattern.to_owned(),
                    path: error.path().to_owned(),
                    source: error.into(),
                }),
            }
        }
        if files.len() == before && !errors.iter().any(|e| e.pattern() == pattern) {
            errors.push(InputError::NoMatch {
                pattern: pattern.to_owned(),
            });
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// The name of an input (a path, or an argument of [`expand`]'s result) in messages, labels and
/// the status file: the path as given, or [`Remote::name`] for one that is not a file.
pub fn name(input: &Path) -> String {
    match Remote::of(input) {
        Some(remote) => remote.name(),
        None => input.display().to_string(),
    }
}

/// Two inputs that would write the same file in `--output-dir`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} and {} would both be written to {}; give inputs with different file names, or run \
     xml2prom once per directory with its own --output-dir",
    name(first), name(second), output.display()
)]
pub struct OutputClash {
    /// The input that claimed the output first (in sorted order).
    pub first: PathBuf,
    /// The other input.
    pub second: PathBuf,
    /// The output both would write.
    pub output: PathBuf,
}

/// The file each input is written to in `dir`: the input's file stem with `.prom`
/// (`/srv/a/store.xml` -> `DIR/store.prom`; for an input that is not a file, the stem
/// [`Remote::stem`] gives it: `-` -> `DIR/stdin.prom`). Refuses two inputs that would share one.
///
/// ```
/// # use std::path::{Path, PathBuf};
/// # use xml2prom::commands::inputs::outputs_in;
/// let inputs = [PathBuf::from("/srv/a/store.xml"), PathBuf::from("b/shop.v2.xml")];
/// let outputs = outputs_in(Path::new("/tmp/out"), &inputs).map_err(|e| format!("{e:?}"))?;
/// assert_eq!(outputs, [Path::new("/tmp/out/store.prom"), Path::new("/tmp/out/shop.v2.prom")]);
/// # Ok::<(), String>(())
/// ```
pub fn outputs_in(dir: &Path, inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<OutputClash>> {
    let mut claimed: BTreeMap<PathBuf, &Path> = BTreeMap::new();
    let mut clashes = Vec::new();
    let mut outputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        // A path without a file name (`..`, `/`) cannot be read as a file either; it gets a name
        // that says so, and fails when it is read.
        let mut name = match Remote::of(input) {
            Some(remote) => remote.stem().into(),
            None => input.file_stem().unwrap_or(input.as_os_str()).to_owned(),
        };
        name.push(".prom");
        let output = dir.join(name);
        match claimed.get(&output) {
            Some(first) => clashes.push(OutputClash {
                first: first.to_path_buf(),
                second: input.clone(),
                output: output.clone(),
            }),
            None => {
                claimed.insert(output.clone(), input);
            }
        }
        outputs.push(output);
    }
    if clashes.is_empty() {
        Ok(outputs)
    } else {
        Err(clashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, names: &[&str]) {
        for name in names {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("parent directory");
            }
            std::fs::write(path, "<a/>").expect("write");
        }
    }

    fn names(dir: &Path, files: &[PathBuf]) -> Vec<String> {
        files
            .iter()
            .map(|f| {
                f.strip_prefix(dir)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn patterns_expand_sorted_without_duplicates_and_hidden_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(
            dir.path(),
            &["b.xml", "a.xml", ".hidden.xml", "c.txt", "sub/d.xml"],
        );
        let args = [
            dir.path().join("*.xml"),
            dir.path().join("a.xml"),
            dir.path().join("*/*.xml"),
        ];
        let (files, errors) = expand(&args);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(names(dir.path(), &files), ["a.xml", "b.xml", "sub/d.xml"]);
    }

    #[test]
    fn hidden_files_match_a_pattern_that_spells_the_dot() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(
            dir.path(),
            &[".hidden.xml", "a.xml", ".git/b.xml", "sub/c.xml"],
        );
        let (files, errors) = expand(&[dir.path().join(".*.xml")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(names(dir.path(), &files), [".hidden.xml"]);
        let (files, _) = expand(&[dir.path().join("**/*.xml")]);
        assert_eq!(names(dir.path(), &files), ["a.xml", "sub/c.xml"]);
    }

    /// glob 0.3.4 panics on such a name when it filters hidden files itself.
    #[cfg(unix)]
    #[test]
    fn a_file_name_that_is_not_utf8_is_skipped_without_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), &["a.xml"]);
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"\xff.xml"));
        if std::fs::write(&odd, "<a/>").is_err() {
            return; // a filesystem that insists on UTF-8 names
        }
        let (files, errors) = expand(&[dir.path().join("*.xml")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(names(dir.path(), &files), ["a.xml"]);
    }

    #[test]
    fn plain_paths_are_kept_even_when_missing() {
        let (files, errors) = expand(&[PathBuf::from("z.xml"), PathBuf::from("missing.xml")]);
        assert!(errors.is_empty());
        assert_eq!(
            files,
            [PathBuf::from("missing.xml"), PathBuf::from("z.xml")]
        );
    }

    #[test]
    fn an_existing_file_with_wildcards_in_its_name_is_a_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), &["[1].xml"]);
        let arg = dir.path().join("[1].xml");
        assert!(check_pattern(&arg).is_ok());
        let (files, errors) = expand(std::slice::from_ref(&arg));
        assert!(errors.is_empty());
        assert_eq!(files, [arg]);
    }

    #[test]
    fn a_pattern_matching_nothing_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), &["a.xml"]);
        let pattern = dir.path().join("*.XML");
        let (files, errors) = expand(&[pattern.clone(), dir.path().join("a.xml")]);
        assert_eq!(names(dir.path(), &files), ["a.xml"]);
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(
            message.contains(&format!("`{}` matches no file", pattern.display())),
            "{message}"
        );
    }

    #[test]
    fn bad_patterns_are_refused_with_advice() {
        let message = check_pattern(Path::new("stores/[ab.xml")).expect_err("unclosed class");
        assert!(message.contains("not a valid glob pattern"), "{message}");
        assert!(message.contains("[[]"), "{message}");
    }

    #[test]
    fn outputs_are_named_after_the_stem() {
        let inputs = [
            PathBuf::from("/srv/a/store.xml"),
            PathBuf::from("noext"),
            PathBuf::from("/srv/.hidden.xml"),
        ];
        let outputs = outputs_in(Path::new("out"), &inputs).expect("distinct");
        assert_eq!(
            outputs,
            [
                PathBuf::from("out/store.prom"),
                PathBuf::from("out/noext.prom"),
                PathBuf::from("out/.hidden.prom"),
            ]
        );
    }

    #[test]
    fn inputs_that_are_not_files_pass_through_and_get_a_stem() {
        let args = [
            PathBuf::from("http://h/x?a=*"),
            PathBuf::from("exec:tool --list [x]"),
            PathBuf::from("-"),
        ];
        let (files, errors) = expand(&args);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(files.len(), 3);
        assert!(args.iter().all(|arg| check_pattern(arg).is_ok()));
        let outputs = outputs_in(Path::new("out"), &files).expect("distinct");
        assert_eq!(
            outputs,
            [
                PathBuf::from("out/stdin.prom"),
                PathBuf::from("out/tool.prom"),
                PathBuf::from("out/x.prom"),
            ]
        );
    }

    #[test]
    fn a_clash_of_two_urls_names_them_without_secrets() {
        let inputs = [
            PathBuf::from("http://a/x.xml?token=s3cret"),
            PathBuf::from("https://b/v1/x"),
        ];
        let clashes = outputs_in(Path::new("out"), &inputs).expect_err("same stem");
        assert_eq!(
            clashes[0].to_string().split(';').next(),
            Some("http://a/x.xml?token=*** and https://b/v1/x would both be written to out/x.prom")
        );
    }

    #[test]
    fn two_inputs_with_one_stem_are_refused_naming_both() {
        let inputs = [
            PathBuf::from("/srv/a/store.xml"),
            PathBuf::from("/srv/b/store.xml"),
            PathBuf::from("/srv/b/store.XML.xml"),
        ];
        let clashes = outputs_in(Path::new("out"), &inputs).expect_err("same stem");
        assert_eq!(clashes.len(), 1);
        let message = clashes[0].to_string();
        assert!(
            message.starts_with(
                "/srv/a/store.xml and /srv/b/store.xml would both be written to out/store.prom"
            ),
            "{message}"
        );
    }
}
