//! Which hosts a fleet command acts on, and in what order: `--hosts NAME,...` picks some of
//! the stage's hosts (kept in the spec's rollout order, whatever order they were named in).

use crate::error::Error;
use crate::spec::Deploy;

/// The hosts to act on, in rollout order: every host of the stage, or those `only` names.
/// A name the stage does not have is a usage error listing the hosts.
pub fn hosts(deploy: &Deploy, only: Option<&[String]>) -> Result<Vec<String>, Error> {
    let all: Vec<String> = deploy.hosts.keys().cloned().collect();
    let Some(only) = only else {
        return Ok(all);
    };
    let unknown: Vec<String> = only
        .iter()
        .filter(|name| !deploy.hosts.contains_key(name.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() || only.is_empty() {
        return Err(Error::UnknownHosts {
            app: deploy.app.clone(),
            stage: deploy.stage.clone(),
            unknown,
            hosts: all,
        });
    }
    Ok(all.into_iter().filter(|h| only.contains(h)).collect())
}

/// The order locks are taken in: by host name, so two fleet runs that share hosts always
/// meet on the same first lock and never hold one each of two (no deadlock).
pub fn lock_order(hosts: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    order.sort_by(|&a, &b| hosts[a].cmp(&hosts[b]));
    order
}

#[cfg(test)]
mod tests {
    use super::lock_order;

    #[test]
    fn locks_go_by_name_whatever_the_rollout_order() {
        let hosts: Vec<String> = ["web3", "web1", "web2"].map(String::from).to_vec();
        assert_eq!(lock_order(&hosts), vec![1, 2, 0]);
    }
}
