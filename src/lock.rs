//! The deploy lock of an app/stage, held in the engine so that every machine pointed at it
//! sees it: a created-but-never-started container named `<app>_<stage>_lock`. Its name is the
//! atomic test-and-set (a second create gets 409), its labels say who holds it, and it mounts
//! the app/stage's state volume at `/state`, so that the deploy history can be written through
//! it while it is held.
//!
//! `LockGuard::release` is async and `Drop` cannot be: the executor must call `release` on
//! every path, failures and Ctrl-C included. A guard dropped unreleased only logs a warning;
//! the lock then stays until `bgdeploy lock release APP STAGE`.

mod holder;
mod poll;

use std::time::Duration;

pub use holder::{Holder, owner, owner_is_gone};

use crate::engine::{ContainerSpec, EngineApi, EngineError};
use crate::names;
use crate::time::{now_epoch, since_epoch_rfc3339};
use poll::{Attempt, poll};

/// Where the state volume is mounted in the lock container.
pub const STATE_DIR: &str = "/state";
/// `bgdeploy.kind` of the state volume.
pub const KIND_STATE: &str = "state";
/// How often a waiting deploy tries again.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// A lock released between our create and our look at it: try again at once, a few times.
const VANISHED_RETRIES: usize = 3;

/// `bgdeploy_<app>_<stage>_state`: the app/stage's state (the deploy history), kept when the
/// lock is released.
pub fn state_volume(app: &str, stage: &str) -> String {
    format!("bgdeploy_{app}_{stage}_state")
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(.lock, .owner, *.since, *.age, *.stale, *.waited, .app, .stage))]
    Held {
        lock: String,
        app: String,
        stage: String,
        owner: String,
        since: Option<i64>,
        age: Option<Duration>,
        stale: bool,
        waited: Duration,
    },

    /// A container carries the lock's name but not bgdeploy's lock labels: not ours to remove.
    #[error(
        "container `{name}` has the name of bgdeploy's lock for {app}/{stage}, but not its \
         labels ({label}={kind}), so bgdeploy leaves it alone; rename or remove it yourself",
        label = names::LABEL_KIND,
        kind = names::KIND_LOCK
    )]
    NotALock {
        name: String,
        app: String,
        stage: String,
    },

    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Proof of holding the lock. Call `release` on every path.
#[must_use = "the lock stays held until `release` is awaited"]
#[derive(Debug)]
pub struct LockGuard {
    pub id: String,
    pub name: String,
    released: bool,
}

impl LockGuard {
    /// Removes the lock container (by ID); the state volume stays.
    pub async fn release(mut self, engine: &dyn EngineApi) -> Result<(), LockError> {
        engine.remove_container(&self.id, true).await?;
        self.released = true;
        tracing::debug!(lock = %self.name, "released the deploy lock");
        Ok(())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            tracing::warn!(
                lock = %self.name,
                "the deploy lock was not released; it stays held until `bgdeploy lock release`"
            );
        }
    }
}

/// Takes the lock of `app`/`stage`, waiting up to `wait` while someone else holds it;
/// `on_wait` hears who, and how long this has waited, about every 250 ms.
pub async fn acquire(
    engine: &dyn EngineApi,
    app: &str,
    stage: &str,
    wait: Duration,
    on_wait: &mut dyn FnMut(&Holder, Duration),
) -> Result<LockGuard, LockError> {
    let volume = state_volume(app, stage);
    let labels = names::labels(app, stage, KIND_STATE);
    // Independent, and both usually answer "already there": ask at once.
    let (image, created) = tokio::join!(
        engine.ensure_lock_image(),
        engine.create_volume(&volume, &labels)
    );
    let image = image?;
    created?;
    let owner = owner();
    // Built per try, so that `since` says when the lock was taken, not when waiting began.
    let attempt = || {
        let spec = lock_spec(app, stage, &image, &volume, &owner, now_epoch());
        async move { try_take(engine, &spec).await }
    };
    let outcome = poll(wait, RETRY_EVERY, attempt, |holder, waited| {
        on_wait(holder, waited)
    })
    .await?;
    match outcome {
        Ok(id) => {
            let name = names::lock_name(app, stage);
            tracing::debug!(lock = %name, "took the deploy lock");
            Ok(LockGuard {
                id,
                name,
                released: false,
            })
        }
        Err(holder) => Err(LockError::Held {
            lock: holder.lock,
            app: app.to_string(),
            stage: stage.to_string(),
            owner: holder.owner,
            since: holder.since,
            age: holder.age,
            stale: holder.stale,
            waited: wait,
        }),
    }
}

/// Who holds the lock of `app`/`stage`, if anyone.
pub async fn status(
    engine: &dyn EngineApi,
    app: &str,
    stage: &str,
) -> Result<Option<Holder>, EngineError> {
    read_holder(engine, &names::lock_name(app, stage)).await
}

/// Removes the lock of `app`/`stage` whoever holds it (for a deploy that died holding it);
/// returns who held it. Refuses a container of that name without bgdeploy's lock labels.
pub async fn force_release(
    engine: &dyn EngineApi,
    app: &str,
    stage: &str,
) -> Result<Option<Holder>, LockError> {
    let name = names::lock_name(app, stage);
    let Some(lock) = engine.inspect_container(&name).await? else {
        return Ok(None);
    };
    let label = |key: &str| lock.labels.get(key).map(String::as_str);
    let ours = label(names::LABEL_KIND) == Some(names::KIND_LOCK)
        && label(names::LABEL_MANAGED) == Some("true")
        && label(names::LABEL_APP) == Some(app)
        && label(names::LABEL_STAGE) == Some(stage);
    if !ours {
        return Err(LockError::NotALock {
            name,
            app: app.to_string(),
            stage: stage.to_string(),
        });
    }
    let holder = Holder::from_labels(&name, &lock.id, &lock.labels, now_epoch());
    // By ID: a lock taken since the inspect has a new ID and is left alone.
    engine.remove_container(&lock.id, true).await?;
    tracing::info!(lock = %name, owner = %holder.owner, "force-released the deploy lock");
    Ok(Some(holder))
}

fn lock_spec(
    app: &str,
    stage: &str,
    image: &str,
    volume: &str,
    owner: &str,
    since: i64,
) -> ContainerSpec {
    let mut labels = names::labels(app, stage, names::KIND_LOCK);
    labels.push((names::LABEL_LOCK_OWNER.to_string(), owner.to_string()));
    labels.push((names::LABEL_LOCK_SINCE.to_string(), since.to_string()));
    ContainerSpec {
        name: names::lock_name(app, stage),
        image: image.to_string(),
        labels,
        // Never started, so it needs no network; `none` keeps it out of every listing of
        // a network's containers.
        network: "none".to_string(),
        binds: vec![format!("{volume}:{STATE_DIR}")],
        settings: None,
        ..Default::default()
    }
}

async fn try_take(
    engine: &dyn EngineApi,
    spec: &ContainerSpec,
) -> Result<Attempt<String, Holder>, EngineError> {
    for _ in 0..VANISHED_RETRIES {
        match engine.create_container(spec).await {
            Ok(id) => return Ok(Attempt::Done(id)),
            Err(EngineError::NameInUse { .. }) => {}
            Err(e) => return Err(e),
        }
        if let Some(holder) = read_holder(engine, &spec.name).await? {
            return Ok(Attempt::Busy(holder));
        }
    }
    Ok(Attempt::Busy(Holder::from_labels(
        &spec.name,
        "",
        &Default::default(),
        now_epoch(),
    )))
}

async fn read_holder(engine: &dyn EngineApi, name: &str) -> Result<Option<Holder>, EngineError> {
    Ok(engine
        .inspect_container(name)
        .await?
        .map(|c| Holder::from_labels(name, &c.id, &c.labels, now_epoch())))
}

#[allow(clippy::too_many_arguments)]
fn held_message(
    lock: &str,
    owner: &str,
    since: Option<i64>,
    age: Option<Duration>,
    stale: bool,
    waited: Duration,
    app: &str,
    stage: &str,
) -> String {
    let when = match (since, age) {
        (Some(since), Some(age)) => format!(
            " since {} ({} ago)",
            since_epoch_rfc3339(since),
            humantime::format_duration(age)
        ),
        (Some(since), None) => format!(" since {}", since_epoch_rfc3339(since)),
        _ => String::new(),
    };
    let waited = if waited.is_zero() {
        "did not wait".to_string()
    } else {
        format!(
            "gave up after waiting {}",
            humantime::format_duration(waited)
        )
    };
    let release = format!("`bgdeploy lock release {app} {stage}`");
    let advice = if stale {
        format!(
            "It looks stale: that process ran on this host and no longer exists. \
             Release it with {release}."
        )
    } else {
        format!(
            "It does not look stale, but bgdeploy can only check processes on this host. \
             If that deploy is gone, release the lock with {release}."
        )
    };
    format!("the deploy lock {lock} is held by {owner}{when}; {waited}. {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_names_holder_age_and_the_way_out() {
        let text = held_message(
            "shop_stage_lock",
            "ann@box pid 42 ci job 7",
            Some(1_000_000),
            Some(Duration::from_secs(754)),
            false,
            Duration::from_secs(30),
            "shop",
            "stage",
        );
        for needle in [
            "shop_stage_lock",
            "ann@box pid 42 ci job 7",
            "12m 34s ago",
            "waiting 30s",
            "`bgdeploy lock release shop stage`",
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
        assert!(text.contains("does not look stale"), "{text}");
        let stale = held_message(
            "l",
            "ann@box pid 42",
            None,
            None,
            true,
            Duration::ZERO,
            "a",
            "b",
        );
        assert!(stale.contains("looks stale"), "{stale}");
        assert!(
            stale.contains("did not wait") && !stale.contains("not look"),
            "{stale}"
        );
    }

    #[test]
    fn the_lock_container_is_labelled_and_mounts_the_state_volume() {
        let spec = lock_spec(
            "shop",
            "stage",
            "bgdeploy-lock:1",
            "vol",
            "ann@box pid 1",
            99,
        );
        assert_eq!(spec.name, "shop_stage_lock");
        assert_eq!(spec.binds, ["vol:/state"]);
        assert!(spec.env.is_empty() && !spec.restart_unless_stopped);
        for (key, value) in [
            (names::LABEL_KIND, "lock"),
            (names::LABEL_APP, "shop"),
            (names::LABEL_MANAGED, "true"),
            (names::LABEL_LOCK_OWNER, "ann@box pid 1"),
            (names::LABEL_LOCK_SINCE, "99"),
        ] {
            assert!(
                spec.labels.iter().any(|(k, v)| k == key && v == value),
                "{key}={value} missing: {:?}",
                spec.labels
            );
        }
        assert_eq!(state_volume("shop", "stage"), "bgdeploy_shop_stage_state");
    }
}
