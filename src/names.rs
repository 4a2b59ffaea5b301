//! Names and labels that carry bgdeploy's state in the engine. These are a contract
//! (DESIGN.md §2): operators filter on the labels and read the names in `docker ps`.

pub const LABEL_APP: &str = "bgdeploy.app";
pub const LABEL_STAGE: &str = "bgdeploy.stage";
pub const LABEL_MANAGED: &str = "bgdeploy.managed";
/// What a bgdeploy container is: `app` (a release), `lock` (the deploy lock).
pub const LABEL_KIND: &str = "bgdeploy.kind";
pub const LABEL_LOCK_OWNER: &str = "bgdeploy.lock.owner";
pub const LABEL_LOCK_SINCE: &str = "bgdeploy.lock.since";

/// The image a release was deployed from, as asked for (the tag, not the digest).
pub const LABEL_IMAGE: &str = "bgdeploy.image";

pub const KIND_APP: &str = "app";
pub const KIND_NETWORK: &str = "network";
pub const KIND_LOCK: &str = "lock";
/// A container that runs one command of a release and is removed: `hooks.before_switch`,
/// `exec --one-off`. Never a release: not live, standby or retired.
pub const KIND_ONEOFF: &str = "oneoff";

/// `<app>_<stage>_oneoff-<suffix>`: a one-off container of a release.
pub fn oneoff_name(app: &str, stage: &str, suffix: &str) -> String {
    format!("{app}_{stage}_oneoff-{suffix}")
}

/// `BACK_<app>_<stage>`: where a release starts and is health-checked. `B` sorts before
/// `F`, so attaching the front network later does not take the default route.
pub fn back_network(app: &str, stage: &str) -> String {
    format!("BACK_{app}_{stage}")
}

/// `FRONT_<app>_<stage>`: the network shared with the reverse proxy.
pub fn front_network(app: &str, stage: &str) -> String {
    format!("FRONT_{app}_{stage}")
}

/// `<app>_<stage>_<suffix>`: a release container.
pub fn container_name(app: &str, stage: &str, suffix: &str) -> String {
    format!("{app}_{stage}_{suffix}")
}

/// The deploy lock is a created-but-never-started container: its name is the atomic
/// test-and-set (a second create gets 409 Conflict), and it lives in the engine.
pub fn lock_name(app: &str, stage: &str) -> String {
    format!("{app}_{stage}_lock")
}

/// Labels every object bgdeploy creates for an app/stage carries.
pub fn labels(app: &str, stage: &str, kind: &str) -> Vec<(String, String)> {
    vec![
        (LABEL_APP.to_string(), app.to_string()),
        (LABEL_STAGE.to_string(), stage.to_string()),
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_KIND.to_string(), kind.to_string()),
    ]
}
