//! `ipv6:` — dual-stack `BACK_`/`FRONT_` networks. `true` takes their IPv6 subnets from the
//! engine's pools (Engine 27+ has a default ULA pool; 20.10 has none and needs them written),
//! a map `{back: CIDR, front: CIDR}` gives them.

use std::net::Ipv6Addr;

use super::check::Check;
use super::leaf;
use crate::spec::model::Ipv6;
use crate::spec::path::KeyPath;
use crate::spec::raw::Node;

const KEYS: &[&str] = &["back", "front"];

/// `None` for `ipv6: false` as for a problem; the caller tells them apart by `Val`.
pub(super) fn read(check: &mut Check, node: &Node, at: &KeyPath) -> Option<Option<Ipv6>> {
    if let Node::Bool(on) = node {
        return Some(on.then(Ipv6::default));
    }
    let expected = "true, false, or a map {back: fd00:1::/64, front: fd00:2::/64}";
    let entries = check.map(node, at, expected)?;
    check.unknown_keys(entries, at, KEYS, &[]);
    let mut out = Ipv6::default();
    let mut ok = true;
    for (key, value) in entries {
        let key_at = at.key(key);
        let subnet = subnet(check, value, &key_at);
        ok &= subnet.is_some();
        match key.as_str() {
            "back" => out.back = subnet,
            "front" => out.front = subnet,
            _ => {}
        }
    }
    if let (Some(back), Some(front)) = (&out.back, &out.front)
        && back == front
    {
        check.report(
            at,
            format!("`back` and `front` are both {back}: each network needs its own subnet"),
        );
        ok = false;
    }
    ok.then_some(Some(out))
}

/// An IPv6 CIDR such as `fd00:1::/64`, written back in canonical form.
fn subnet(check: &mut Check, node: &Node, at: &KeyPath) -> Option<String> {
    let text = leaf::text(check, node, at, "an IPv6 subnet such as fd00:1::/64")?;
    let parsed = text.split_once('/').and_then(|(addr, len)| {
        let addr: Ipv6Addr = addr.parse().ok()?;
        let len: u8 = len.parse().ok().filter(|l| (1..=124).contains(l))?;
        Some((addr, len))
    });
    match parsed {
        Some((addr, len)) => Some(format!("{addr}/{len}")),
        None => {
            check.report(
                at,
                format!(
                    "{text:?} is not an IPv6 subnet; write one such as fd00:1::/64 (an address, \
                     a slash, a prefix length up to 124)"
                ),
            );
            None
        }
    }
}
