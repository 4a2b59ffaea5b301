//! The processes of a running container, as the engine lists them (`docker top`). The
//! engine runs `ps` on its own host, so nothing is needed inside the image: this is how
//! bgdeploy sees that nginx started a new generation of workers after a reload.

use bollard::models::ContainerTopResponse;

use super::{Engine, EngineError};

/// One process of a container, in the engine host's PID namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// The command line as `ps` shows it; for nginx, the process title such as
    /// `nginx: worker process`.
    pub command: String,
}

impl Engine {
    /// The processes running in `container`.
    pub async fn processes(&self, container: &str) -> Result<Vec<Process>, EngineError> {
        let top = self
            .docker
            .top_processes(container, None)
            .await
            .map_err(|source| EngineError::ListProcesses {
                container: container.to_string(),
                source,
            })?;
        Ok(parse(&top))
    }
}

/// The PID and command columns, found by title: `ps -ef` (the engine's default) calls the
/// command `CMD`, other `ps` flavours `COMMAND`. Rows without a numeric PID are skipped.
fn parse(top: &ContainerTopResponse) -> Vec<Process> {
    let titles = top.titles.as_deref().unwrap_or_default();
    let column = |names: &[&str]| titles.iter().position(|t| names.contains(&t.as_str()));
    let (Some(pid), Some(command)) = (column(&["PID"]), column(&["CMD", "COMMAND", "ARGS"])) else {
        return Vec::new();
    };
    top.processes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|row| {
            Some(Process {
                pid: row.get(pid)?.trim().parse().ok()?,
                command: row.get(command)?.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn reads_pid_and_command_by_title() {
        let top = ContainerTopResponse {
            titles: Some(strings(&[
                "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD",
            ])),
            processes: Some(vec![
                strings(&[
                    "root",
                    "17637",
                    "17617",
                    "0",
                    "03:40",
                    "?",
                    "00:00:00",
                    "nginx: master process /usr/sbin/nginx -g daemon off;",
                ]),
                strings(&[
                    "www-data",
                    "17673",
                    "17637",
                    "0",
                    "03:40",
                    "?",
                    "00:00:00",
                    "nginx: worker process",
                ]),
                strings(&["short row"]),
            ]),
        };
        assert_eq!(
            parse(&top),
            [
                Process {
                    pid: 17637,
                    command: "nginx: master process /usr/sbin/nginx -g daemon off;".into()
                },
                Process {
                    pid: 17673,
                    command: "nginx: worker process".into()
                },
            ]
        );
    }

    #[test]
    fn unknown_columns_give_nothing() {
        let top = ContainerTopResponse {
            titles: Some(strings(&["USER", "WHAT"])),
            processes: Some(vec![strings(&["root", "x"])]),
        };
        assert!(parse(&top).is_empty());
        assert!(parse(&ContainerTopResponse::default()).is_empty());
    }
}
