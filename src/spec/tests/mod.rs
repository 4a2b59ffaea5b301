//! Tests of the whole path from text to `Spec` or `SpecError`. Unit tests of the parts live
//! next to them (`raw`, `lines`, `path`, `text`, `validate::leaf`).

mod errors;
mod example;
mod fleet;
mod hooks;
mod hostile;
mod settings;
mod stages;

use super::{Spec, SpecError, parse};

/// Every snapshot of this module lives in `src/spec/snapshots/`.
macro_rules! snap {
    ($name:literal, $value:expr) => {
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}
pub(super) use snap;

#[track_caller]
pub(super) fn valid(yaml: &str) -> Spec {
    match parse(yaml, "deploy.yaml") {
        Ok(spec) => spec,
        Err(err) => panic!("expected a valid spec, got:\n{err}"),
    }
}

#[track_caller]
pub(super) fn invalid(yaml: &str) -> SpecError {
    match parse(yaml, "deploy.yaml") {
        Ok(spec) => panic!("expected an error, got {spec:#?}"),
        Err(err) => err,
    }
}

/// The smallest valid app, to add one wrong thing to.
pub(super) const MINIMAL: &str = "\
apps:
  shop:
    image: shop:1
    port: 8080
    stages:
      production:
";
