//! Log: the messages of the long-running commands (`serve`, `run --every`) as Prometheus's own
//! exporters write them, one line per event on stderr.
//!
//! A message is a level, a short text and key/value fields; [`info`], [`warn`], [`error`] and
//! [`debug`] format it with a timestamp (UTC, milliseconds) as logfmt or JSON, and write the
//! whole line at once, so lines from several threads never interleave:
//!
//! ```text
//! time=2026-12-04T02:00:00.123Z level=info msg="listening" address=127.0.0.1:9840
//! {"time":"2026-12-04T02:00:00.123Z","level":"info","msg":"listening","address":"127.0.0.1:9840"}
//! ```
//!
//! The format and the lowest level shown are set once, by [`init`], before the command starts;
//! until then (in unit tests, say) messages go out as logfmt at level info.

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;

/// How important a message is; `--log.level` shows this level and the ones above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, clap::ValueEnum)]
pub enum Level {
    /// Details for finding a problem: each reload, each evaluation.
    Debug,
    /// What an operator wants to see: started, listening, reloaded, stopping.
    #[default]
    Info,
    /// Something went wrong but the work goes on as before.
    Warn,
    /// Something failed: an evaluation, a reload.
    Error,
}

impl Level {
    /// The name in a log line and in `--log.level`: `debug`, `info`, `warn`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// How a log line is written (`--log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `key=value` pairs, a value quoted when it needs to be.
    #[default]
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The checked `--log.level` and `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogConfig {
    /// The lowest level written.
    pub level: Level,
    /// The line format.
    pub format: Format,
}

static CONFIG: OnceLock<LogConfig> = OnceLock::new();

/// Sets the level and format for the rest of the process; a second call changes nothing, so
/// tests that run commands in one process keep the first setting.
pub fn init(config: LogConfig) {
    let _ = CONFIG.set(config);
}

fn config() -> LogConfig {
    CONFIG.get().copied().unwrap_or_default()
}

/// One field of a message: a key (a plain word such as `address`) and its value.
pub type Field<'a> = (&'a str, &'a dyn fmt::Display);

/// Logs `msg` at level debug.
pub fn debug(msg: &str, fields: &[Field<'_>]) {
    log(Level::Debug, msg, fields);
}

/// Logs `msg` at level info.
pub fn info(msg: &str, fields: &[Field<'_>]) {
    log(Level::Info, msg, fields);
}

/// Logs `msg` at level warn.
pub fn warn(msg: &str, fields: &[Field<'_>]) {
    log(Level::Warn, msg, fields);
}

/// Logs `msg` at level error.
pub fn error(msg: &str, fields: &[Field<'_>]) {
    log(Level::Error, msg, fields);
}

/// Writes one line to stderr if `level` is shown. A stderr that is gone leaves nobody to tell.
pub fn log(level: Level, msg: &str, fields: &[Field<'_>]) {
    let config = config();
    if level < config.level {
        return;
    }
    let line = format_line(config.format, &now(), level, msg, fields);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The time now, as the log writes it: `2026-12-04T02:00:00.123Z`.
fn now() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

/// One whole line, newline included.
pub fn format_line(
    format: Format,
    time: &str,
    level: Level,
    msg: &str,
    fields: &[Field<'_>],
) -> String {
    let mut line = String::new();
    match format {
        Format::Logfmt => {
            line.push_str("time=");
            push_logfmt_value(&mut line, time, false);
            line.push_str(" level=");
            line.push_str(level.as_str());
            line.push_str(" msg=");
            // Always quoted, as Prometheus's exporters write it, so that the message stands out.
            push_logfmt_value(&mut line, msg, true);
            for (key, value) in fields {
                line.push(' ');
                push_logfmt_key(&mut line, key);
                line.push('=');
                push_logfmt_value(&mut line, &value.to_string(), false);
            }
        }
        Format::Json => {
            line.push('{');
            push_json_pair(&mut line, "time", time);
            line.push(',');
            push_json_pair(&mut line, "level", level.as_str());
            line.push(',');
            push_json_pair(&mut line, "msg", msg);
            for (key, value) in fields {
                line.push(',');
                push_json_pair(&mut line, key, &value.to_string());
            }
            line.push('}');
        }
    }
    line.push('\n');
    line
}

/// A key is a plain word; any character that would end it (space, `=`, `"`, a control
/// character) becomes `_`.
fn push_logfmt_key(line: &mut String, key: &str) {
    if key.is_empty() {
        line.push('_');
    }
    line.extend(key.chars().map(|c| {
        if c == '=' || c == '"' || c.is_whitespace() || c.is_control() {
            '_'
        } else {
            c
        }
    }));
}

/// A value as is when it is one plain word, else in double quotes with `\`, `"` and control
/// characters escaped (`\n`, `\r`, `\t`, else `\u00XX`), as go-logfmt writes it.
fn push_logfmt_value(line: &mut String, value: &str, always_quote: bool) {
    let plain = !always_quote
        && !value.is_empty()
        && !value
            .chars()
            .any(|c| c == '=' || c == '"' || c == '\\' || c.is_whitespace() || c.is_control());
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = fmt::Write::write_fmt(line, format_args!("\\u{:04x}", u32::from(c)));
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

fn push_json_pair(line: &mut String, key: &str, value: &str) {
    push_json_string(line, key);
    line.push(':');
    push_json_string(line, value);
}

fn push_json_string(line: &mut String, text: &str) {
    // Serializing a string cannot fail; serde_json escapes `"`, `\` and control characters.
    line.push_str(&serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIME: &str = "2026-12-04T02:00:00.123Z";

    #[test]
    fn logfmt_quotes_the_message_and_only_values_that_need_it() {
        let address = "127.0.0.1:9840";
        assert_eq!(
            format_line(
                Format::Logfmt,
                TIME,
                Level::Info,
                "listening",
                &[("address", &address)]
            ),
            "time=2026-12-04T02:00:00.123Z level=info msg=\"listening\" address=127.0.0.1:9840\n"
        );
        let file = "my rules.yaml";
        let count = 3;
        assert_eq!(
            format_line(
                Format::Logfmt,
                TIME,
                Level::Warn,
                "x",
                &[("file", &file), ("n", &count), ("empty", &"")]
            ),
            "time=2026-12-04T02:00:00.123Z level=warn msg=\"x\" file=\"my rules.yaml\" n=3 \
             empty=\"\"\n"
        );
    }

    #[test]
    fn logfmt_escapes_quotes_backslashes_and_control_characters() {
        let err = "a \"b\"\\c\nd\te\r\u{1}=";
        assert_eq!(
            format_line(
                Format::Logfmt,
                TIME,
                Level::Error,
                "say \"hi\"\n",
                &[("err", &err), ("k=v w", &1)]
            ),
            "time=2026-12-04T02:00:00.123Z level=error msg=\"say \\\"hi\\\"\\n\" \
             err=\"a \\\"b\\\"\\\\c\\nd\\te\\r\\u0001=\" k_v_w=1\n"
        );
        for value in ["a=b", "a\"b", "a\\b"] {
            let line = format_line(Format::Logfmt, TIME, Level::Info, "m", &[("v", &value)]);
            assert!(line.contains(" v=\""), "{value}: {line}");
        }
    }

    #[test]
    fn json_is_one_object_in_field_order_with_escapes() {
        let address = "127.0.0.1:9840";
        let line = format_line(
            Format::Json,
            TIME,
            Level::Info,
            "listening",
            &[("address", &address)],
        );
        assert_eq!(
            line,
            "{\"time\":\"2026-12-04T02:00:00.123Z\",\"level\":\"info\",\"msg\":\"listening\",\
             \"address\":\"127.0.0.1:9840\"}\n"
        );
        let err = "a \"b\"\\c\nd\u{1}";
        let line = format_line(Format::Json, TIME, Level::Error, "m", &[("err", &err)]);
        let parsed: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed["err"], err);
        assert_eq!(parsed["level"], "error");
        assert_eq!(line.matches('\n').count(), 1, "{line}");
    }

    #[test]
    fn the_time_has_milliseconds_in_utc() {
        let time = now();
        assert_eq!(time.len(), TIME.len(), "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
    }

    #[test]
    fn levels_are_ordered_for_filtering() {
        assert!(Level::Debug < Level::Info && Level::Info < Level::Warn);
        assert!(Level::Warn < Level::Error);
    }
}
