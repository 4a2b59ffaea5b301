//! Each step's phase, the point of no return and the releases taken out of traffic, per
//! driver and command; and the exit code `plan --check` predicts from a plan.

use super::*;

/// `phase action target` of every step.
fn phases(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| format!("{} {} {}", s.phase.as_str(), s.action_name(), s.target))
        .collect()
}

/// The step at the point of no return, as `action target`.
fn ponr(plan: &Plan) -> Option<String> {
    plan.point_of_no_return().map(|i| {
        let s = &plan.steps[i];
        format!("{} {}", s.action_name(), s.target)
    })
}

fn assert_monotonic(plan: &Plan) {
    let p: Vec<RunPhase> = plan.steps.iter().map(|s| s.phase).collect();
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{:#?}", phases(plan));
}

fn with_driver(driver: ProxyDriver) -> Deploy {
    let mut d = deploy();
    d.proxy.driver = driver;
    d
}

#[test]
fn with_nginx_the_proxy_dropping_the_old_release_is_the_point_of_no_return() {
    let plan = plan_ok(&deploy(), &live_and_two_retired(), &opts());
    assert_monotonic(&plan);
    assert_eq!(ponr(&plan).as_deref(), Some("proxy_switch proxy"));
    let at = plan.point_of_no_return().expect("a point of no return");
    assert!(matches!(
        plan.steps[at].action,
        Action::ProxySwitch {
            phase: ProxyPhase::Remove,
            ..
        }
    ));
    let p = phases(&plan);
    assert_eq!(
        &p[..at],
        [
            "prepare acquire_lock shop/stage",
            "prepare reuse_network BACK_shop_stage",
            "prepare reuse_network FRONT_shop_stage",
            "prepare create_container shop_stage_20261126-031500-4f2a",
            "prepare start_container shop_stage_20261126-031500-4f2a",
            "prepare wait_healthy shop_stage_20261126-031500-4f2a",
            "switch connect_network shop_stage_20261126-031500-4f2a",
            "switch check_route shop_stage_20261126-031500-4f2a",
            "switch proxy_switch proxy",
        ]
    );
    assert!(p[at..].iter().all(|s| s.starts_with("retire ")), "{p:#?}");
    assert_eq!(plan.retiring, ["shop_stage_c"]);
}

#[test]
fn with_nginx_proxy_leaving_front_is_the_point_of_no_return() {
    let d = with_driver(ProxyDriver::NginxProxy {
        container: "proxy".into(),
        virtual_host: "shop.example.com".into(),
        reload: None,
        docker_gen: None,
    });
    let plan = plan_ok(&d, &live_and_two_retired(), &opts());
    assert_monotonic(&plan);
    assert_eq!(
        ponr(&plan).as_deref(),
        Some("disconnect_network shop_stage_c")
    );
    let at = plan.point_of_no_return().expect("a point of no return");
    assert_eq!(plan.steps[at - 1].phase, RunPhase::Switch);
    assert_eq!(plan.retiring, ["shop_stage_c"]);
}

#[test]
fn without_a_proxy_stopping_the_old_release_is_the_point_of_no_return() {
    let plan = plan_ok(
        &with_driver(ProxyDriver::None),
        &live_and_two_retired(),
        &opts(),
    );
    assert_monotonic(&plan);
    assert_eq!(ponr(&plan).as_deref(), Some("stop_container shop_stage_c"));
    // It drains still joined to FRONT_, and is still undone: nothing took it out yet.
    let drain = plan
        .steps
        .iter()
        .find(|s| s.action_name() == "drain")
        .expect("a drain");
    assert_eq!(drain.phase, RunPhase::Switch);
}

#[test]
fn a_standby_and_a_first_deploy_have_no_point_of_no_return() {
    let o = PlanOptions {
        no_cutover: true,
        ..opts()
    };
    let standby = plan_ok(&deploy(), &live_and_two_retired(), &o);
    assert!(
        standby.steps.iter().all(|s| s.phase == RunPhase::Prepare),
        "{:#?}",
        phases(&standby)
    );
    assert_eq!(standby.point_of_no_return(), None);
    assert!(standby.retiring.is_empty());

    let first = plan_ok(&deploy(), &empty(41), &opts());
    assert_monotonic(&first);
    assert_eq!(first.point_of_no_return(), None);
    assert!(first.retiring.is_empty());
}

#[test]
fn rollback_starts_the_retired_release_before_the_switch() {
    let o = PlanOptions {
        mode: Mode::Rollback { to: None },
        ..opts()
    };
    let plan = plan_ok(&deploy(), &live_and_two_retired(), &o);
    assert_monotonic(&plan);
    assert_eq!(plan.command, "rollback");
    assert_eq!(plan.container, "shop_stage_b");
    let p = phases(&plan);
    assert!(
        p.contains(&"prepare start_container shop_stage_b".to_string()),
        "{p:#?}"
    );
    assert_eq!(ponr(&plan).as_deref(), Some("proxy_switch proxy"));
    assert_eq!(plan.retiring, ["shop_stage_c"]);
}

fn lock_of(owner: &str) -> Option<LockInfo> {
    Some(LockInfo {
        owner: owner.into(),
        since: 1_795_000_000,
    })
}

#[test]
fn the_prediction_follows_the_order_up_meets_obstacles_in() {
    let d = deploy();
    // Success.
    let obs = live_and_two_retired();
    let plan = plan_ok(&d, &obs, &opts());
    assert_eq!(predict(&plan, &d, &obs), Prediction::success());

    // Locked by a deploy elsewhere: 4. By a process of this host that is gone: taken over.
    let mut locked = live_and_two_retired();
    locked.lock = lock_of("ci@runner-elsewhere pid 4242");
    let plan = plan_ok(&d, &locked, &opts());
    assert_eq!(predict(&plan, &d, &locked).exit_code, 4);
    let this_host = crate::lock::owner();
    let (who, _) = this_host.split_once(" pid ").expect("user@host pid N");
    locked.lock = lock_of(&format!("{who} pid {}", u32::MAX));
    let plan = plan_ok(&d, &locked, &opts());
    assert_eq!(predict(&plan, &d, &locked), Prediction::success());

    // The image missing under --pull never: 1, after the lock.
    let mut missing = live_and_two_retired();
    missing.image_present = false;
    let never = PlanOptions {
        pull: Pull::Never,
        ..opts()
    };
    let plan = plan_ok(&d, &missing, &never);
    let p = predict(&plan, &d, &missing);
    assert_eq!(p.exit_code, 1);
    assert!(
        p.reason.as_deref().unwrap_or("").contains("--pull never"),
        "{p:?}"
    );
    missing.lock = lock_of("ci@runner-elsewhere pid 4242");
    let plan = plan_ok(&d, &missing, &never);
    assert_eq!(predict(&plan, &d, &missing).exit_code, 4);

    // The proxy missing is refused before the lock is even taken: 1, locked or not.
    let mut no_proxy = live_and_two_retired();
    no_proxy.proxy = ProxyLookup::Missing {
        name: "proxy".into(),
    };
    no_proxy.lock = lock_of("ci@runner-elsewhere pid 4242");
    let plan = plan_ok(&d, &no_proxy, &opts());
    assert_eq!(predict(&plan, &d, &no_proxy).exit_code, 1);
}

#[test]
fn a_route_that_would_move_is_predicted_as_exit_5() {
    // The new release's route (an extra network sorting first): found after the attach.
    let mut d = deploy();
    d.networks = vec!["AAA_redis".into()];
    let mut obs = empty(41);
    obs.extras = vec![NetworkLookup::Found(net("AAA_redis", false, false))];
    let plan = plan_ok(&d, &obs, &opts());
    assert_eq!(predict(&plan, &d, &obs).exit_code, 5);
    // The proxy's (a non-internal FRONT_): refused before anything changes.
    let mut obs = empty(41);
    obs.front = NetworkLookup::Found(net("FRONT_shop_stage", false, true));
    let plan = plan_ok(&deploy(), &obs, &opts());
    assert_eq!(blocking(&plan, &deploy()).map(|(code, _)| code), Some(5));
    assert_eq!(predict(&plan, &deploy(), &obs).exit_code, 5);
}
