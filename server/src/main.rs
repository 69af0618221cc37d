//! `brainscan`: the web server (default) and, as subcommands, the tools that share its code.

use brainscan::cli::{run_tool, Cli, Command};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    brainscan::telemetry::init();
    match Cli::parse().command() {
        Command::Serve(config) => {
            tokio::runtime::Runtime::new()?.block_on(brainscan::serve(config))
        }
        tool => run_tool(tool),
    }
}
