//! Parsing the kernel's routing tables (`/proc/<pid>/net/route`, `/proc/<pid>/net/ipv6_route`).
//! Read from the host or through `cat` in the container, never through tools in the image.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultRoute<A> {
    pub iface: String,
    pub gateway: A,
}

/// The IPv4 default route from `/proc/net/route`, if there is one. Fields are
/// whitespace-separated; addresses are 32-bit hex in host (little-endian) byte order, so
/// `010015AC` is 172.21.0.1. With several default routes the lowest metric wins, as in the kernel.
pub fn parse_ipv4_route_table(text: &str) -> Option<DefaultRoute<Ipv4Addr>> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" {
                return None;
            }
            let gateway = u32::from_str_radix(f[2], 16).ok()?;
            let metric: u32 = f[6].parse().ok()?;
            let gateway = Ipv4Addr::from(gateway.swap_bytes());
            Some((
                metric,
                DefaultRoute {
                    iface: f[0].to_string(),
                    gateway,
                },
            ))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, route)| route)
}

/// The IPv6 default route from `/proc/net/ipv6_route`: destination `::/0` with a non-zero
/// next hop. Columns: dest, dest prefix len, src, src prefix len, next hop, metric, refcnt,
/// use, flags, iface; addresses are 32 hex digits in network order.
pub fn parse_ipv6_route_table(text: &str) -> Option<DefaultRoute<Ipv6Addr>> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[0] != "0".repeat(32) || f[1] != "00" {
                return None;
            }
            let gateway = Ipv6Addr::from(u128::from_str_radix(f[4], 16).ok()?);
            if gateway.is_unspecified() || f[9] == "lo" {
                return None;
            }
            let metric = u32::from_str_radix(f[5], 16).ok()?;
            Some((
                metric,
                DefaultRoute {
                    iface: f[9].to_string(),
                    gateway,
                },
            ))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, route)| route)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_NICS: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t010015AC\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000014AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t000015AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
";

    #[test]
    fn reads_the_default_route_in_host_byte_order() {
        let r = parse_ipv4_route_table(TWO_NICS).expect("a default route");
        assert_eq!(r.iface, "eth1");
        assert_eq!(r.gateway, Ipv4Addr::new(172, 21, 0, 1));
    }

    #[test]
    fn no_default_route_on_internal_only_containers() {
        let t = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                 eth0\t000014AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n";
        assert_eq!(parse_ipv4_route_table(t), None);
        assert_eq!(parse_ipv4_route_table(""), None);
        assert_eq!(
            parse_ipv4_route_table("garbage\nmore garbage here x y z w v u\n"),
            None
        );
    }

    #[test]
    fn lowest_metric_wins() {
        let t = "h\neth0\t00000000\t010014AC\t0003\t0\t0\t100\t00000000\n\
                 eth1\t00000000\t010015AC\t0003\t0\t0\t5\t00000000\n";
        assert_eq!(
            parse_ipv4_route_table(t).map(|r| r.iface).as_deref(),
            Some("eth1")
        );
    }

    #[test]
    fn reads_the_ipv6_default_route() {
        let t = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n\
                 20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n\
                 00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        let r = parse_ipv6_route_table(t).expect("a default route");
        assert_eq!(r.iface, "eth0");
        assert_eq!(
            r.gateway,
            "2001:db8::1".parse::<Ipv6Addr>().expect("literal")
        );
    }
}
