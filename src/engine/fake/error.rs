//! The errors the in-memory engine answers with: `Engine`'s own variant for each operation
//! (a table: one line per operation), with the engine's message as source.

use bollard::errors::Error as Bollard;

use crate::engine::EngineError;

pub(super) fn refused(what: &str) -> Bollard {
    Bollard::DockerResponseServerError {
        status_code: 500,
        message: format!("injected fault: {what}"),
    }
}

pub(super) fn not_found(what: &str) -> Bollard {
    Bollard::DockerResponseServerError {
        status_code: 404,
        message: format!("No such object: {what}"),
    }
}

/// The error `Engine` gives for `op` on `object`, with `source`.
pub(super) fn error(op: &str, object: &str, source: Bollard) -> EngineError {
    let (o, s) = (object.to_string(), source);
    match op {
        "list_networks" => EngineError::ListNetworks { source: s },
        "inspect_network" => EngineError::InspectNetwork {
            network: o,
            source: s,
        },
        "create_network" => EngineError::CreateNetwork { name: o, source: s },
        "connect_network" | "disconnect_network" => {
            let (container, network) = o.split_once(" to ").unwrap_or((&o, ""));
            let (container, network) = (container.to_string(), network.to_string());
            if op == "connect_network" {
                EngineError::ConnectNetwork {
                    container,
                    network,
                    source: s,
                }
            } else {
                EngineError::DisconnectNetwork {
                    container,
                    network,
                    source: s,
                }
            }
        }
        "list_app_containers" => EngineError::ListContainers {
            app: o,
            stage: String::new(),
            source: s,
        },
        "create_container" => EngineError::CreateContainer {
            name: o,
            image: String::new(),
            source: s,
        },
        "start_container" => EngineError::StartContainer {
            container: o,
            source: s,
        },
        "stop_container" => EngineError::StopContainer {
            container: o,
            source: s,
        },
        "remove_container" => EngineError::RemoveContainer {
            container: o,
            source: s,
        },
        "signal_container" => EngineError::SignalContainer {
            container: o,
            signal: "HUP".into(),
            source: s,
        },
        "wait_container" => EngineError::WaitContainer {
            container: o,
            source: s,
        },
        "exec" => EngineError::Exec {
            container: o,
            command: String::new(),
            source: s,
        },
        "processes" => EngineError::ListProcesses {
            container: o,
            source: s,
        },
        "get_file" => EngineError::GetFile {
            container: o,
            path: String::new(),
            source: s,
        },
        "put_file" => EngineError::PutFile {
            container: o,
            path: String::new(),
            source: s,
        },
        "logs_tail" => EngineError::Logs {
            container: o,
            source: s,
        },
        "image_exists" => EngineError::InspectImage {
            image: o,
            source: s,
        },
        "pull_image" => EngineError::PullImage {
            image: o,
            source: s,
        },
        "ensure_lock_image" => EngineError::BuildImage {
            image: o,
            source: s,
        },
        "create_volume" => EngineError::CreateVolume { name: o, source: s },
        "volume_labels" => EngineError::InspectVolume { name: o, source: s },
        "wait_healthy" => EngineError::Events {
            container: o,
            source: s,
        },
        _ => EngineError::InspectContainer { name: o, source: s },
    }
}
