//! Secrets read from the environment.
