//! Retrying until done or a deadline, on tokio's clock (so tests can pause it).

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

/// One try's outcome: done with a `T`, or still blocked by a `W` (e.g. who holds the lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attempt<T, W> {
    Done(T),
    Busy(W),
}

/// Calls `attempt` until it is `Done`, every `interval`, until `wait` has passed since the
/// first call; the last try happens at the deadline, so a holder that lets go just then still
/// counts. `on_busy` hears of every blocked try but the last, with the time waited so far.
/// Gives `Ok(Err(w))` with the last blocker when time runs out.
pub(crate) async fn poll<T, W, E, Fut>(
    wait: Duration,
    interval: Duration,
    mut attempt: impl FnMut() -> Fut,
    mut on_busy: impl FnMut(&W, Duration),
) -> Result<Result<T, W>, E>
where
    Fut: Future<Output = Result<Attempt<T, W>, E>>,
{
    let start = Instant::now();
    let deadline = start + wait;
    loop {
        let blocker = match attempt().await? {
            Attempt::Done(t) => return Ok(Ok(t)),
            Attempt::Busy(w) => w,
        };
        let now = Instant::now();
        if now >= deadline {
            return Ok(Err(blocker));
        }
        on_busy(&blocker, now - start);
        sleep_until((now + interval).min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::convert::Infallible;

    use super::*;

    const TICK: Duration = Duration::from_millis(250);

    /// Busy (with the try's number) until try `done_at`; records when each try happened.
    fn tries(
        done_at: usize,
        log: &RefCell<Vec<Duration>>,
        start: Instant,
    ) -> impl FnMut() -> std::future::Ready<Result<Attempt<&'static str, usize>, Infallible>> + '_
    {
        move || {
            log.borrow_mut().push(start.elapsed());
            let n = log.borrow().len();
            std::future::ready(Ok(if n >= done_at {
                Attempt::Done("taken")
            } else {
                Attempt::Busy(n)
            }))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn done_at_once_does_not_wait() {
        let log = RefCell::new(Vec::new());
        let start = Instant::now();
        let mut heard = 0;
        let got = poll(
            Duration::from_secs(5),
            TICK,
            tries(1, &log, start),
            |_, _| heard += 1,
        )
        .await;
        assert_eq!(got, Ok::<_, Infallible>(Ok("taken")));
        assert_eq!(heard, 0);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_wait_tries_once() {
        let log = RefCell::new(Vec::new());
        let start = Instant::now();
        let mut heard = 0;
        let got = poll(Duration::ZERO, TICK, tries(99, &log, start), |_, _| {
            heard += 1
        })
        .await;
        assert_eq!(got, Ok::<_, Infallible>(Err(1)));
        assert_eq!((log.borrow().len(), heard), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_every_interval_until_done() {
        let log = RefCell::new(Vec::new());
        let start = Instant::now();
        let mut heard = Vec::new();
        let got = poll(
            Duration::from_secs(3),
            TICK,
            tries(5, &log, start),
            |w, waited| {
                heard.push((*w, waited));
            },
        )
        .await;
        assert_eq!(got, Ok::<_, Infallible>(Ok("taken")));
        let ms = |m| Duration::from_millis(m);
        assert_eq!(*log.borrow(), [ms(0), ms(250), ms(500), ms(750), ms(1000)]);
        assert_eq!(
            heard,
            [(1, ms(0)), (2, ms(250)), (3, ms(500)), (4, ms(750))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_after_a_last_try() {
        let log = RefCell::new(Vec::new());
        let start = Instant::now();
        let got = poll(
            Duration::from_millis(600),
            TICK,
            tries(99, &log, start),
            |_, _| {},
        )
        .await;
        let ms = |m| Duration::from_millis(m);
        assert_eq!(got, Ok::<_, Infallible>(Err(4)));
        assert_eq!(*log.borrow(), [ms(0), ms(250), ms(500), ms(600)]);
        assert_eq!(start.elapsed(), ms(600));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_end_the_wait() {
        let mut calls = 0;
        let got: Result<Result<(), ()>, &str> = poll(
            Duration::from_secs(10),
            TICK,
            || {
                calls += 1;
                std::future::ready(if calls < 3 {
                    Ok(Attempt::Busy(()))
                } else {
                    Err("engine gone")
                })
            },
            |_, _| {},
        )
        .await;
        assert_eq!(got, Err("engine gone"));
        assert_eq!(calls, 3);
    }
}
