//! `brainscan`: the web server (default) and, as subcommands, the tools that share its code.

use brainscan::cli::{run_tool, Cli, Command};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    brainscan::telemetry::init();
    match Cli::parse().command() {
        Command::Serve(config) => {
            tokio::runtime::Runtime::new()?.block_on(brainscan::serve(config))
        }
        Command::Worker(config) => {
            tokio::runtime::Runtime::new()?.block_on(brainscan::work(config))
        }
        tool => run_tool(tool),
    }
}

/// glibc gives each thread that allocates its own heap arena and keeps freed memory there, so images
/// decoded on many blocking threads in turn leave each thread's peak resident: 20 worst-case requests
/// measured 557 MB peak RSS with the default arenas and 369 MB with two
/// (`scripts/measure-worst-inputs.py`). Two arenas are plenty for one inference thread and two
/// decoders.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: called first thing in `main`, before any other thread exists; mallopt only sets a
    // tuning parameter of the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
