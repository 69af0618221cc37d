//! `brainscan`: the web server (default) and, as subcommands, the tools that share its code.

use brainscan::cli::{Cli, Command};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    brainscan::telemetry::init();
    let cli = Cli::parse();
    match cli.command() {
        Command::Serve(config) => brainscan::serve(config).await,
    }
}
