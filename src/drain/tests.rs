use std::cell::Cell;

use super::*;

/// Demo container A (172.17.0.2, httpd on :8080 = 1F90, dual-stack so IPv4 clients show as
/// v4-mapped in tcp6) while B (172.17.0.3) had one slow request in flight and one finished.
const A_TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 160555 1 000000000661f3d4 100 0 0 10 0
   1: 0000000000000000FFFF0000020011AC:1F90 0000000000000000FFFF0000030011AC:DC2C 06 00000000:00000000 03:00001728 00000000     0        0 0 3 00000000b4fe8d49
   2: 0000000000000000FFFF0000020011AC:1F90 0000000000000000FFFF0000030011AC:DC2A 01 00000000:00000000 02:000AFC31 00000000     0        0 160556 2 0000000057d98fcd 20 4 30 10 -1
";

/// B's side of that request: its local port is ephemeral, the remote one is 8080.
const B_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 030011AC:DC2A 020011AC:1F90 01 00000000:00000000 00:00000000 00000000     0        0 160701 1 00000000ad552e6b 20 0 0 11 -1                    
";

/// nginx (IPv4 only, :80 = 0050) holding one idle client connection.
const NGINX_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 155004 1 00000000f727f24c 100 0 0 10 0                    
   1: 020011AC:0050 010011AC:AC84 01 00000000:00000000 00:00000000 00000000    33        0 153560 1 00000000d0a8044d 20 0 0 10 -1                    
";

#[test]
fn counts_established_connections_on_the_local_port() {
    assert_eq!(
        established_on_port(A_TCP6, 8080),
        1,
        "LISTEN and TIME_WAIT do not count"
    );
    assert_eq!(established_on_port(NGINX_TCP, 80), 1);
    assert_eq!(established_on_port(NGINX_TCP, 8080), 0);
}

#[test]
fn outgoing_connections_to_the_port_do_not_count() {
    assert_eq!(established_on_port(B_TCP, 8080), 0);
    assert_eq!(established_on_port(B_TCP, 0xDC2A), 1);
}

#[test]
fn headers_and_garbage_count_nothing() {
    let header = A_TCP6.lines().next().unwrap_or_default();
    assert_eq!(established_on_port(header, 8080), 0);
    assert_eq!(established_on_port("", 8080), 0);
    assert_eq!(
        established_on_port("0: x:ZZZZ y 01\n1: 1F90 y 01\nnonsense\n", 8080),
        0
    );
}

/// Counts from a script, one per call; the last repeats.
fn script(counts: &[usize]) -> impl AsyncFnMut() -> Result<usize, String> {
    let counts = counts.to_vec();
    let mut i = 0;
    async move || {
        let n = counts[i.min(counts.len() - 1)];
        i += 1;
        Ok(n)
    }
}

#[tokio::test(start_paused = true)]
async fn returns_at_once_when_nothing_is_open() {
    let ticks = Cell::new(0);
    let mut on_tick = |_, _| ticks.set(ticks.get() + 1);
    let out = poll_until_zero(
        Duration::from_secs(10),
        POLL_INTERVAL,
        script(&[0]),
        &mut on_tick,
    )
    .await
    .expect("no error");
    assert_eq!(
        out,
        DrainOutcome {
            closed: true,
            remaining: 0,
            waited: Duration::ZERO
        }
    );
    assert_eq!(ticks.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn returns_as_soon_as_the_count_reaches_zero() {
    let mut seen = Vec::new();
    let mut on_tick = |open, waited| seen.push((open, waited));
    let out = poll_until_zero(
        Duration::from_secs(10),
        POLL_INTERVAL,
        script(&[2, 2, 1, 0]),
        &mut on_tick,
    )
    .await
    .expect("no error");
    assert!(out.closed);
    assert_eq!(out.waited, Duration::from_millis(300));
    let ms: Vec<(usize, u128)> = seen.iter().map(|(n, w)| (*n, w.as_millis())).collect();
    assert_eq!(ms, [(2, 0), (2, 100), (1, 200), (0, 300)]);
}

#[tokio::test(start_paused = true)]
async fn gives_up_at_max_with_one_last_count_there() {
    let ticks = Cell::new(0);
    let mut on_tick = |_, _| ticks.set(ticks.get() + 1);
    let out = poll_until_zero(
        Duration::from_millis(250),
        POLL_INTERVAL,
        script(&[3, 3, 3, 1]),
        &mut on_tick,
    )
    .await
    .expect("no error");
    assert_eq!(
        out,
        DrainOutcome {
            closed: false,
            remaining: 1,
            waited: Duration::from_millis(250)
        }
    );
    assert_eq!(ticks.get(), 4, "at 0, 100, 200 and 250 ms");
}

#[tokio::test(start_paused = true)]
async fn a_slow_count_does_not_stretch_the_cadence() {
    let mut seen = Vec::new();
    let mut on_tick = |_, waited: Duration| seen.push(waited.as_millis());
    let slow = async || {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Ok::<usize, String>(1)
    };
    poll_until_zero(
        Duration::from_millis(330),
        POLL_INTERVAL,
        slow,
        &mut on_tick,
    )
    .await
    .expect("no error");
    assert_eq!(seen, [30, 130, 230, 330]);
}

#[tokio::test(start_paused = true)]
async fn an_error_ends_the_wait() {
    let mut calls = 0;
    let failing = async || {
        calls += 1;
        if calls < 3 { Ok(1) } else { Err("gone") }
    };
    let err = poll_until_zero(
        Duration::from_secs(5),
        POLL_INTERVAL,
        failing,
        &mut |_, _| {},
    )
    .await
    .expect_err("the error");
    assert_eq!(err, "gone");
}

#[test]
fn outcome_serializes_waited_in_milliseconds() {
    let out = DrainOutcome {
        closed: false,
        remaining: 2,
        waited: Duration::from_millis(1500),
    };
    assert_eq!(
        serde_json::to_string(&out).expect("json"),
        r#"{"closed":false,"remaining":2,"waited":1500}"#
    );
}

#[test]
fn connections_from_the_proxy_count_while_open_or_being_opened() {
    // nginx (172.17.0.5) to release A (172.17.0.2:8080): one request under way, one connect
    // waiting for an answer, one closed (TIME_WAIT); and one to another release.
    let nginx = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 050011AC:C350 020011AC:1F90 01 00000000:00000000 00:00000000 00000000   101        0 1 1 0 20 0 0 10 -1
   1: 050011AC:C352 020011AC:1F90 02 00000001:00000000 01:00000064 00000001   101        0 2 2 0 1000 0 0 10 -1
   2: 050011AC:C354 020011AC:1F90 06 00000000:00000000 03:00001728 00000000     0        0 0 3 0
   3: 050011AC:C356 030011AC:1F90 01 00000000:00000000 00:00000000 00000000   101        0 4 1 0 20 0 0 10 -1
";
    let a: SocketAddr = "172.17.0.2:8080".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(connections_to(nginx, a), 2);
    let other_port: SocketAddr = "172.17.0.2:80".parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(connections_to(nginx, other_port), 0);
    // The same connect in tcp6, from a dual-stack socket.
    let v6 = "  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF0000050011AC:C352 0000000000000000FFFF0000020011AC:1F90 02 0:0 0:0 0
";
    assert_eq!(connections_to(v6, a), 1);
    assert_eq!(connections_to("", a), 0);
}
