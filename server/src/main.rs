//! `brainscan`: the web server (default) and, as subcommands, the tools that share its code.

use clap::Parser;
use server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::telemetry::init();
    let cli = Cli::parse();
    match cli.command() {
        Command::Serve(config) => server::serve(config).await,
    }
}
