//! The harness's promise: whatever a test leaves, dropping its `TestEnv` removes, even when
//! the test panicked halfway.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::harness::{TestEnv, require_engine, require_images, snapshot};

#[tokio::test]
async fn test_env_cleans_up_even_after_a_panic() {
    if require_engine().await.is_none() {
        return;
    }
    require_images();
    let mut prefix = String::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let env = TestEnv::new();
        prefix = env.prefix().to_string();
        let net = format!("FRONT_{}x", env.prefix());
        env.network(&net).internal().create();
        env.container(&env.name("running")).network(&net).run();
        env.container(&env.name("created")).create();
        assert_eq!(snapshot(env.prefix()).len(), 3);
        panic!("the test fails here");
    }));
    assert!(outcome.is_err());
    assert_eq!(
        snapshot(&prefix),
        Default::default(),
        "left behind after the panic"
    );
}
