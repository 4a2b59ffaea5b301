//! The `tcp` check: a TCP connect to the container's back-network address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpStream;

use super::describe::io_error;
use super::probe::Probe;

pub(super) struct TcpProbe {
    addr: SocketAddr,
    timeout: Duration,
}

impl TcpProbe {
    pub(super) fn new(ip: IpAddr, port: u16, timeout: Duration) -> TcpProbe {
        TcpProbe {
            addr: SocketAddr::new(ip, port),
            timeout,
        }
    }

    pub(super) fn describe(&self) -> String {
        format!("TCP connect to {}", self.addr)
    }

    pub(super) async fn check(&self) -> Probe {
        match tokio::time::timeout(self.timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(_)) => Probe::Pass(format!("TCP {} → connected", self.addr)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Probe::Refused(format!("TCP {} → {}", self.addr, io_error(&e)))
            }
            Ok(Err(e)) => Probe::Fail(format!("TCP {} → {}", self.addr, io_error(&e))),
            Err(_) => Probe::Fail(format!(
                "TCP {} → no answer within {}",
                self.addr,
                humantime::format_duration(self.timeout)
            )),
        }
    }
}
