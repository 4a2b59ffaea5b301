//! The generic poller behind the `http`, `tcp` and `cmd` checks: probe now, then every
//! `interval`, until enough passes in a row or the deadline. A probe that was refused at the
//! door (nothing listens on the port yet) is repeated after `QUICK_RETRY` instead: that costs
//! the app nothing, and the port opening is usually the moment the app becomes ready, so the
//! deploy notices it within milliseconds rather than up to an `interval` later.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep_until, timeout_at};

use super::probe::{Probe, ProbeReport};

/// How soon a refused probe ([`Probe::Refused`]) is repeated, when `interval` is longer.
/// A refused connection is answered by the container's kernel (a SYN, a RST) and never
/// reaches the app: at this cadence an app that takes a minute to open its port sees about
/// 6000 of them on the host's bridge, and a port that opens is noticed ~5 ms later on average.
pub const QUICK_RETRY: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// From the start of one probe to the start of the next.
    pub interval: Duration,
    /// Passes in a row needed; 0 counts as 1.
    pub healthy: u32,
    /// No probe starts at or after this instant, and one still running then is abandoned.
    pub deadline: Instant,
}

/// The deadline passed before enough probes in a row passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTimeout {
    /// The last probe that finished (or a note that none did).
    pub last: Probe,
    /// Probes that finished.
    pub attempts: u32,
}

/// Runs `probe` until `schedule.healthy` passes in a row; `Ok` holds the number of probes run.
///
/// Probes start on a fixed cadence measured from each probe's start, so a slow probe does not
/// stretch it; one that takes longer than `interval` is followed at once by the next, without
/// a burst to catch up. A refused probe is followed by the next after `QUICK_RETRY` (or
/// `interval`, if shorter). `on_probe` hears about every probe that finished, except refused
/// ones that repeat the last report within `interval` (so progress output keeps the pace of
/// `interval`).
pub async fn poll<F, Fut>(
    mut probe: F,
    schedule: Schedule,
    on_probe: &mut dyn FnMut(&ProbeReport),
) -> Result<u32, PollTimeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe>,
{
    let started = Instant::now();
    let needed = schedule.healthy.max(1);
    let mut attempts = 0;
    let mut streak = 0;
    let mut last: Option<Probe> = None;
    let mut reported: Option<(String, Instant)> = None;
    loop {
        let probe_started = Instant::now();
        let Ok(result) = timeout_at(schedule.deadline, probe()).await else {
            let last = last.unwrap_or_else(|| {
                Probe::Fail("the first probe had not finished when the deadline passed".into())
            });
            return Err(PollTimeout { last, attempts });
        };
        attempts += 1;
        streak = if result.passed() { streak + 1 } else { 0 };
        let repeat = result.refused()
            && reported.as_ref().is_some_and(|(text, at)| {
                text == result.text() && at.elapsed() < schedule.interval
            });
        if !repeat {
            on_probe(&ProbeReport {
                attempt: attempts,
                probe: result.clone(),
                streak,
                needed,
                elapsed: started.elapsed(),
            });
            reported = Some((result.text().to_string(), Instant::now()));
        }
        if streak >= needed {
            return Ok(attempts);
        }
        let gap = if result.refused() {
            QUICK_RETRY.min(schedule.interval)
        } else {
            schedule.interval
        };
        let next = (probe_started + gap).max(Instant::now());
        if next >= schedule.deadline {
            return Err(PollTimeout {
                last: result,
                attempts,
            });
        }
        last = Some(result);
        sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;

    const INTERVAL: Duration = Duration::from_millis(500);

    /// A probe that answers from a script (then keeps failing), each answer after `takes`,
    /// and records when each probe started, relative to `origin`.
    struct Scripted {
        origin: Instant,
        answers: RefCell<VecDeque<bool>>,
        takes: Duration,
        starts: RefCell<Vec<Duration>>,
    }

    impl Scripted {
        fn new(answers: &[bool], takes: Duration) -> Scripted {
            Scripted {
                origin: Instant::now(),
                answers: RefCell::new(answers.iter().copied().collect()),
                takes,
                starts: RefCell::new(Vec::new()),
            }
        }

        async fn probe(&self) -> Probe {
            self.starts.borrow_mut().push(self.origin.elapsed());
            tokio::time::sleep(self.takes).await;
            let n = self.starts.borrow().len();
            if self.answers.borrow_mut().pop_front().unwrap_or(false) {
                Probe::Pass(format!("pass {n}"))
            } else {
                Probe::Fail(format!("fail {n}"))
            }
        }

        fn starts_ms(&self) -> Vec<u128> {
            self.starts
                .borrow()
                .iter()
                .map(Duration::as_millis)
                .collect()
        }
    }

    fn schedule(healthy: u32, deadline: Duration) -> Schedule {
        Schedule {
            interval: INTERVAL,
            healthy,
            deadline: Instant::now() + deadline,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_probe_runs_immediately() {
        let script = Scripted::new(&[true], Duration::ZERO);
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(10)),
            &mut |_| {},
        )
        .await;
        assert_eq!(outcome, Ok(1));
        assert_eq!(script.starts_ms(), [0]);
        assert_eq!(script.origin.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_after_failures_on_the_exact_cadence() {
        let script = Scripted::new(&[false, false, false, true], Duration::ZERO);
        let mut reports = Vec::new();
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(10)),
            &mut |r| reports.push(r.clone()),
        )
        .await;
        assert_eq!(outcome, Ok(4));
        assert_eq!(script.starts_ms(), [0, 500, 1000, 1500]);
        assert_eq!(script.origin.elapsed(), Duration::from_millis(1500));
        let attempts: Vec<u32> = reports.iter().map(|r| r.attempt).collect();
        assert_eq!(attempts, [1, 2, 3, 4]);
        assert_eq!(reports[3].probe, Probe::Pass("pass 4".into()));
        assert_eq!(reports[3].elapsed, Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_resets_the_streak() {
        let script = Scripted::new(&[true, false, true, true, true], Duration::ZERO);
        let mut streaks = Vec::new();
        let outcome = poll(
            || script.probe(),
            schedule(3, Duration::from_secs(10)),
            &mut |r| streaks.push((r.streak, r.needed)),
        )
        .await;
        assert_eq!(outcome, Ok(5));
        assert_eq!(streaks, [(1, 3), (0, 3), (1, 3), (2, 3), (3, 3)]);
        assert_eq!(script.origin.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_next_probe_would_start_at_the_deadline() {
        let script = Scripted::new(&[], Duration::ZERO);
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(2)),
            &mut |_| {},
        )
        .await;
        assert_eq!(
            outcome,
            Err(PollTimeout {
                last: Probe::Fail("fail 4".into()),
                attempts: 4
            })
        );
        assert_eq!(script.starts_ms(), [0, 500, 1000, 1500]);
        assert_eq!(script.origin.elapsed(), Duration::from_millis(1500));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_probes_keep_the_cadence_and_never_burst() {
        let script = Scripted::new(&[false, false, true], Duration::from_millis(200));
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(10)),
            &mut |_| {},
        )
        .await;
        assert_eq!(outcome, Ok(3));
        assert_eq!(script.starts_ms(), [0, 500, 1000]);

        let script = Scripted::new(&[false, false, true], Duration::from_millis(700));
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(10)),
            &mut |_| {},
        )
        .await;
        assert_eq!(outcome, Ok(3));
        assert_eq!(script.starts_ms(), [0, 700, 1400]);
    }

    /// Answers from a script of probes; records when each started.
    async fn scripted(
        answers: &RefCell<VecDeque<Probe>>,
        starts: &RefCell<Vec<u128>>,
        origin: Instant,
    ) -> Probe {
        starts.borrow_mut().push(origin.elapsed().as_millis());
        answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Probe::Fail("no more answers".into()))
    }

    #[tokio::test(start_paused = true)]
    async fn refused_probes_are_repeated_quickly_and_reported_at_the_interval_pace() {
        let refused = || Probe::Refused("GET /up → connection refused".into());
        // 120 refusals (1.2 s of a closed port), then the app answers: 404, then 200.
        let mut script: VecDeque<Probe> = (0..120).map(|_| refused()).collect();
        script.push_back(Probe::Fail("GET /up → 404 Not Found".into()));
        script.push_back(Probe::Pass("GET /up → 200 OK".into()));
        let answers = RefCell::new(script);
        let starts = RefCell::new(Vec::new());
        let origin = Instant::now();
        let mut reports = Vec::new();
        let outcome = poll(
            || scripted(&answers, &starts, origin),
            schedule(1, Duration::from_secs(10)),
            &mut |r| reports.push((r.attempt, r.elapsed.as_millis())),
        )
        .await;
        assert_eq!(outcome, Ok(122));
        let starts = starts.borrow();
        // Every refusal is followed 10 ms later; the 404 (an answer) by `interval`.
        assert_eq!(starts[..4], [0, 10, 20, 30]);
        assert_eq!(starts[120], 1200);
        assert_eq!(starts[121], 1700);
        // Refusals are reported once per interval; the 404 and the pass always.
        assert_eq!(
            reports,
            [(1, 0), (51, 500), (101, 1000), (121, 1200), (122, 1700)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_never_probes_faster_than_a_short_interval_allows() {
        let answers = RefCell::new(VecDeque::from([
            Probe::Refused("refused".into()),
            Probe::Pass("ok".into()),
        ]));
        let starts = RefCell::new(Vec::new());
        let origin = Instant::now();
        let fast = Schedule {
            interval: Duration::from_millis(5),
            healthy: 1,
            deadline: Instant::now() + Duration::from_secs(1),
        };
        let outcome = poll(|| scripted(&answers, &starts, origin), fast, &mut |_| {}).await;
        assert_eq!(outcome, Ok(2));
        assert_eq!(*starts.borrow(), [0, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_port_that_never_opens_times_out_with_the_refusal() {
        let refused = RefCell::new(0u32);
        let outcome = poll(
            || {
                *refused.borrow_mut() += 1;
                async { Probe::Refused("GET /up → connection refused".into()) }
            },
            schedule(1, Duration::from_secs(2)),
            &mut |_| {},
        )
        .await;
        let Err(timeout) = outcome else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert!(timeout.last.refused(), "{timeout:?}");
        assert_eq!(timeout.attempts, 200);
        assert_eq!(*refused.borrow(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_abandons_a_hanging_probe() {
        let script = Scripted::new(&[false], Duration::from_secs(60));
        let outcome = poll(
            || script.probe(),
            schedule(1, Duration::from_secs(1)),
            &mut |_| {},
        )
        .await;
        let Err(timeout) = outcome else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert_eq!(timeout.attempts, 0);
        assert!(timeout.last.text().contains("first probe"), "{timeout:?}");
        assert_eq!(script.origin.elapsed(), Duration::from_secs(1));

        // A hanging probe after a failed one: the failure is what gets reported.
        let script = Scripted::new(&[false], Duration::from_millis(400));
        let hangs_second = RefCell::new(0);
        let outcome = poll(
            || async {
                *hangs_second.borrow_mut() += 1;
                if *hangs_second.borrow() > 1 {
                    std::future::pending::<()>().await;
                }
                script.probe().await
            },
            schedule(1, Duration::from_secs(3)),
            &mut |_| {},
        )
        .await;
        assert_eq!(
            outcome,
            Err(PollTimeout {
                last: Probe::Fail("fail 1".into()),
                attempts: 1
            })
        );
        assert_eq!(script.origin.elapsed(), Duration::from_secs(3));
    }
}
