//! `brainscan user add|list|remove` and `brainscan token create|list|revoke`: account management for
//! whoever runs the server's machine, e.g. creating a deployment's first admin. Recorded in the
//! audit trail as the actor `cli`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use app::ssr::auth;
use app::types::auth::Role;

/// Where the database is; the same settings (and variables) as `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// SQLite database URL. [default: sqlite://<data-root>/app.db]
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    #[arg(long, env = "DATA_ROOT", default_value = "data")]
    pub data_root: PathBuf,
}

impl DatabaseArgs {
    fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_root.join("app.db").display()))
    }
}

#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserAction,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserAction {
    /// Add a user; the password is read from the first line of standard input
    /// (`printf '%s\n' "$PASSWORD" | brainscan user add alice --role annotator`).
    Add {
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List users and their roles.
    List,
    /// Remove a user and end their sessions.
    Remove { username: String },
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenAction {
    /// Create an API token and print it once (it is stored only as a digest).
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: i64 },
}

fn parse_role(value: &str) -> Result<Role, String> {
    value
        .parse()
        .map_err(|error: app::error::AppError| error.to_string())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Records a change made here in the audit trail, as the actor `cli`.
async fn record(db: &db::Pool, action: &str, target: &str) {
    auth::audit(
        db,
        &auth::command_line(),
        action,
        Some(target),
        db::audit::AuditOutcome::Ok,
        None,
    )
    .await;
}

pub fn run_user(args: UserArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let db = db::connect(&args.database.url()).await?;
        match args.action {
            UserAction::Add { username, role } => {
                let mut password = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut password)
                    .context("reading the password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']);
                auth::add_user(&db, &username, password, role).await?;
                record(&db, "user.add", &username).await;
                println!("added {username} ({role})");
            }
            UserAction::List => {
                for user in auth::list_users(&db).await? {
                    println!("{}\t{}\t{}", user.username, user.role, user.created_at);
                }
            }
            UserAction::Remove { username } => {
                auth::remove_user(&db, &username).await?;
                record(&db, "user.remove", &username).await;
                println!("removed {username}");
            }
        }
        Ok(())
    })
}

pub fn run_token(args: TokenArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let db = db::connect(&args.database.url()).await?;
        match args.action {
            TokenAction::Create { name, role } => {
                let created =
                    auth::create_token(&db, &name, role, &auth::command_line().subject).await?;
                record(&db, "token.create", &name).await;
                eprintln!(
                    "token {} ({}) created; it is shown only now:",
                    created.id, created.role
                );
                println!("{}", created.token);
            }
            TokenAction::List => {
                for token in auth::list_tokens(&db).await? {
                    let state = if token.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{}\t{}\t{}\t{state}\tlast used {}",
                        token.id,
                        token.name,
                        token.role,
                        token.last_used_at.as_deref().unwrap_or("never")
                    );
                }
            }
            TokenAction::Revoke { id } => {
                auth::revoke_token(&db, id).await?;
                record(&db, "token.revoke", &id.to_string()).await;
                println!("revoked token {id}");
            }
        }
        Ok(())
    })
}
