//! `ipv6:` — off by default; `true` (the engine's pools) or `{back, front}` subnets.

use super::{MINIMAL, invalid, valid};
use crate::spec::Ipv6;

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn ipv6_of(yaml: &str) -> Option<Ipv6> {
    let spec = valid(yaml);
    spec.deploy("shop", "production")
        .expect("the deploy")
        .ipv6
        .clone()
}

#[test]
fn off_by_default_true_takes_the_pools_and_a_map_gives_the_subnets() {
    assert_eq!(ipv6_of(MINIMAL), None);
    assert_eq!(ipv6_of(&with("    ipv6: false\n")), None);
    assert_eq!(ipv6_of(&with("    ipv6: true\n")), Some(Ipv6::default()));
    let given = ipv6_of(&with(
        "    ipv6: {back: \"fd00:1:0::/64\", front: \"FD00:2::/64\"}\n",
    ));
    assert_eq!(
        given,
        Some(Ipv6 {
            back: Some("fd00:1::/64".into()),
            front: Some("fd00:2::/64".into()),
        }),
        "written back in canonical form"
    );
}

#[test]
fn a_stage_can_turn_it_on() {
    let yaml = "\
apps:
  shop:
    image: shop:1
    port: 8080
    stages:
      production:
        ipv6: true
";
    assert_eq!(ipv6_of(yaml), Some(Ipv6::default()));
}

#[test]
fn bad_values_name_the_key_and_line() {
    let message = invalid(&with(
        "    ipv6: {back: 10.0.0.0/24, front: \"fd00::/200\", side: x}\n",
    ))
    .to_string();
    for expected in [
        "apps.shop.ipv6.back (line 7): \"10.0.0.0/24\" is not an IPv6 subnet",
        "apps.shop.ipv6.front (line 7): \"fd00::/200\" is not an IPv6 subnet",
        "apps.shop.ipv6.side (line 7): unknown key `side`",
    ] {
        assert!(message.contains(expected), "{expected}\nin:\n{message}");
    }
    let same = invalid(&with(
        "    ipv6: {back: \"fd00:1::/64\", front: \"fd00:1::/64\"}\n",
    ))
    .to_string();
    assert!(same.contains("each network needs its own subnet"), "{same}");
    let word = invalid(&with("    ipv6: yes\n")).to_string();
    assert!(word.contains("apps.shop.ipv6 (line 7)"), "{word}");
}
