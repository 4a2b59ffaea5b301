//! `bgdeploy plan` output.

use std::fmt::Write;

use crate::plan::{Action, Plan, Prediction, RunPhase, WarningCode};

/// The heading of each phase: what a failure there means.
fn phase_heading(phase: RunPhase) -> &'static str {
    match phase {
        RunPhase::Prepare => {
            "Prepare (a failure or Ctrl-C undoes the run; nothing routes to the incoming release yet):"
        }
        RunPhase::Switch => {
            "Switch (traffic moves to the incoming release; a failure or Ctrl-C still undoes the run):"
        }
        RunPhase::Retire => "Retire (the old release leaves traffic; nothing is undone from here):",
    }
}

/// A warning's code as JSON spells it, e.g. `route_moves`.
fn code_of(code: WarningCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn headline(plan: &Plan) -> String {
    let what = match plan.command {
        "cutover" => format!("make the standby {} ({}) live", plan.container, plan.image),
        "rollback" => format!(
            "make the retired release {} ({}) live again",
            plan.container, plan.image
        ),
        _ => format!("deploy {} as {}", plan.image, plan.container),
    };
    format!(
        "Plan for {}/{} (`{}`): {what}",
        plan.app, plan.stage, plan.command
    )
}

/// The numbered human form, grouped by phase, then the point of no return, the warnings and
/// what the command would end with.
pub fn human(plan: &Plan, prediction: &Prediction) -> String {
    let mut out = String::new();
    let e = &plan.engine;
    let _ = writeln!(out, "{}", headline(plan));
    let _ = writeln!(out, "Engine {} (API {}) at {}", e.version, e.api, e.host);
    let width = plan.steps.len().to_string().len();
    let mut group_start = 1;
    let mut phase = None;
    for (i, step) in plan.steps.iter().enumerate() {
        if phase != Some(step.phase) {
            phase = Some(step.phase);
            let _ = writeln!(out);
            let _ = writeln!(out, "{}", phase_heading(step.phase));
        }
        if step.with_previous {
            let _ = writeln!(
                out,
                "  {:>width$}. (with {group_start}) {}",
                i + 1,
                step.action
            );
        } else {
            group_start = i + 1;
            let _ = writeln!(out, "  {:>width$}. {}", i + 1, step.action);
        }
        if let Action::CreateContainer {
            settings,
            volumes_created,
            ..
        } = &step.action
        {
            for line in super::settings::lines(settings, volumes_created) {
                let _ = writeln!(out, "  {:>width$}  {line}", "");
            }
        }
    }
    let _ = writeln!(out);
    match plan.point_of_no_return() {
        Some(i) => {
            let _ = writeln!(
                out,
                "Point of no return: step {} ({}). Before it a failure or Ctrl-C undoes \
                 everything and the live release keeps serving; from it on nothing is undone.",
                i + 1,
                plan.steps[i].action
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No point of no return: this run takes no release out of traffic, so a failure \
                 or Ctrl-C at any step undoes it."
            );
        }
    }
    let _ = writeln!(out);
    if !plan.warnings.is_empty() {
        let n = plan.warnings.len();
        let _ = writeln!(out, "{n} warning{}:", if n == 1 { "" } else { "s" });
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! [{}] {}", code_of(w.code), w.message);
        }
        let _ = writeln!(out);
    }
    let command = format!("bgdeploy {} {} {}", plan.command, plan.app, plan.stage);
    match &prediction.reason {
        None if plan.warnings.is_empty() => {
            let _ = writeln!(
                out,
                "No warnings. Nothing was changed; run `{command}` to apply."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Nothing was changed. `{command}` would go ahead despite the warnings."
            );
        }
        Some(reason) => {
            // A warning above already says it in full.
            let why = match plan.warnings.iter().find(|w| &w.message == reason) {
                Some(w) => format!("see [{}] above", code_of(w.code)),
                None => reason.clone(),
            };
            let _ = writeln!(
                out,
                "Nothing was changed. `{command}` would stop with exit {}: {why}",
                prediction.exit_code
            );
        }
    }
    out
}

/// The JSON contract: `app`, `stage`, `steps` (each with `action` and `target`), `warnings`;
/// extended with `for`, each step's `run_phase`, `retiring`, `point_of_no_return` (the step's
/// number, or null) and `predicted` (`exit_code`, `reason`).
pub fn json(plan: &Plan, prediction: &Prediction) -> String {
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        plan: &'a Plan,
        point_of_no_return: Option<usize>,
        predicted: &'a Prediction,
    }
    let doc = Doc {
        plan,
        point_of_no_return: plan.point_of_no_return().map(|i| i + 1),
        predicted: prediction,
    };
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// When there is nothing to plan (`cutover` with no standby, `rollback` with nothing retired).
pub fn no_plan(
    command: &str,
    deploy: &crate::spec::Deploy,
    why: &crate::plan::PlanError,
    prediction: &Prediction,
) -> String {
    format!(
        "No plan for {}/{} (`{command}`): {why}\nNothing was changed. `bgdeploy {command} {} {}` \
         would stop with exit {}.\n",
        deploy.app, deploy.stage, deploy.app, deploy.stage, prediction.exit_code
    )
}

/// `no_plan` as the JSON document: the contract's keys, with no steps.
pub fn no_plan_json(
    command: &str,
    deploy: &crate::spec::Deploy,
    prediction: &Prediction,
) -> String {
    let doc = serde_json::json!({
        "app": deploy.app,
        "stage": deploy.stage,
        "for": command,
        "steps": [],
        "warnings": [],
        "retiring": [],
        "point_of_no_return": null,
        "predicted": prediction,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
