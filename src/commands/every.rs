//! Schedule: `run --every PERIOD`, one run per tick for as long as the process lives.
//!
//! The rule file is compiled once, then [`crate::commands::run::run_with_rules`] runs at a fixed cadence:
//! tick `n` is due at `start + n * PERIOD`. A run that takes longer than the period makes the
//! next one start right after it, never two at once and never a burst to catch up on the ticks
//! missed. Each run still takes the output's lock, so a cron job or a second loop on the same
//! output waits its turn instead of interleaving.
//!
//! Signals ([`signal-hook`](https://docs.rs/signal-hook)) arrive on a thread of their own and are
//! read by the loop between runs, never inside one, so an atomic write is never cut short:
//!
//! - SIGTERM and SIGINT stop the loop after the run in progress (at once while it waits), exit 0;
//! - SIGHUP re-reads and re-checks the rule file; the new rules are used from the next run on,
//!   and a broken new file is reported while the old rules keep running.
//!
//! The loop's messages, each run's failures and warnings included, are log lines
//! ([`crate::commands::log`]: logfmt or JSON, filtered by `--log.level`).

use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::commands::run::{self, RunConfig};
use crate::commands::{Report, log};
use crate::model::duration::Friendly;
use crate::rules;
use crate::rules::compile::CompiledRules;

/// The shortest `--every`: a shorter period would mostly measure xml2prom itself.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);

/// What the loop is told between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Stop after the run in progress; the name of the signal that asked.
    Stop(&'static str),
    /// Re-read the rule file.
    Reload,
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A signal asked it to (SIGTERM, SIGINT).
    Signal(&'static str),
    /// Nothing can deliver events any more (the signal thread ended): stopping is safer than
    /// a loop that no signal can end.
    NoEvents,
}

/// What the loop drives: one run per tick, a reload when asked.
pub trait Job {
    /// One run.
    fn tick(&mut self);
    /// Re-read the configuration.
    fn reload(&mut self);
}

/// Runs `job` every `period` until an [`Event::Stop`] arrives on `events`.
///
/// Events are read only between ticks: one that arrives during a tick waits for its end. The
/// wait for the next tick ends at once on an event, so a stop is prompt while idle.
pub fn drive(period: Duration, events: &Receiver<Event>, job: &mut impl Job) -> Stopped {
    let mut due = Instant::now();
    loop {
        job.tick();
        due += period;
        let now = Instant::now();
        if due < now {
            // Late: the next run starts now, and the cadence starts over from here rather
            // than firing once for every tick that was missed.
            due = now;
        }
        loop {
            // A zero timeout still returns an event that is already waiting.
            match events.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(Event::Stop(signal)) => return Stopped::Signal(signal),
                Ok(Event::Reload) => job.reload(),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Stopped::NoEvents,
            }
        }
    }
}

/// The `run` subcommand's loop: the rules, and the configuration of each run.
struct RunLoop<'a> {
    config: &'a RunConfig,
    /// The same without `--verbose`: the engine report is printed on the first run of each set
    /// of rules, not on every tick.
    quiet: RunConfig,
    rules: CompiledRules,
    /// No run yet with these rules.
    fresh: bool,
}

impl Job for RunLoop<'_> {
    fn tick(&mut self) {
        let config = if self.fresh { self.config } else { &self.quiet };
        self.fresh = false;
        let started = Instant::now();
        let outcome = run::run_with_rules(config, &self.rules);
        run::log_report(&outcome);
        log::debug(
            "ran the rules",
            &[
                ("outputs", &outcome.outputs),
                ("series", &outcome.series),
                ("errors", &outcome.errors.len()),
                (
                    "duration",
                    &format!("{:.3}s", started.elapsed().as_secs_f64()),
                ),
            ],
        );
    }

    fn reload(&mut self) {
        let path = self.config.rules.display();
        match rules::load(&self.config.rules, &self.config.vars) {
            Ok(rules) => {
                self.rules = rules;
                self.fresh = true;
                log::info(
                    "reloaded the rule file",
                    &[("file", &path), ("trigger", &"SIGHUP")],
                );
            }
            Err(error) => {
                let diagnostics = Report::report(&error);
                log::error(
                    "the rule file has errors; the rules loaded before keep running until it \
                     is fixed and SIGHUP is sent again",
                    &[
                        ("file", &path),
                        ("trigger", &"SIGHUP"),
                        ("err", &diagnostics.trim_end()),
                    ],
                );
            }
        }
    }
}

/// `run --every`: runs `config` every `period` until SIGTERM or SIGINT; returns the exit code:
/// 0 when stopped by a signal, 2 if the rule file is broken at the start (nothing to run), 1 if
/// the signals cannot be watched.
pub fn execute(config: &RunConfig, period: Duration) -> ExitCode {
    // Watch the signals before anything else, so that none arriving during the first run is
    // lost or kills the process half-way.
    let mut signals = match Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(signals) => signals,
        Err(error) => {
            log::error(
                "cannot watch SIGTERM, SIGINT and SIGHUP for --every; run without --every (e.g. \
                 from a cron job or a systemd timer)",
                &[("err", &error)],
            );
            return ExitCode::from(1);
        }
    };
    let rules = match rules::load(&config.rules, &config.vars) {
        Ok(rules) => rules,
        Err(error) => {
            // One run to report it, in the status file too.
            let outcome = run::run_with_broken_rules(config, error);
            run::report(&outcome);
            return ExitCode::from(outcome.exit_code());
        }
    };
    let (sender, events) = mpsc::channel();
    let handle = signals.handle();
    let watcher = std::thread::spawn(move || {
        for signal in signals.forever() {
            let event = match signal {
                SIGHUP => Event::Reload,
                SIGINT => Event::Stop("SIGINT"),
                _ => Event::Stop("SIGTERM"),
            };
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    log::info(
        "running; SIGHUP reloads the rule file, SIGTERM or SIGINT stops",
        &[
            ("every", &Friendly(period)),
            ("file", &config.rules.display()),
        ],
    );
    let mut job = RunLoop {
        config,
        quiet: RunConfig {
            verbose: false,
            ..config.clone()
        },
        rules,
        fresh: true,
    };
    let stopped = drive(period, &events, &mut job);
    handle.close();
    let _ = watcher.join();
    match stopped {
        Stopped::Signal(signal) => {
            log::info("stopped after the last run", &[("signal", &signal)]);
            ExitCode::SUCCESS
        }
        Stopped::NoEvents => {
            log::error(
                "the signal watcher ended; stopping, as no signal could stop the loop any more \
                 (this is a bug; please report it)",
                &[],
            );
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Sender;

    /// Counts ticks and reloads; each tick takes `work`, and tick `n` runs `at_tick[n]`.
    struct Probe {
        ticks: Vec<Instant>,
        reloads: usize,
        work: Duration,
        events: Sender<Event>,
        at_tick: Vec<Option<Event>>,
    }

    impl Job for Probe {
        fn tick(&mut self) {
            self.ticks.push(Instant::now());
            std::thread::sleep(self.work);
            if let Some(Some(event)) = self.at_tick.get(self.ticks.len() - 1) {
                self.events.send(*event).expect("the loop listens");
            }
        }
        fn reload(&mut self) {
            self.reloads += 1;
        }
    }

    fn probe(work: Duration, at_tick: Vec<Option<Event>>) -> (Probe, Receiver<Event>) {
        let (events, receiver) = mpsc::channel();
        let probe = Probe {
            ticks: Vec::new(),
            reloads: 0,
            work,
            events,
            at_tick,
        };
        (probe, receiver)
    }

    #[test]
    fn ticks_keep_the_cadence_and_a_stop_during_a_tick_waits_for_its_end() {
        let period = Duration::from_millis(200);
        let (mut job, events) = probe(
            Duration::from_millis(100),
            vec![None, None, Some(Event::Stop("SIGTERM"))],
        );
        let stopped = drive(period, &events, &mut job);
        assert_eq!(stopped, Stopped::Signal("SIGTERM"));
        assert_eq!(job.ticks.len(), 3);
        let total = job.ticks[2] - job.ticks[0];
        // Two periods from the first start to the third (400ms), not two periods plus the work
        // of two runs (600ms).
        assert!(
            total >= 2 * period && total < 2 * period + Duration::from_millis(120),
            "{total:?}"
        );
    }

    #[test]
    fn a_long_run_is_followed_at_once_without_a_burst() {
        let period = Duration::from_millis(300);
        let work = Duration::from_millis(400);
        let (mut job, events) = probe(work, vec![None, None, Some(Event::Stop("SIGINT"))]);
        assert_eq!(drive(period, &events, &mut job), Stopped::Signal("SIGINT"));
        assert_eq!(job.ticks.len(), 3);
        for pair in job.ticks.windows(2) {
            let gap = pair[1] - pair[0];
            // Never overlapping (at least the work), never waiting a period on top of it
            // (700ms).
            assert!(gap >= work && gap < work + 2 * period / 3, "{gap:?}");
        }
    }

    #[test]
    fn a_stop_while_waiting_ends_the_loop_promptly() {
        let (mut job, events) = probe(Duration::ZERO, vec![]);
        let sender = job.events.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            sender.send(Event::Reload).expect("listening");
            sender.send(Event::Stop("SIGTERM")).expect("listening");
        });
        let start = Instant::now();
        let stopped = drive(Duration::from_secs(3600), &events, &mut job);
        stopper.join().expect("stopper");
        assert_eq!(stopped, Stopped::Signal("SIGTERM"));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_eq!((job.ticks.len(), job.reloads), (1, 1));
    }

    #[test]
    fn no_event_source_stops_the_loop() {
        let (mut job, events) = probe(Duration::ZERO, vec![]);
        drop(job.events.clone());
        let (sender, _) = mpsc::channel();
        job.events = sender;
        // The probe's own sender was the only one: replacing it disconnects `events`.
        assert_eq!(
            drive(Duration::from_secs(3600), &events, &mut job),
            Stopped::NoEvents
        );
    }
}
