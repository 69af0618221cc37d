use clap::{Parser, Subcommand};

use crate::config::ServeConfig;

/// Brain-tumour MRI classification: web app, REST API and command-line tools.
#[derive(Debug, Parser)]
#[command(
    name = "brainscan",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Options for `serve`, which also runs when no subcommand is given.
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve(ServeConfig),
}

impl Cli {
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}
