//! The dashboard in a real browser: headless Chromium driven through WebDriver (chromedriver). It watches a run
//! being written (the trial count and the curve grow), reads an LLM run's conversation (the recorded reply, a
//! repair), and a grid's page (the numbers of the grid's report.md), saving a screenshot of each page under
//! `$CARGO_TARGET_TMPDIR/dashboard-screenshots` (and into `$GENIUS_SCREENSHOTS` when set, e.g. `docs/dashboard`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (or `$GENIUS_CHROMEDRIVER` and `$GENIUS_CHROMIUM`); where no
//! chromedriver can be found the test is skipped with a loud message, never failed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use genius_dashboard::Dashboard;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

mod common;

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/lib/chromium")]) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn browser(driver: &Path, chromium: Option<&Path>) -> Result<(Driver, Client)> {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", driver.display()))?;
    let guard = Driver(child);
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,860", "--hide-scrollbars", "--font-render-hinting=none"],
    });
    if let Some(c) = chromium {
        options["binary"] = json!(c);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let started = Instant::now();
    loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Ok((guard, client)),
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => bail!("chromedriver at port {port} did not start a browser: {e}"),
        }
    }
}

/// Evaluates `expr` in the page until `ok` holds of its value (at most 20 s), returning the value.
async fn until(client: &Client, expr: &str, ok: impl Fn(&Value) -> bool) -> Result<Value> {
    let started = Instant::now();
    loop {
        let v = client.execute(&format!("return ({expr});"), vec![]).await?;
        if ok(&v) {
            return Ok(v);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let text = client.execute("return document.body.innerText", vec![]).await?;
            bail!("`{expr}` is still {v} after 20 s; the page says:\n{}", text.as_str().unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn screenshot(client: &Client, dirs: &[PathBuf], name: &str) -> Result<()> {
    let png = client.screenshot().await?;
    for dir in dirs {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{name}.png")), &png)?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_headless_chromium() -> Result<()> {
    let Some(driver) = find("GENIUS_CHROMEDRIVER", &["chromedriver"]) else {
        eprintln!(
            "\n\n######## SKIPPED: the dashboard's browser test: no chromedriver found ########\n\
             ######## install Debian's `chromium` and `chromium-driver` (apt-get install chromium chromium-driver), \
             or set GENIUS_CHROMEDRIVER and GENIUS_CHROMIUM ########\n"
        );
        return Ok(());
    };
    let chromium = find("GENIUS_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);

    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    common::grid(&root.join("grid"), 3).await;
    genius_report::write_report(&root.join("grid"))?;
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llm-run"), &root.join("llm-run"));
    let mut writer = common::Writer::start(&root.join("live"));
    writer.append().await;
    writer.append().await;

    let dashboard = Dashboard::new(root)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { dashboard.serve(listener, std::future::pending()).await });

    let mut shots = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")];
    if let Some(dir) = std::env::var_os("GENIUS_SCREENSHOTS") {
        shots.push(PathBuf::from(dir));
    }
    let (_driver, client) = browser(&driver, chromium.as_deref()).await?;
    let result = async {
        // The list: every run, and the grid.
        client.goto(&format!("{base}/")).await?;
        until(&client, "document.querySelector('#run-total')?.textContent", |v| v == "8 run(s)").await?;
        until(&client, "document.querySelector('#grid-table')?.innerText.includes('toy grid')", |v| v == true).await?;
        screenshot(&client, &shots, "list").await?;

        // A run being written: the trial count and the curve grow while trials are appended.
        client.goto(&format!("{base}/run/live")).await?;
        until(&client, "document.querySelector('#trial-count')?.textContent", |v| v == "2").await?;
        let points = "Number(document.querySelector('#run-plot path.curve')?.dataset.points ?? 0)";
        let before = until(&client, points, |v| v.as_u64().is_some_and(|n| n > 0)).await?.as_u64().unwrap();
        let dots = "document.querySelectorAll('#run-plot circle.point').length";
        let dots_before = until(&client, dots, |v| v.as_u64().is_some()).await?.as_u64().unwrap();
        for _ in 0..10 {
            writer.append().await;
        }
        until(&client, "document.querySelector('#trial-count')?.textContent", |v| v == "12").await?;
        until(&client, points, |v| v.as_u64().is_some_and(|n| n > before)).await?;
        until(&client, dots, |v| v.as_u64().is_some_and(|n| n > dots_before)).await?;
        until(&client, "document.querySelector('h1 .status')?.textContent", |v| v == "running").await?;
        screenshot(&client, &shots, "run").await?;

        // An architecture.
        client.goto(&format!("{base}/trial/live?index=0")).await?;
        until(&client, "document.querySelector('#arch-text')?.textContent", |v| v.as_str().is_some_and(|s| !s.is_empty()))
            .await?;
        until(&client, "document.body.innerText.includes('held out')", |v| v == true).await?;
        screenshot(&client, &shots, "trial").await?;

        // The model's conversation: the recorded reply and a repair.
        client.goto(&format!("{base}/conversation/llm-run")).await?;
        until(
            &client,
            "[...document.querySelectorAll('.reply-text')].some(e => e.textContent === 'I suggest [0, 1, 0, 1, 0, 1, 0, 1].')",
            |v| v == true,
        )
        .await?;
        let repair = until(&client, "document.querySelector('pre.repair')?.textContent", Value::is_string).await?;
        assert!(!repair.as_str().unwrap().is_empty());
        until(&client, "Number(document.querySelector('#repair-count')?.textContent)", |v| {
            v.as_u64().is_some_and(|n| n >= 1)
        })
        .await?;
        client.execute("document.querySelector('.msg.problem').scrollIntoView()", vec![]).await?;
        screenshot(&client, &shots, "conversation").await?;

        // A grid: the numbers of its report.md.
        let report = std::fs::read_to_string(root.join("grid/report.md"))?;
        let cells: Vec<String> = report
            .lines()
            .filter(|l| l.starts_with("| uniform"))
            .flat_map(|l| l.split('|').skip(2).map(|c| c.trim().to_owned()).collect::<Vec<_>>())
            .filter(|c| !c.is_empty())
            .collect();
        assert!(!cells.is_empty(), "{report}");
        client.goto(&format!("{base}/grid/grid")).await?;
        until(&client, "document.querySelectorAll('#report table').length", |v| v.as_u64().is_some_and(|n| n > 0))
            .await?;
        let text = client.execute("return document.querySelector('#report').innerText", vec![]).await?;
        for cell in &cells {
            assert!(text.as_str().unwrap().contains(cell.as_str()), "`{cell}` of report.md is not on the grid page");
        }
        until(&client, "document.querySelectorAll('#grid-plots img').length", |v| v == 2).await?;
        screenshot(&client, &shots, "grid").await?;
        anyhow::Ok(())
    }
    .await;
    client.close().await?;
    server.abort();
    drop(writer);
    result
}
