//! Exporter metrics: what every Prometheus exporter says about itself, for `serve`'s
//! `/metrics` (with its self-metrics on).
//!
//! - `xml2prom_build_info{version,revision,rustversion} 1`, the build facts as labels, after
//!   client_golang's `version` collector (`rustversion` for its `goversion`); the revision and
//!   the compiler version come from `build.rs`.
//! - `process_*`, with client_golang's names, types and HELP texts, read from `/proc/self` on
//!   Linux when a scrape asks (on other systems there are none): CPU time, resident and virtual
//!   memory, start time, open and maximum file descriptors.

use std::sync::Arc;

use crate::model::names::{LabelName, MetricName};
use crate::model::sample::{Families, LabelSet, MetricType, Origin, Sample, SampleValue};

/// The git commit xml2prom was built from, or `unknown` (see `build.rs`).
pub const REVISION: &str = env!("XML2PROM_REVISION");

/// The version of the Rust compiler that built xml2prom, such as `1.91.0`.
pub const RUST_VERSION: &str = env!("XML2PROM_RUST_VERSION");

/// The name and HELP of the build facts gauge.
pub const BUILD_INFO: (&str, &str) = (
    "xml2prom_build_info",
    "A metric with a constant '1' value labeled by version, revision, and rustversion from \
     which xml2prom was built.",
);

/// Adds `xml2prom_build_info` to `families`.
pub fn add_build_info(families: &mut Families) {
    let labels = [
        ("version", env!("CARGO_PKG_VERSION")),
        ("revision", REVISION),
        ("rustversion", RUST_VERSION),
    ];
    for (name, _) in labels {
        debug_assert!(LabelName::parse(name).is_ok(), "{name}");
    }
    add(
        families,
        BUILD_INFO,
        MetricType::Gauge,
        LabelSet::new(labels.map(|(n, v)| (n.to_owned(), v.to_owned()))),
        1.0,
    );
}

/// The `process_*` families: name, HELP and type, as client_golang's process collector writes
/// them.
pub const PROCESS: [(&str, &str, MetricType); 6] = [
    (
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        MetricType::Counter,
    ),
    (
        "process_max_fds",
        "Maximum number of open file descriptors.",
        MetricType::Gauge,
    ),
    (
        "process_open_fds",
        "Number of open file descriptors.",
        MetricType::Gauge,
    ),
    (
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        MetricType::Gauge,
    ),
    (
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge,
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        MetricType::Gauge,
    ),
];

/// The `process_*` families that the rule file's own families in `taken` do not already use;
/// empty where `/proc/self` cannot be read (not Linux, or a restricted `/proc`).
pub fn process_metrics(taken: &[String]) -> Families {
    let mut families = Families::new();
    let Some(values) = process_values() else {
        return families;
    };
    for ((name, help, kind), value) in PROCESS.into_iter().zip(values) {
        if let Some(value) = value
            && !taken.iter().any(|t| t == name)
        {
            add(&mut families, (name, help), kind, LabelSet::new([]), value);
        }
    }
    families
}

/// One sample of an own family; the names are constants that the tests render.
fn add(
    families: &mut Families,
    (name, help): (&str, &str),
    kind: MetricType,
    labels: LabelSet,
    value: f64,
) {
    let name = MetricName::parse(name)
        .expect("own metric names are valid; the test `own_families_render` checks them");
    let origin = Origin {
        rule: Arc::from(name.as_str()),
        input: Arc::from(""),
    };
    let sample = Sample {
        labels,
        value: SampleValue::Single(value),
    };
    // A new family of one series: never a duplicate.
    let _ = families.add(&name, help, kind, sample, origin);
}

/// The values in the order of [`PROCESS`]; each `None` when it cannot be read.
#[cfg(target_os = "linux")]
fn process_values() -> Option<[Option<f64>; 6]> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let stat = ProcStat::parse(&stat)?;
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let page = rustix::param::page_size() as f64;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|text| boot_time(&text));
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| max_open_files(&text));
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as f64);
    Some([
        Some((stat.utime + stat.stime) as f64 / ticks),
        max_fds,
        open_fds,
        Some(stat.rss as f64 * page),
        boot.map(|boot| boot + stat.starttime as f64 / ticks),
        Some(stat.vsize as f64),
    ])
}

#[cfg(not(target_os = "linux"))]
fn process_values() -> Option<[Option<f64>; 6]> {
    None
}

/// The fields of `/proc/self/stat` the metrics need (proc(5)); times in clock ticks, `rss` in
/// pages, `vsize` in bytes.
#[derive(Debug, PartialEq, Eq)]
struct ProcStat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss: i64,
}

impl ProcStat {
    /// Fields 14, 15, 22, 23 and 24. The command name (field 2) is in parentheses and may hold
    /// spaces and parentheses itself, so counting starts after the last `)`.
    fn parse(text: &str) -> Option<ProcStat> {
        let (_, rest) = text.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `fields[0]` is field 3, the state.
        let field = |n: usize| fields.get(n - 3).copied();
        Some(ProcStat {
            utime: field(14)?.parse().ok()?,
            stime: field(15)?.parse().ok()?,
            starttime: field(22)?.parse().ok()?,
            vsize: field(23)?.parse().ok()?,
            rss: field(24)?.parse().ok()?,
        })
    }
}

/// The boot time in seconds since the epoch: the `btime` line of `/proc/stat`.
fn boot_time(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(|seconds| seconds as f64)
}

/// The soft limit of `Max open files` in `/proc/self/limits`; `unlimited` is +Inf, as
/// client_golang reports it.
fn max_open_files(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    let soft = line
        .strip_prefix("Max open files")?
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(f64::INFINITY);
    }
    soft.parse::<u64>().ok().map(|n| n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 \
                    777 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
        assert_eq!(
            ProcStat::parse(text),
            Some(ProcStat {
                utime: 250,
                stime: 50,
                starttime: 777,
                vsize: 123_456_789,
                rss: 2048,
            })
        );
        assert_eq!(ProcStat::parse("1234 (x) S 1 2"), None);
        assert_eq!(ProcStat::parse("no parenthesis"), None);
    }

    #[test]
    fn limits_and_boot_time_are_read() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63439                63439                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), Some(f64::INFINITY));
        assert_eq!(max_open_files("Max processes 1 1 processes\n"), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1764800000\nprocesses 9\n"),
            Some(1_764_800_000.0)
        );
        assert_eq!(boot_time("cpu 1\n"), None);
    }

    #[test]
    fn own_families_render() {
        let mut families = Families::new();
        add_build_info(&mut families);
        let text = exposition::render(&families);
        assert_eq!(
            text,
            format!(
                "# HELP xml2prom_build_info {}\n# TYPE xml2prom_build_info gauge\n\
                 xml2prom_build_info{{revision=\"{REVISION}\",rustversion=\"{RUST_VERSION}\",\
                 version=\"{}\"}} 1\n",
                BUILD_INFO.1,
                env!("CARGO_PKG_VERSION")
            )
        );
        for (name, _, _) in PROCESS {
            assert!(MetricName::parse(name).is_ok(), "{name}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn process_metrics_are_read_on_linux_and_leave_out_names_the_rules_use() {
        let text = exposition::render(&process_metrics(&[]));
        for (name, help, kind) in PROCESS {
            assert!(
                text.contains(&format!(
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} "
                )),
                "{name}:\n{text}"
            );
        }
        let text = exposition::render(&process_metrics(&["process_open_fds".to_owned()]));
        assert!(!text.contains("process_open_fds"), "{text}");
        assert!(text.contains("process_max_fds"), "{text}");
    }
}
