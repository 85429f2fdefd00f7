//! `kiln`: run Kiln on one machine.

mod static_files;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiln::config::Config;

/// mimalloc instead of the system's malloc: reading and writing JSON allocates many small
/// values per request, and glibc's malloc was a sixth of a conversation's CPU (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Describe an HTTP API in chat; Kiln builds, tests and deploys it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web UI (settings come from KILN_* environment variables).
    Serve,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env().context("reading the configuration")?;
    init_tracing(config.log_json);
    match cli.command {
        Command::Serve => serve(config).await,
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    // Colours only on a terminal, and not when NO_COLOR is set: a log kept in a file or read
    // by another program gets no escape codes (and no request pays for writing them into its
    // span's fields).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let state = kiln::backends::local_state(&config).await?;
    let app = kiln::api::router(state).fallback(static_files::serve);
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(data_dir = %config.data_dir.display(), "kiln serving");
    // The one line on stdout: tools (and the tests) read the URL from it.
    println!("Kiln is running at http://{addr}/");
    // Told to stop, the server answers the requests under way and lets go of the database;
    // a connection that stays open (a browser's event stream) is not waited for past
    // SHUTDOWN_GRACE, or a Kiln with a tab open would never stop, and would hold its data
    // directory from the next one.
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("stopping");
            stopping.notify_one();
        }
    };
    let serving = axum::serve(listener, app).with_graceful_shutdown(signal);
    tokio::select! {
        served = std::future::IntoFuture::into_future(serving) => served.context("serving")?,
        () = async {
            stopping.notified().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(
                "connections still open {} s after the signal to stop (event streams): closed",
                SHUTDOWN_GRACE.as_secs()
            );
        }
    }
    Ok(())
}

/// How long a stopping server waits for its open connections.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
