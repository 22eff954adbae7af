//! `irods-testserver --port N --data-dir DIR [--env-file F] [--resource NAME:TYPE[:PARENT]]...
//! [--user NAME:TYPE[:PASSWORD]]...`
//!
//! Serves zone `tempZone` on 127.0.0.1 with admin `rods`/`rods` and root resource `demoResc`
//! (vault `DIR/Vault`); the SQLite catalog in `DIR` survives restarts. `--env-file` writes an
//! `irods_environment.json` (plus an `.irodsA` next to it) once the port is listening, so a client
//! that sees the file can connect.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use irods_testserver::catalog::{self, Catalog, resources, users};
use irods_testserver::server::{ServerState, serve};
use tokio::net::TcpListener;
use tracing::info;

#[derive(Parser, Debug)]
#[command(
    name = "irods-testserver",
    about = "An iRODS 4.3.4-compatible test server (SQLite catalog, local vault)"
)]
struct Args {
    /// TCP port on 127.0.0.1 (0 picks a free one; the env file tells which).
    #[arg(long)]
    port: u16,
    /// Directory for the catalog database and the vaults.
    #[arg(long)]
    data_dir: PathBuf,
    /// Write an irods_environment.json for clients here (and .irodsA beside it).
    #[arg(long)]
    env_file: Option<PathBuf>,
    /// Extra resource, created if missing: NAME:TYPE or NAME:TYPE:PARENT (e.g. `pt:passthru`,
    /// `leaf:unixfilesystem:pt`). Storage resources get the vault DIR/NAME_vault.
    #[arg(long = "resource", value_name = "NAME:TYPE[:PARENT]")]
    resources: Vec<String>,
    /// Extra user, created if missing: NAME:TYPE[:PASSWORD] with TYPE rodsuser or rodsadmin
    /// (e.g. `alice:rodsuser:secret`); the password is (re)set on every start.
    #[arg(long = "user", value_name = "NAME:TYPE[:PASSWORD]")]
    users: Vec<String>,
    /// Host name resources report as their location.
    #[arg(long)]
    host: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IRODS_TESTSERVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let host = args.host.clone().unwrap_or_else(|| {
        hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
    });
    let catalog = Catalog::open(&args.data_dir, &host)?;
    for spec in &args.resources {
        declare_resource(&catalog, spec).with_context(|| format!("--resource {spec}"))?;
    }
    for spec in &args.users {
        declare_user(&catalog, spec)
            .with_context(|| format!("--user {}", spec.split(':').next().unwrap_or("")))?;
    }
    let state = Arc::new(ServerState::new(catalog));

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await.context("binding the port")?;
        let port = listener.local_addr()?.port();
        if let Some(env_file) = &args.env_file {
            write_environment(env_file, port).context("writing the environment file")?;
        }
        info!(port, data_dir = %state.catalog.data_dir.display(), "irods-testserver ready");
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = serve(listener, state.clone()) => result.context("serving")?,
            _ = tokio::signal::ctrl_c() => info!("interrupted; stopping"),
            _ = terminate.recv() => info!("terminated; stopping"),
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // Open connections are abandoned; the catalog is consistent after every committed request.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(())
}

/// Creates a resource given as NAME:TYPE[:PARENT] unless it exists.
fn declare_resource(catalog: &Catalog, spec: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (name, kind, parent) = match parts.as_slice() {
        [name, kind] => (*name, *kind, None),
        [name, kind, parent] => (*name, *kind, Some(*parent)),
        _ => anyhow::bail!("expected NAME:TYPE or NAME:TYPE:PARENT"),
    };
    let vault = catalog.data_dir.join(format!("{name}_vault"));
    catalog
        .write(|db| {
            if resources::find(db, name)?.is_none() {
                resources::create(db, name, kind, &catalog.host, &vault.to_string_lossy(), "")?;
            }
            if let Some(parent) = parent {
                let child = resources::require(db, name)?;
                if child.parent.is_none() {
                    resources::add_child(db, parent, name, "")?;
                }
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Creates a user given as NAME:TYPE[:PASSWORD] unless it exists, and sets its password.
fn declare_user(catalog: &Catalog, spec: &str) -> anyhow::Result<()> {
    let mut parts = spec.splitn(3, ':');
    let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
        anyhow::bail!("expected NAME:TYPE or NAME:TYPE:PASSWORD");
    };
    let password = parts.next();
    catalog
        .write(|db| {
            let id = match users::find(db, name, catalog::ZONE)? {
                Some(user) => user.id,
                None => users::create_user(db, name, kind, catalog::ZONE)?,
            };
            if let Some(password) = password {
                users::set_password(db, id, password)?;
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes the client environment (and the obfuscated password beside it), atomically.
fn write_environment(env_file: &Path, port: u16) -> anyhow::Result<()> {
    let dir = env_file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let auth_file = dir.join(".irodsA");
    let uid = unsafe { libc::getuid() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let scrambled = irods_proto::obfuscation::encode_irods_a(catalog::ADMIN_PASSWORD, uid, now);
    write_atomically(&auth_file, scrambled.as_bytes())?;
    let env = serde_json::json!({
        "irods_host": "127.0.0.1",
        "irods_port": port,
        "irods_user_name": catalog::ADMIN_USER,
        "irods_zone_name": catalog::ZONE,
        "irods_default_resource": catalog::DEFAULT_RESOURCE,
        "irods_authentication_file": auth_file.canonicalize()?.to_string_lossy(),
    });
    write_atomically(env_file, serde_json::to_string_pretty(&env)?.as_bytes())
}

fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
