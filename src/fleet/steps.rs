//! One host's plan as a fleet runs it: without the lock steps (the fleet holds every lock for
//! the whole run), and with the removals of retired releases beyond `keep` held back until the
//! whole fleet succeeded, because a fleet rollback brings those releases back.

use crate::plan::{Action, RunPhase, Step};

/// The steps to run now, and the prune steps deferred until the fleet run succeeded.
pub fn split(steps: &[Step]) -> (Vec<Step>, Vec<Step>) {
    let mut run: Vec<Step> = Vec::new();
    let mut deferred = Vec::new();
    // A group of steps that start together stays one when a member is taken out; when the
    // step that started it is, the next member kept starts the group instead.
    let mut starter_dropped = false;
    for step in steps {
        let held_back = match &step.action {
            Action::AcquireLock { .. } | Action::ReleaseLock { .. } => true,
            Action::RemoveContainer { .. } if step.phase == RunPhase::Retire => {
                let mut later = step.clone();
                later.with_previous = false;
                deferred.push(later);
                true
            }
            _ => false,
        };
        if held_back {
            starter_dropped |= !step.with_previous;
            continue;
        }
        let mut now = step.clone();
        if starter_dropped || run.is_empty() {
            now.with_previous = false;
        }
        starter_dropped = false;
        run.push(now);
    }
    (run, deferred)
}

#[cfg(test)]
mod tests {
    use super::split;
    use crate::plan::{Action, RunPhase, Step};

    fn stop(name: &str) -> Step {
        Step::new(
            name,
            Action::StopContainer {
                container: name.into(),
                timeout_secs: 1.0,
            },
        )
        .in_phase(RunPhase::Retire)
    }

    fn remove(name: &str, phase: RunPhase) -> Step {
        Step::new(
            name,
            Action::RemoveContainer {
                container: name.into(),
                reason: "r".into(),
            },
        )
        .in_phase(phase)
    }

    #[test]
    fn lock_steps_go_and_retire_removals_wait() {
        let steps = vec![
            Step::new(
                "l",
                Action::AcquireLock {
                    lock: "l".into(),
                    wait_secs: 0.0,
                },
            ),
            remove("standby", RunPhase::Prepare),
            stop("old"),
            remove("older", RunPhase::Retire).alongside(),
            Step::new(
                "shop/stage",
                Action::RecordHistory {
                    app: "shop".into(),
                    stage: "stage".into(),
                },
            )
            .in_phase(RunPhase::Retire)
            .alongside(),
            remove("oldest", RunPhase::Retire),
            Step::new("l", Action::ReleaseLock { lock: "l".into() }).in_phase(RunPhase::Retire),
        ];
        let (run, deferred) = split(&steps);
        let targets: Vec<(&str, bool)> = run
            .iter()
            .map(|s| (s.target.as_str(), s.with_previous))
            .collect();
        assert_eq!(
            targets,
            [("standby", false), ("old", false), ("shop/stage", true)],
            "the history still starts with the stop, without the removal held back"
        );
        let later: Vec<&str> = deferred.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(later, ["older", "oldest"]);
        assert!(deferred.iter().all(|s| !s.with_previous));
    }
}
