//! The container of a release as the spec describes it. One function builds it for the
//! release itself and for its one-off containers (`hooks.before_switch`, `exec --one-off`),
//! so that every setting of the release (env, secrets, user, volumes, limits, ...) reaches
//! both.

use crate::engine::ContainerSpec;
use crate::names;
use crate::secret::Secret;
use crate::spec::Deploy;

/// The release container `name` of `deploy` from `image`, created on `network`.
pub fn release_spec(
    deploy: &Deploy,
    secrets: &[(String, Secret)],
    name: &str,
    image: &str,
    network: &str,
    gw_priority: Option<i64>,
) -> ContainerSpec {
    let mut env: Vec<(String, String)> = deploy
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.extend(
        secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_string())),
    );
    env.extend(crate::proxy::driver(&deploy.proxy.driver).release_env(deploy.port));
    let mut labels = names::labels(&deploy.app, &deploy.stage, names::KIND_APP);
    labels.push((names::LABEL_IMAGE.to_string(), image.to_string()));
    ContainerSpec {
        name: name.to_string(),
        image: image.to_string(),
        env,
        command: deploy.command.clone(),
        labels,
        network: network.to_string(),
        gw_priority,
        restart_unless_stopped: true,
        binds: Vec::new(),
        settings: Some(deploy.container.clone()),
        tty: false,
        open_stdin: false,
    }
}

/// A one-off container `name` of the release: the release's container with `command`
/// instead of its own, on the back network, never restarted, labelled `bgdeploy.kind=oneoff`
/// (so that a deploy's observation does not take it for a release), without the proxy's
/// routing variables.
pub fn oneoff_spec(
    deploy: &Deploy,
    secrets: &[(String, Secret)],
    name: &str,
    image: &str,
    command: &[String],
) -> ContainerSpec {
    let back = names::back_network(&deploy.app, &deploy.stage);
    // The release's priorities, so that its one-offs route as it does (through BACK_) on
    // Engine 28; engines below API 1.48 accept and ignore the field (DESIGN §7).
    let priority = Some(crate::plan::priority::BACK);
    let mut spec = release_spec(deploy, secrets, name, image, &back, priority);
    spec.command = Some(command.to_vec());
    spec.restart_unless_stopped = false;
    // The release's settings carry its restart policy (unless-stopped by default): a one-off
    // that the engine restarts after it exits would never end.
    if let Some(settings) = &mut spec.settings {
        settings.restart = crate::spec::Restart::No;
    }
    // What the proxy routes by: a one-off carrying it would be sent traffic.
    let routing = crate::proxy::driver(&deploy.proxy.driver).release_env(deploy.port);
    spec.env
        .retain(|(k, _)| !routing.iter().any(|(name, _)| name == k));
    for (key, value) in &mut spec.labels {
        if key == names::LABEL_KIND {
            *value = names::KIND_ONEOFF.to_string();
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> Deploy {
        let text = "apps:\n  shop:\n    image: shop:1\n    port: 8080\n    env: {A: b}\n    secrets: [TOKEN]\n    command: [serve]\n    proxy: {driver: nginx-proxy, container: p, virtual_host: shop.test}\n    stages: {stage: {}}\n";
        let spec = crate::spec::parse(text, "t.yaml").expect("valid");
        spec.deploy("shop", "stage").expect("present").clone()
    }

    #[test]
    fn a_one_off_has_the_release_settings_but_its_own_command_and_no_routing() {
        let d = deploy();
        let secrets = vec![("TOKEN".to_string(), Secret::new("t0k".into()))];
        let release = release_spec(
            &d,
            &secrets,
            "shop_stage_1",
            "shop:2",
            "BACK_shop_stage",
            Some(100),
        );
        let oneoff = oneoff_spec(
            &d,
            &secrets,
            "shop_stage_oneoff-1",
            "shop:2",
            &["migrate".into()],
        );
        assert_eq!(release.command, Some(vec!["serve".to_string()]));
        assert_eq!(oneoff.command, Some(vec!["migrate".to_string()]));
        assert!(release.restart_unless_stopped && !oneoff.restart_unless_stopped);
        assert_eq!(
            oneoff.settings.as_ref().map(|s| s.restart),
            Some(crate::spec::Restart::No),
            "a one-off must never be restarted"
        );
        assert_eq!(oneoff.network, "BACK_shop_stage");
        assert!(oneoff.env.contains(&("A".into(), "b".into())));
        assert!(oneoff.env.contains(&("TOKEN".into(), "t0k".into())));
        assert!(release.env.iter().any(|(k, _)| k == "VIRTUAL_HOST"));
        assert!(
            !oneoff
                .env
                .iter()
                .any(|(k, _)| k == "VIRTUAL_HOST" || k == "VIRTUAL_PORT")
        );
        let kind = |s: &ContainerSpec| {
            s.labels
                .iter()
                .find(|(k, _)| k == names::LABEL_KIND)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(kind(&release).as_deref(), Some(names::KIND_APP));
        assert_eq!(kind(&oneoff).as_deref(), Some(names::KIND_ONEOFF));
    }
}
