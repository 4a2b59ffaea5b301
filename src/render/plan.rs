//! `bgdeploy plan` output.

use std::fmt::Write;

use crate::plan::{Action, Plan};

/// The numbered human form.
pub fn human(plan: &Plan) -> String {
    let mut out = String::new();
    let e = &plan.engine;
    let _ = writeln!(
        out,
        "Plan for {}/{}: deploy {} as {}",
        plan.app, plan.stage, plan.image, plan.container
    );
    let _ = writeln!(out, "Engine {} (API {}) at {}", e.version, e.api, e.host);
    let _ = writeln!(out);
    let width = plan.steps.len().to_string().len();
    let mut group_start = 1;
    for (i, step) in plan.steps.iter().enumerate() {
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
    if plan.warnings.is_empty() {
        let _ = writeln!(
            out,
            "No warnings. Nothing was changed; run `bgdeploy up {} {}` to apply.",
            plan.app, plan.stage
        );
    } else {
        let n = plan.warnings.len();
        let _ = writeln!(out, "{n} warning{}:", if n == 1 { "" } else { "s" });
        for w in &plan.warnings {
            let code = serde_json::to_value(w.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(out, "  ! [{code}] {}", w.message);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Nothing was changed.");
    }
    out
}

/// The JSON contract: `app`, `stage`, `steps` (each with `action` and `target`), `warnings`.
pub fn json(plan: &Plan) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string_pretty(plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
