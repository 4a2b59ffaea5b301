//! Every host's deploy lock, all or none (DESIGN.md §9). First every host's lock at once,
//! without waiting: when no other run holds any (the usual case) that costs one round trip
//! to the slowest host, not one host after the other. When any host refuses, the ones taken
//! are given back and the locks are taken one after the other in host-name order (two fleet
//! runs sharing hosts then meet on the same first lock and never hold one each of two), each
//! waiting up to `--lock-wait`; when one cannot be had, the ones already taken are released
//! before the error is returned, so a refused fleet run leaves no lock behind.

use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;

use super::select::lock_order;
use crate::engine::Engine;
use crate::lock::{self, LockError, LockGuard};
use crate::progress::Reporter;

/// How [`take_all`] asks for one host's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Every host at once, not waiting.
    NoWait,
    /// One after the other in host-name order, waiting up to `--lock-wait` each.
    InOrder,
}

/// Takes `take(i, _)` for every host `i` of `names`: all at once with [`Attempt::NoWait`];
/// if any fails, `release`s the ones taken and goes the ordered way ([`take_in_order`]),
/// which two runs sharing hosts cannot deadlock in (the concurrent first try never waits, so
/// it cannot either). On success the guards come back indexed like `names`.
pub async fn take_all<G, E, T, TF, R, RF>(
    names: &[String],
    mut take: T,
    mut release: R,
) -> Result<Vec<G>, (usize, E)>
where
    T: FnMut(usize, Attempt) -> TF,
    TF: Future<Output = Result<G, E>>,
    R: FnMut(usize, G) -> RF,
    RF: Future<Output = ()>,
{
    let tries: Vec<TF> = (0..names.len()).map(|i| take(i, Attempt::NoWait)).collect();
    let results = join_all(tries).await;
    if results.iter().all(Result::is_ok) {
        return Ok(results.into_iter().filter_map(Result::ok).collect());
    }
    // Held elsewhere (or an engine failed): nothing is kept from the first try. The ordered
    // way reports what stops it, after waiting as `--lock-wait` says.
    let releases: Vec<RF> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.ok().map(|guard| release(i, guard)))
        .collect();
    join_all(releases).await;
    take_in_order(names, take, release).await
}

/// Takes `take(i, InOrder)` for every host `i` in the order of `names` sorted; on the first
/// error, `release`s what was taken (newest first) and returns the failing host's index with
/// the error. On success the guards come back indexed like `names`.
pub async fn take_in_order<G, E, TF: Future<Output = Result<G, E>>, RF: Future<Output = ()>>(
    names: &[String],
    mut take: impl FnMut(usize, Attempt) -> TF,
    mut release: impl FnMut(usize, G) -> RF,
) -> Result<Vec<G>, (usize, E)> {
    let mut taken: Vec<(usize, G)> = Vec::new();
    for i in lock_order(names) {
        match take(i, Attempt::InOrder).await {
            Ok(guard) => taken.push((i, guard)),
            Err(e) => {
                while let Some((j, guard)) = taken.pop() {
                    release(j, guard).await;
                }
                return Err((i, e));
            }
        }
    }
    taken.sort_by_key(|(i, _)| *i);
    Ok(taken.into_iter().map(|(_, g)| g).collect())
}

/// One host's lock, waiting up to `wait`; a lock left by a bgdeploy of this machine that is
/// gone (killed with -9 mid-run) is taken over once, as the single-host deploy does.
pub async fn take(
    engine: &Engine,
    app: &str,
    stage: &str,
    wait: Duration,
    host: &str,
    reporter: &mut dyn Reporter,
) -> Result<LockGuard, LockError> {
    let waiting = |reporter: &mut dyn Reporter, holder: &lock::Holder, waited: Duration| {
        reporter.step_progress(&format!(
            "[{host}] waiting for the lock held by {} ({}s so far)",
            holder.owner,
            waited.as_secs()
        ));
    };
    let first = {
        let mut on_wait = |h: &lock::Holder, w: Duration| waiting(&mut *reporter, h, w);
        lock::acquire(engine, app, stage, wait, &mut on_wait).await
    };
    match first {
        Err(LockError::Held {
            stale: true, owner, ..
        }) => {
            reporter.note(&format!(
                "[{host}] taking over the stale lock of {owner} (that process no longer exists)"
            ));
            lock::force_release(engine, app, stage).await?;
            let mut on_wait = |h: &lock::Holder, w: Duration| waiting(&mut *reporter, h, w);
            lock::acquire(engine, app, stage, wait, &mut on_wait).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::{Attempt, take_all, take_in_order};

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    type Taken = Result<Vec<String>, (usize, String)>;

    /// `take_all`'s first, concurrent try of hosts web3, web1, web2.
    const FIRST_TRY: [&str; 3] = ["try web3", "try web1", "try web2"];

    /// A fake lock table: `busy` hosts refuse, `busy_at_first` ones refuse only the first,
    /// concurrent try (their holder lets go meanwhile); the log says what happened in which
    /// order (`try` a no-wait attempt, `take` an ordered one).
    async fn run(
        hosts: &[&str],
        busy: &[&str],
        busy_at_first: &[&str],
        ordered_only: bool,
    ) -> (Taken, Vec<String>) {
        let hosts = names(hosts);
        let log = RefCell::new(Vec::new());
        let take = |i: usize, attempt: Attempt| {
            let name = hosts[i].clone();
            let refused = busy.contains(&name.as_str())
                || (attempt == Attempt::NoWait && busy_at_first.contains(&name.as_str()));
            let verb = match attempt {
                Attempt::NoWait => "try",
                Attempt::InOrder => "take",
            };
            log.borrow_mut().push(format!("{verb} {name}"));
            async move {
                if refused {
                    Err(format!("{name} is locked"))
                } else {
                    Ok(format!("guard {name}"))
                }
            }
        };
        let release = |i: usize, guard: String| {
            log.borrow_mut()
                .push(format!("release {} ({guard})", hosts[i]));
            async {}
        };
        let result = if ordered_only {
            take_in_order(&hosts, take, release).await
        } else {
            take_all(&hosts, take, release).await
        };
        (result, log.into_inner())
    }

    /// All free: the ordered way takes them in name order; `take_all` at once, without the
    /// ordered way. Either returns them in rollout order.
    #[tokio::test]
    async fn all_taken_in_name_order_and_returned_in_rollout_order() {
        for (ordered_only, expected) in [
            (true, ["take web1", "take web2", "take web3"]),
            (false, FIRST_TRY),
        ] {
            let (result, log) = run(&["web3", "web1", "web2"], &[], &[], ordered_only).await;
            assert_eq!(log, expected);
            assert_eq!(
                result.expect("all free"),
                ["guard web3", "guard web1", "guard web2"]
            );
        }
    }

    #[tokio::test]
    async fn one_refused_releases_the_ones_taken_and_takes_no_more() {
        let (result, log) = run(&["web3", "web1", "web2", "web4"], &["web3"], &[], true).await;
        assert_eq!(
            log,
            [
                "take web1",
                "take web2",
                "take web3",
                "release web2 (guard web2)",
                "release web1 (guard web1)",
            ]
        );
        assert_eq!(
            result.expect_err("web3 busy"),
            (0, "web3 is locked".to_string())
        );
    }

    #[tokio::test]
    async fn the_first_refused_leaves_nothing_to_release() {
        let (result, log) = run(&["b", "a"], &["a"], &[], true).await;
        assert_eq!(log, ["take a"]);
        assert_eq!(result.expect_err("a busy").0, 1);
    }

    #[tokio::test]
    async fn one_refusing_the_first_try_sends_every_lock_back_then_the_ordered_way() {
        let (result, log) = run(&["web3", "web1", "web2"], &[], &["web1"], false).await;
        assert_eq!(
            log,
            [
                FIRST_TRY.as_slice(),
                &["release web3 (guard web3)", "release web2 (guard web2)"],
                &["take web1", "take web2", "take web3"],
            ]
            .concat()
        );
        assert_eq!(
            result.expect("free by the ordered way"),
            ["guard web3", "guard web1", "guard web2"]
        );
    }

    #[tokio::test]
    async fn still_held_in_the_ordered_way_leaves_no_lock_behind() {
        let (result, log) = run(&["web3", "web1", "web2"], &["web2"], &[], false).await;
        assert_eq!(
            log,
            [
                FIRST_TRY.as_slice(),
                &["release web3 (guard web3)", "release web1 (guard web1)"],
                &["take web1", "take web2", "release web1 (guard web1)"],
            ]
            .concat()
        );
        assert_eq!(
            result.expect_err("web2 busy"),
            (2, "web2 is locked".to_string())
        );
    }
}
