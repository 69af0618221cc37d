//! `brainscan healthcheck`: asks a running server's `/health` and exits 0 only when it is healthy.
//! The Docker image's HEALTHCHECK runs it, so the slim runtime image needs no curl.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// Port of the server to ask (the one `serve` listens on).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

pub fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let address = SocketAddr::from(([127, 0, 0, 1], args.port));
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("nothing answers on {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // HTTP/1.0 makes the server close the connection after the answer, so reading to the end works.
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut answer = String::new();
    stream
        .take(64 * 1024)
        .read_to_string(&mut answer)
        .context("reading the answer")?;
    let status_line = answer.lines().next().unwrap_or_default();
    if !status_line.contains(" 200 ") {
        bail!("unexpected answer: {status_line}");
    }
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let health: serde_json::Value =
        serde_json::from_str(body).with_context(|| format!("not JSON: {body}"))?;
    if health["status"] != "healthy" {
        bail!("unhealthy: {body}");
    }
    println!("healthy");
    Ok(())
}
