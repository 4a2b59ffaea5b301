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
        // Registered here, before the task runs: a signal arriving between now and the task's
        // first poll must be caught, not kill the process half-way through a step.
        let signals = Signals::register();
        tokio::spawn(async move {
            signals.wait().await;
            let _ = tx.send(true);
            // Keep the sender alive so receivers do not see a closed channel as a signal.
            std::future::pending::<()>().await;
        });
        Cancel { rx }
    }

    /// A `Cancel` driven by the caller (tests, or code that already listens for signals).
    pub fn from_receiver(rx: watch::Receiver<bool>) -> Cancel {
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

/// SIGINT and SIGTERM streams, registered with the runtime when created.
#[cfg(unix)]
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn register() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn wait(mut self) {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.int) => {}
            () = recv(&mut self.term) => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> Signals {
        Signals
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
