//! `genius dashboard`: serves the live, read-only web view of the runs and grids below a directory.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::Ended;

/// The port tried when none is given.
pub const DEFAULT_PORT: u16 = 7878;

/// `genius dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The directory whose runs and grids are shown (any depth below it); it is only read, never locked.
    #[arg(value_name = "DIR", default_value = "runs")]
    pub dir: PathBuf,

    /// The port [default: 7878, or a free one when 7878 is taken].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// The address to listen on. Anything but a loopback address makes every run below DIR (prompts and replies
    /// included) readable by anyone who can reach this machine: there is no authentication.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
}

/// Serves until Ctrl-C.
pub async fn dashboard(args: &DashboardArgs, out: &mut impl Write) -> Result<Ended> {
    let dashboard = genius_dashboard::Dashboard::new(&args.dir)?;
    if !args.host.is_loopback() {
        eprintln!(
            "warning: listening on {}, reachable from other machines; the dashboard has no authentication and shows \
             every run below {} (the model's prompts and replies included)",
            args.host,
            args.dir.display()
        );
    }
    let listener = match args.port {
        Some(port) => tokio::net::TcpListener::bind(SocketAddr::new(args.host, port))
            .await
            .with_context(|| format!("cannot listen on {}:{port}; choose another --port", args.host))?,
        None => match tokio::net::TcpListener::bind(SocketAddr::new(args.host, DEFAULT_PORT)).await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind(SocketAddr::new(args.host, 0))
                .await
                .with_context(|| format!("cannot listen on {}", args.host))?,
        },
    };
    let addr = listener.local_addr()?;
    writeln!(out, "genius dashboard of {} at http://{addr}/ (Ctrl-C to stop)", dashboard.root().display())?;
    out.flush()?;
    dashboard
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the dashboard's server stopped")?;
    Ok(Ended::Done)
}
