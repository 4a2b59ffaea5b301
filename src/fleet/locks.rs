//! Every host's deploy lock, all or none (DESIGN.md §9): taken one after the other in host-name
//! order (two fleet runs sharing hosts then meet on the same first lock and never hold one each
//! of two), each waiting up to `--lock-wait`; when one cannot be had, the ones already taken are
//! released before the error is returned, so a refused fleet run leaves no lock behind.

use std::future::Future;
use std::time::Duration;

use super::select::lock_order;
use crate::engine::Engine;
use crate::lock::{self, LockError, LockGuard};
use crate::progress::Reporter;

/// Takes `take(i)` for every host `i` in the order of `names` sorted; on the first error,
/// `release`s what was taken (newest first) and returns the failing host's index with the
/// error. On success the guards come back indexed like `names`.
pub async fn take_all<G, E, T, TF, R, RF>(
    names: &[String],
    mut take: T,
    mut release: R,
) -> Result<Vec<G>, (usize, E)>
where
    T: FnMut(usize) -> TF,
    TF: Future<Output = Result<G, E>>,
    R: FnMut(usize, G) -> RF,
    RF: Future<Output = ()>,
{
    let mut taken: Vec<(usize, G)> = Vec::new();
    for i in lock_order(names) {
        match take(i).await {
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

    use super::take_all;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    /// A fake lock table: `busy` hosts refuse; the log says what happened in which order.
    async fn run(
        hosts: &[&str],
        busy: &[&str],
    ) -> (Result<Vec<String>, (usize, String)>, Vec<String>) {
        let hosts = names(hosts);
        let log = RefCell::new(Vec::new());
        let result = take_all(
            &hosts,
            |i| {
                let name = hosts[i].clone();
                let refused = busy.contains(&name.as_str());
                log.borrow_mut().push(format!("take {name}"));
                async move {
                    if refused {
                        Err(format!("{name} is locked"))
                    } else {
                        Ok(format!("guard {name}"))
                    }
                }
            },
            |i, guard: String| {
                log.borrow_mut()
                    .push(format!("release {} ({guard})", hosts[i]));
                async {}
            },
        )
        .await;
        (result, log.into_inner())
    }

    #[tokio::test]
    async fn all_taken_in_name_order_and_returned_in_rollout_order() {
        let (result, log) = run(&["web3", "web1", "web2"], &[]).await;
        assert_eq!(log, ["take web1", "take web2", "take web3"]);
        assert_eq!(
            result.expect("all free"),
            ["guard web3", "guard web1", "guard web2"]
        );
    }

    #[tokio::test]
    async fn one_refused_releases_the_ones_taken_and_takes_no_more() {
        let (result, log) = run(&["web3", "web1", "web2", "web4"], &["web3"]).await;
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
        let (result, log) = run(&["b", "a"], &["a"]).await;
        assert_eq!(log, ["take a"]);
        assert_eq!(result.expect_err("a busy").0, 1);
    }
}
