//! `bgdeploy validate`: the spec file only; no engine.

use serde_json::json;

use super::Globals;
use super::load;
use crate::error::Error;
use crate::output::Output;

pub fn run(globals: &Globals, out: &Output) -> Result<(), Error> {
    let spec = load(globals)?;
    let apps: serde_json::Map<String, serde_json::Value> = spec
        .apps
        .iter()
        .map(|(name, app)| (name.clone(), json!(app.stages.keys().collect::<Vec<_>>())))
        .collect();
    let mut human = format!("{} is valid:\n", spec.path);
    for (name, app) in &spec.apps {
        let stages: Vec<&str> = app.stages.keys().map(String::as_str).collect();
        human.push_str(&format!("  {name}: stages {}\n", stages.join(", ")));
    }
    out.document(
        &human,
        &json!({"file": spec.path, "valid": true, "apps": apps}),
    )
}
