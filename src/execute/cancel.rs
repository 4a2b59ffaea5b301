//! SIGINT and SIGTERM as a value the executor can wait on. Before the switch a signal makes
//! the executor undo what it did; after it, the deploy finishes (stopping half-way would
//! leave no release cleanly live).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Cancel {
    rx: watch::Receiver<bool>,
}

impl Cancel {
    /// Listens for SIGINT and SIGTERM from now on, for the rest of the process.
    pub fn on_signals() -> Cancel {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = tx.send(true);
            // Keep the sender alive so receivers do not see a closed channel as a signal.
            std::future::pending::<()>().await;
        });
        Cancel { rx }
    }

    /// Never fires: for callers (and tests) that do not want signal handling.
    pub fn never() -> Cancel {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Cancel { rx }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once a signal arrived.
    pub async fn cancelled(&mut self) {
        while !*self.rx.borrow_and_update() {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
