//! Creating, starting, stopping and removing containers. The spec may carry secret values in
//! its env, so neither its `Debug`, nor an error, nor a log line may show them.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bollard::errors::Error as Bollard;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};

use super::error::is_not_found;
use super::{Engine, EngineError};

/// What to create. `env` values may be secrets: `Debug` prints the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    /// Overrides the image's CMD.
    pub command: Option<Vec<String>>,
    pub labels: Vec<(String, String)>,
    /// The one network it is created on (API 1.41 takes a single network at create; connect
    /// the others afterwards). A name or an ID; `none` for no network at all; empty for the
    /// engine's default (`bridge`).
    pub network: String,
    /// The endpoint's `GwPriority` on `network`. Engines below API 1.48 ignore it.
    pub gw_priority: Option<i64>,
    pub restart_unless_stopped: bool,
    /// `volume:/path[:ro]` or `/host/path:/path[:ro]`.
    pub binds: Vec<String>,
    /// The spec's container settings, for a release and its one-off containers; they
    /// replace `restart_unless_stopped` with their own `restart` (`engine::apply_settings`).
    pub settings: Option<crate::spec::ContainerSettings>,
    /// A one-off run by `exec --one-off`: a TTY (`-t`), stdin kept open (`-i`).
    pub tty: bool,
    pub open_stdin: bool,
}

impl fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ContainerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("env_keys", &env_keys)
            .field("command", &self.command)
            .field("labels", &self.labels)
            .field("network", &self.network)
            .field("gw_priority", &self.gw_priority)
            .field("restart_unless_stopped", &self.restart_unless_stopped)
            .field("binds", &self.binds)
            .field("settings", &self.settings)
            .field("tty", &self.tty)
            .field("open_stdin", &self.open_stdin)
            .finish()
    }
}

/// The create call as bollard sends it; pure, so the request body can be checked without an
/// engine.
pub(crate) fn create_request(
    spec: &ContainerSpec,
) -> (CreateContainerOptions, ContainerCreateBody) {
    let options = CreateContainerOptionsBuilder::new()
        .name(&spec.name)
        .build();
    let network = (!spec.network.is_empty()).then(|| spec.network.clone());
    let endpoint = EndpointSettings {
        gw_priority: spec.gw_priority,
        ..Default::default()
    };
    let host_config = HostConfig {
        // The docker CLI sets both: NetworkMode alone would not carry the endpoint settings,
        // EndpointsConfig alone would leave the container's primary network at "default".
        network_mode: network.clone(),
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        restart_policy: spec.restart_unless_stopped.then_some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
            maximum_retry_count: None,
        }),
        ..Default::default()
    };
    let mut body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: (!spec.env.is_empty())
            .then(|| spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: spec.command.clone(),
        tty: spec.tty.then_some(true),
        open_stdin: spec.open_stdin.then_some(true),
        // As `docker run -i`: stdin closes when the attached client closes it.
        stdin_once: spec.open_stdin.then_some(true),
        attach_stdin: spec.open_stdin.then_some(true),
        labels: Some(spec.labels.iter().cloned().collect::<HashMap<_, _>>()),
        host_config: Some(host_config),
        networking_config: network.map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network, endpoint)])),
        }),
        ..Default::default()
    };
    if let Some(settings) = &spec.settings {
        super::settings::apply_settings(settings, &mut body);
    }
    (options, body)
}

impl Engine {
    /// Creates (does not start) a container; returns its ID. A name already taken is
    /// `NameInUse`, which the deploy lock relies on.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        tracing::debug!(container = %spec.name, image = %spec.image, network = %spec.network, "creating container");
        let (options, body) = create_request(spec);
        match self.docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(Bollard::DockerResponseServerError {
                status_code: 409, ..
            }) => Err(EngineError::NameInUse {
                name: spec.name.clone(),
            }),
            Err(e) => Err(EngineError::CreateContainer {
                name: spec.name.clone(),
                image: spec.image.clone(),
                source: redact(e, &spec.env),
            }),
        }
    }

    pub async fn start_container(&self, id: &str) -> Result<(), EngineError> {
        tracing::debug!(container = %id, "starting container");
        self.docker
            .start_container(id, None)
            .await
            .map_err(|source| EngineError::StartContainer {
                container: id.to_string(),
                source,
            })
    }

    /// SIGTERM, then SIGKILL after `timeout`. A container that is not running is already
    /// where this wants it (the engine answers 304, which bollard passes as success).
    pub async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), EngineError> {
        tracing::debug!(container = %id, timeout = ?timeout, "stopping container");
        // Whole seconds on the wire: round up, so that 500ms is not "kill at once".
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        let secs = i32::try_from(secs).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::new().t(secs).build();
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(|source| EngineError::StopContainer {
                container: id.to_string(),
                source,
            })
    }

    /// Removes a container (`force` kills it first if running); one already gone is fine.
    /// Named volumes stay.
    pub async fn remove_container(&self, id: &str, force: bool) -> Result<(), EngineError> {
        tracing::debug!(container = %id, force, "removing container");
        let options = RemoveContainerOptionsBuilder::new().force(force).build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(EngineError::RemoveContainer {
                container: id.to_string(),
                source,
            }),
        }
    }
}

/// The engine quotes a bad env entry back in its message (e.g. "invalid environment variable:
/// ..."), which would put a secret into an error chain.
fn redact(e: Bollard, env: &[(String, String)]) -> Bollard {
    let scrub = |text: String| {
        env.iter()
            .filter(|(_, v)| !v.is_empty())
            .fold(text, |t, (_, v)| t.replace(v.as_str(), "<redacted>"))
    };
    match e {
        Bollard::DockerResponseServerError {
            status_code,
            message,
        } => Bollard::DockerResponseServerError {
            status_code,
            message: scrub(message),
        },
        Bollard::DockerStreamError { error } => Bollard::DockerStreamError {
            error: scrub(error),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-s3cr3t";

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "shop_stage_1".into(),
            image: "shop:1.4.2".into(),
            env: vec![
                ("DATABASE_URL".into(), SECRET.into()),
                ("RAILS_ENV".into(), "production".into()),
            ],
            command: Some(vec!["bin/server".into()]),
            labels: vec![("bgdeploy.app".into(), "shop".into())],
            network: "BACK_shop_stage".into(),
            gw_priority: Some(100),
            restart_unless_stopped: true,
            binds: vec!["vol:/data".into()],
            settings: None,
            tty: false,
            open_stdin: false,
        }
    }

    fn body_json(spec: &ContainerSpec) -> serde_json::Value {
        serde_json::to_value(create_request(spec).1).expect("serializable")
    }

    #[test]
    fn the_create_request_carries_gw_priority_on_its_network() {
        let body = body_json(&spec());
        let endpoint = &body["NetworkingConfig"]["EndpointsConfig"]["BACK_shop_stage"];
        assert_eq!(endpoint["GwPriority"], 100, "{body}");
        assert_eq!(body["HostConfig"]["NetworkMode"], "BACK_shop_stage");

        let without = body_json(&ContainerSpec {
            gw_priority: None,
            ..spec()
        });
        let endpoint = &without["NetworkingConfig"]["EndpointsConfig"]["BACK_shop_stage"];
        assert!(
            endpoint.is_object() && endpoint.get("GwPriority").is_none(),
            "{without}"
        );
    }

    #[test]
    fn the_create_request_carries_the_rest_of_the_spec() {
        let (options, _) = create_request(&spec());
        assert_eq!(options.name.as_deref(), Some("shop_stage_1"));
        let body = body_json(&spec());
        assert_eq!(body["Image"], "shop:1.4.2");
        assert_eq!(
            body["Env"],
            serde_json::json!([format!("DATABASE_URL={SECRET}"), "RAILS_ENV=production"])
        );
        assert_eq!(body["Cmd"], serde_json::json!(["bin/server"]));
        assert_eq!(body["Labels"]["bgdeploy.app"], "shop");
        assert_eq!(
            body["HostConfig"]["RestartPolicy"]["Name"],
            "unless-stopped"
        );
        assert_eq!(
            body["HostConfig"]["Binds"],
            serde_json::json!(["vol:/data"])
        );

        let plain = body_json(&ContainerSpec {
            restart_unless_stopped: false,
            command: None,
            ..spec()
        });
        assert!(
            plain["HostConfig"].get("RestartPolicy").is_none(),
            "{plain}"
        );
        assert!(plain.get("Cmd").is_none(), "{plain}");

        let default_network = body_json(&ContainerSpec {
            network: String::new(),
            ..spec()
        });
        assert!(
            default_network.get("NetworkingConfig").is_none(),
            "{default_network}"
        );
        assert!(
            default_network["HostConfig"].get("NetworkMode").is_none(),
            "{default_network}"
        );
    }

    #[test]
    fn debug_shows_env_keys_but_never_values() {
        let text = format!("{:?} {:#?}", spec(), spec());
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("production"), "{text}");
        assert!(
            text.contains("DATABASE_URL") && text.contains("RAILS_ENV"),
            "{text}"
        );
        assert!(text.contains("shop:1.4.2"), "{text}");
    }

    #[test]
    fn engine_messages_lose_env_values() {
        let e = Bollard::DockerResponseServerError {
            status_code: 400,
            message: format!("invalid environment variable: ={SECRET}"),
        };
        let text = redact(e, &spec().env).to_string();
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
