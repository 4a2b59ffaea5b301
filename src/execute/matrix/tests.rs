//! The matrix's cases: one test per command and driver, each walking every engine call (two
//! ways to fail) and every step start (a signal). Failures are collected and shown together.

use super::oracle::{self, Expect, Side};
use super::{Cmd, Driver, Fixture, Signal};
use crate::engine::fake::{Fault, Target, When};
use crate::error::exit;
use crate::plan::Action;

/// Walks `cmd` behind `driver`; returns how many runs were checked.
async fn walk(driver: Driver, cmd: Cmd) -> usize {
    walk_fixture(Fixture::new(driver, cmd).await, cmd).await
}

async fn walk_fixture(f: Fixture, cmd: Cmd) -> usize {
    let driver = f.driver;
    let engine = f.engine();
    let clean = f.run(&engine, cmd, None).await;
    let plan = clean
        .plan
        .clone()
        .expect("the undisturbed run planned under the lock");
    let target = plan.container.clone();
    let old = oracle::live(&f.world);
    assert_eq!(old.len(), 1, "one live release before the run: {old:?}");
    let pnr = oracle::point_of_no_return(&plan.steps, &old)
        .unwrap_or_else(|| panic!("no step takes {old:?} out: {:#?}", plan.steps));
    let total = plan.steps.len();
    let committed = |codes| Expect {
        side: Side::Committed,
        codes,
        target: &target,
        lock_may_stay: false,
    };
    oracle::check(&f, &f.world, &engine.world(), &clean, &committed(&[0]))
        .unwrap_or_else(|e| panic!("the undisturbed {cmd:?} behind {driver:?}: {e}\n{clean:?}"));

    let mut failures = Vec::new();
    let mut runs = 0;
    let calls = engine.calls();
    let lock = crate::names::lock_name(super::APP, super::STAGE);
    let release_step = plan
        .steps
        .iter()
        .position(|s| matches!(s.action, Action::ReleaseLock { .. }))
        .map(|i| i + 1);
    for (i, call) in calls.iter().enumerate() {
        for when in [When::Before, When::After] {
            let engine = f.engine();
            engine.set_fault(Some(Fault {
                target: Target::Call(i),
                when,
            }));
            let ran = f.run(&engine, cmd, None).await;
            runs += 1;
            let side = if call.step >= pnr {
                Side::Committed
            } else {
                Side::Undone
            };
            let codes: &[i32] = match side {
                // The lock's own failures are the engine's (3); the rest fail the deploy (1).
                Side::Undone if call.step <= 1 => &[exit::DEPLOY_FAILED, exit::ENGINE],
                Side::Undone => &[exit::DEPLOY_FAILED],
                Side::Committed => &[exit::OK, exit::NEEDS_PERSON],
            };
            let lock_may_stay = (call.op == "remove_container" && Some(call.step) == release_step)
                || (call.op == "create_container" && call.object == lock && when == When::After);
            let expect = Expect {
                side,
                codes,
                target: &target,
                lock_may_stay,
            };
            let struck = engine.struck();
            let after = engine.world();
            let verdict = match struck {
                Some(n) if n == i => oracle::check(&f, &f.world, &after, &ran, &expect),
                _ => Err(format!("the fault never struck (struck {struck:?})")),
            };
            // A call of the step that takes the old release out fails before that happened:
            // undoing everything is as right as finishing.
            let verdict = verdict.or_else(|e| {
                let undone = Expect {
                    side: Side::Undone,
                    codes: &[exit::DEPLOY_FAILED],
                    ..expect
                };
                match call.step == pnr && oracle::check(&f, &f.world, &after, &ran, &undone).is_ok()
                {
                    true => Ok(()),
                    false => Err(e),
                }
            });
            // A call whose failure the deploy goes past by design may also end in success.
            let verdict = verdict.or_else(|e| {
                let tolerated = best_effort(call.op, &call.object, &lock);
                let done = Expect {
                    lock_may_stay,
                    ..committed(&[exit::OK])
                };
                match tolerated && oracle::check(&f, &f.world, &after, &ran, &done).is_ok() {
                    true => Ok(()),
                    false => Err(e),
                }
            });
            if let Err(e) = verdict {
                failures.push(format!(
                    "{cmd:?} behind {driver:?}: call {i} `{} {}` in step {} ({}) failing {when:?} \
                     (point of no return: step {pnr}, {:?}):\n{e}\n  error: {:?}\n  notes: {:?}",
                    call.op,
                    call.object,
                    call.step,
                    step_name(&plan, call.step),
                    side,
                    ran.error,
                    ran.notes
                ));
            }
        }
    }
    // A signal before the first step, after each step, and during each step that calls the
    // engine; from the point of no return on the run finishes.
    let mut signals = vec![(Signal::AtStart, false)];
    for k in 1..=total {
        signals.push((Signal::After(k), k >= pnr));
        if calls.iter().any(|c| c.step == k) {
            signals.push((Signal::During(k), k >= pnr));
        }
    }
    for (signal, past) in signals {
        let engine = f.engine();
        let ran = f.run(&engine, cmd, Some(signal)).await;
        runs += 1;
        let (side, codes): (Side, &[i32]) = if past {
            (Side::Committed, &[exit::OK])
        } else {
            (Side::Undone, &[exit::DEPLOY_FAILED])
        };
        let expect = Expect {
            side,
            codes,
            target: &target,
            lock_may_stay: false,
        };
        if let Err(e) = oracle::check(&f, &f.world, &engine.world(), &ran, &expect) {
            let k = match signal {
                Signal::AtStart => 1,
                Signal::After(k) | Signal::During(k) => k,
            };
            failures.push(format!(
                "{cmd:?} behind {driver:?}: signal {signal:?} ({}) (point of no return: step \
                 {pnr}, {side:?}):\n{e}\n  error: {:?}",
                step_name(&plan, k),
                ran.error
            ));
        }
    }
    eprintln!(
        "{cmd:?} behind {driver:?}: {runs} runs ({} calls, {total} steps)",
        calls.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs broke the invariant:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    runs
}

/// Calls whose failure a deploy goes past: the history (a note), the drain count (not knowing
/// it is no reason to keep the old release), seeing nginx's workers (the reload's effect is
/// then unconfirmed), logs, the removal of a killed run's probes, the removal of a one-off
/// that succeeded (an ended one-off is a leftover the next deploy removes).
fn best_effort(op: &str, object: &str, lock: &str) -> bool {
    matches!(
        op,
        "remove_stale_probes" | "drain" | "processes" | "logs_tail" | "log_stream"
    ) || (matches!(op, "get_file" | "put_file") && object == lock)
        || (op == "remove_container" && object.contains("_oneoff-"))
}

fn step_name(plan: &crate::plan::Plan, n: usize) -> String {
    n.checked_sub(1)
        .and_then(|i| plan.steps.get(i))
        .map_or_else(|| "before the first step".to_string(), |s| s.action_name())
}

macro_rules! matrix {
    ($($name:ident: $driver:expr, $cmd:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let runs = walk($driver, $cmd).await;
            assert!(runs > 40, "only {runs} runs");
        }
    )*};
}

matrix! {
    up_behind_nginx: Driver::Nginx, Cmd::Up;
    up_behind_nginx_proxy: Driver::NginxProxy, Cmd::Up;
    up_behind_command: Driver::Command, Cmd::Up;
    up_without_proxy: Driver::None, Cmd::Up;
    cutover_behind_nginx: Driver::Nginx, Cmd::Cutover;
    cutover_behind_nginx_proxy: Driver::NginxProxy, Cmd::Cutover;
    cutover_behind_command: Driver::Command, Cmd::Cutover;
    cutover_without_proxy: Driver::None, Cmd::Cutover;
    rollback_behind_nginx: Driver::Nginx, Cmd::Rollback;
    rollback_behind_nginx_proxy: Driver::NginxProxy, Cmd::Rollback;
    rollback_behind_command: Driver::Command, Cmd::Rollback;
    rollback_without_proxy: Driver::None, Cmd::Rollback;
}

/// With `hooks.before_switch`, a one-off container runs between the health wait and the
/// switch: a failure or a signal around it removes it with the rest.
#[tokio::test]
async fn up_with_before_switch_behind_nginx() {
    let hook = "    hooks: {before_switch: {command: [migrate], timeout: 1m}}\n";
    let f = Fixture::with(Driver::Nginx, Cmd::Up, hook).await;
    let runs = walk_fixture(f, Cmd::Up).await;
    assert!(runs > 40, "only {runs} runs");
}

/// A failure named by operation and object rather than by index: the new release's attach to
/// `FRONT_` refused, the deploy undone.
#[tokio::test]
async fn a_failure_named_by_operation_and_object_is_undone() {
    let f = Fixture::new(Driver::Nginx, Cmd::Up).await;
    let engine = f.engine();
    let front = crate::names::front_network(super::APP, super::STAGE);
    engine.set_fault(Some(Fault {
        target: Target::Op {
            op: "connect_network".into(),
            object: format!("shop_stage_run to {front}"),
        },
        when: When::Before,
    }));
    let ran = f.run(&engine, Cmd::Up, None).await;
    assert!(engine.struck().is_some(), "the fault struck: {ran:?}");
    let undone = Expect {
        side: Side::Undone,
        codes: &[exit::DEPLOY_FAILED],
        target: "shop_stage_run",
        lock_may_stay: false,
    };
    oracle::check(&f, &f.world, &engine.world(), &ran, &undone).unwrap_or_else(|e| panic!("{e}"));
}

/// An operator's script that switched half-way and then failed (`may_half_apply`): the deploy
/// is undone, and the script is told to route back to the old release.
#[tokio::test]
async fn a_command_that_half_switched_is_told_to_route_back() {
    let mut f = Fixture::new(Driver::Command, Cmd::Up).await;
    let log = f
        .log
        .as_ref()
        .map(|l| l.path().display().to_string())
        .unwrap_or_default();
    let script = format!(
        "echo \"$BGDEPLOY_PHASE $BGDEPLOY_BACKENDS\" >> {log}; test \"$BGDEPLOY_PHASE\" != add"
    );
    f.deploy.proxy.driver = crate::spec::ProxyDriver::Command {
        command: vec!["sh".into(), "-c".into(), script],
    };
    let engine = f.engine();
    let ran = f.run(&engine, Cmd::Up, None).await;
    let undone = Expect {
        side: Side::Undone,
        codes: &[exit::DEPLOY_FAILED],
        target: "shop_stage_run",
        lock_may_stay: false,
    };
    oracle::check(&f, &f.world, &engine.world(), &ran, &undone).unwrap_or_else(|e| panic!("{e}"));
    let told = f.read_log();
    let phases: Vec<&str> = told
        .lines()
        .skip(f.log_text.lines().count())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        phases,
        ["add", "remove"],
        "switched, then told to route back: {told}"
    );
}
