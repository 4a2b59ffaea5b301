//! (g): a fleet of three test hosts (DESIGN.md §9) against one host alone: `up` with every
//! host at once (`canary: 0, parallel: 3`, target ≤ 1.2× one host), one host at a time
//! (`canary: 0, parallel: 1`, ≈ 3×), and `status` of the three hosts against one (≤ 1.3×).
//!
//! The hosts are test hosts (`tests/testhost.sh`) that bench/run.sh starts and names in
//! `BENCH_FLEET` (comma-separated), with the demo images loaded; they are reached over plain
//! tcp (`tcp://IP:2375`), so that the figures compare fleets, not transports. The one host
//! alone is the fleet's first host, deployed with the same spec without `hosts:` and
//! `DOCKER_HOST` set — the same engine, the same release, as one host of the fleet.
//!
//! Three "hosts" on one machine share its cores, so a fleet of them can never be as fast as one
//! host alone. What the fleet layer itself costs is shown against the same contention: the same
//! single-host command started on every host at once, one process a host (what a shell loop
//! with `&` does), next to the fleet's `parallel: 3` and its `status`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::remote::Using;
use crate::{Bench, Report, V1, V2, median, ms, run, spread};

/// One test host of the fleet: `tcp://IP:2375`.
struct FleetHost {
    url: String,
}

/// One ratio row: the figure's name, the times over the times it is compared with, the target
/// and whether a ratio meets it.
type Ratio<'a> = (&'a str, &'a [f64], &'a [f64], &'a str, fn(f64) -> bool);

/// Runs of `status` per figure.
const STATUS_RUNS: usize = 5;

impl Bench {
    /// (g): `runs` deploys of each kind, alternating images, and `status` 5 times each.
    pub fn fleet(&self, runs: usize, report: &mut Report) {
        let names = std::env::var("BENCH_FLEET").unwrap_or_else(|_| {
            panic!("(g) needs test hosts: run bench/run.sh, which starts them and sets BENCH_FLEET")
        });
        let hosts: Vec<FleetHost> = names
            .split(',')
            .map(|name| {
                let info = std::fs::read_to_string(format!("/run/bgth-{name}/info"))
                    .unwrap_or_else(|e| panic!("test host {name}: cannot read its info: {e}"));
                let ip = info
                    .lines()
                    .find_map(|l| l.strip_prefix("ip="))
                    .unwrap_or_else(|| panic!("test host {name}: no ip in its info"));
                FleetHost {
                    url: format!("tcp://{ip}:2375"),
                }
            })
            .collect();
        report.machine.push((
            "fleet (g)".into(),
            format!(
                "{} test hosts ({}), Docker Engine 20.10 each, reached over plain tcp; same machine",
                hosts.len(),
                names
            ),
        ));
        let hosts_yaml: String = std::iter::once("    hosts:\n".to_string())
            .chain(
                hosts
                    .iter()
                    .enumerate()
                    .map(|(i, h)| format!("      h{}: {}\n", i + 1, h.url)),
            )
            .collect();
        let (one_app, one_dir) = self.spec("g1", "");
        let (all_app, all_dir) = self.spec(
            "g3",
            &format!("{hosts_yaml}    rollout: {{canary: 0, parallel: 3}}\n"),
        );
        let (seq_app, seq_dir) = self.spec(
            "gs",
            &format!("{hosts_yaml}    rollout: {{canary: 0, parallel: 1}}\n"),
        );
        let first = &hosts[0].url;
        // A first release everywhere, not timed: each figure then replaces one release.
        timed_at_once(&one_dir, &["up", &one_app, "s", "--image", V1], &hosts);
        timed(&all_dir, &["up", &all_app, "s", "--image", V1], None);
        timed(&seq_dir, &["up", &seq_app, "s", "--image", V1], None);
        let (mut one, mut all, mut seq, mut each) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..runs {
            let image = if i % 2 == 0 { V2 } else { V1 };
            // Interleaved, so that the machine's load falls on every figure alike.
            one.push(timed(
                &one_dir,
                &["up", &one_app, "s", "--image", image],
                Some(first),
            ));
            all.push(timed(
                &all_dir,
                &["up", &all_app, "s", "--image", image],
                None,
            ));
            seq.push(timed(
                &seq_dir,
                &["up", &seq_app, "s", "--image", image],
                None,
            ));
            // The one-host app again, now on every host at once: the fleet's baseline. It
            // leaves the first host on `image`, which the next round's one-host `up` replaces.
            let next = if i % 2 == 0 { V1 } else { V2 };
            timed(
                &one_dir,
                &["up", &one_app, "s", "--image", next],
                Some(first),
            );
            each.push(timed_at_once(
                &one_dir,
                &["up", &one_app, "s", "--image", image],
                &hosts,
            ));
        }
        let (mut status_one, mut status_all, mut status_each) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..STATUS_RUNS {
            status_one.push(timed(&one_dir, &["status", &one_app, "s"], Some(first)));
            status_all.push(timed(&all_dir, &["status", &all_app, "s"], None));
            status_each.push(timed_at_once(&one_dir, &["status", &one_app, "s"], &hosts));
        }
        for h in &hosts {
            let _using = Using::host(&h.url);
            self.cleanup_engine();
        }
        report.row("(g) `up` on one host alone", spread(&one), "", None);
        let rows: [Ratio; 5] = [
            (
                "(g) `up` on a fleet of 3, `parallel: 3` / one host",
                &all,
                &one,
                "≤ 1.2×",
                |r| r <= 1.2,
            ),
            (
                "(g) `up` on a fleet of 3, `parallel: 1` / one host",
                &seq,
                &one,
                "≈ 3×",
                |r| (2.5..=3.5).contains(&r),
            ),
            (
                "(g) `up`, fleet `parallel: 3` / 3 single-host `up`s at once (the fleet layer's cost)",
                &all,
                &each,
                "",
                |_| true,
            ),
            (
                "(g) `status`, fleet / 3 single-host `status` at once (the fleet layer's cost)",
                &status_all,
                &status_each,
                "",
                |_| true,
            ),
            (
                "(g) `status` of 3 hosts / of one host",
                &status_all,
                &status_one,
                "≤ 1.3×",
                |r| r <= 1.3,
            ),
        ];
        for (name, of, to, target, met) in rows {
            let ratio = median(of) / median(to);
            report.row(
                name,
                format!("{ratio:.2}× ({} vs {})", ms(median(of)), ms(median(to))),
                target,
                (!target.is_empty()).then(|| met(ratio)),
            );
        }
        report.tables.push((
            "(g) fleet of 3 test hosts vs one: medians (min, max, n)".into(),
            vec!["figure".into(), "wall time".into()],
            vec![
                vec!["`up`, one host alone".into(), spread(&one)],
                vec!["`up`, fleet, canary 0, parallel 3".into(), spread(&all)],
                vec!["`up`, fleet, canary 0, parallel 1".into(), spread(&seq)],
                vec![
                    "`up`, one host's spec on each host at once (3 processes)".into(),
                    spread(&each),
                ],
                vec!["`status`, one host".into(), spread(&status_one)],
                vec!["`status`, fleet of 3".into(), spread(&status_all)],
                vec![
                    "`status`, one host's spec on each host at once (3 processes)".into(),
                    spread(&status_each),
                ],
            ],
        ));
    }
}

/// Wall seconds of one bgdeploy command in `dir`, against `host` (DOCKER_HOST) or, with
/// `None`, the spec's `hosts:` (no DOCKER_HOST at all). Panics when it fails.
fn timed(dir: &Path, args: &[&str], host: Option<&str>) -> f64 {
    let _using = host.map(Using::host);
    let _none = host.is_none().then(Using::no_host);
    let started = Instant::now();
    let out = run(crate::BIN, args, Some(dir));
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.ok,
        "bgdeploy {} failed:\n{}{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    secs
}

/// Wall seconds of `bgdeploy ARGS` in `dir` started on every host at once, one process a host
/// (`DOCKER_HOST` each), until the last ends. Panics when one fails.
fn timed_at_once(dir: &Path, args: &[&str], hosts: &[FleetHost]) -> f64 {
    let started = Instant::now();
    let children: Vec<_> = hosts
        .iter()
        .map(|h| {
            let mut cmd = Command::new(crate::BIN);
            {
                let _using = Using::host(&h.url);
                crate::remote::engine_env(&mut cmd);
            }
            cmd.args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run bgdeploy: {e}"))
        })
        .collect();
    for (h, child) in hosts.iter().zip(children) {
        let out = child.wait_with_output().expect("bgdeploy's output");
        assert!(
            out.status.success(),
            "bgdeploy {} on {} failed:\n{}",
            args.join(" "),
            h.url,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    started.elapsed().as_secs_f64()
}
