//! `genius data`, `genius arch`, and fetching a missing table on first use, against a local HTTP server that this
//! test starts (never the internet): the real download path, a corrupt download, a download cut short, a 404, an
//! unreachable server, and `--offline`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn shared_data() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join("nas-bench-201/nasbench201_cifar10.json").is_file(),
        "these tests need the benchmark tables: set GENIUS_DATA_DIR"
    );
    dir
}

/// A local HTTP server over the shared tables. The first path segment picks the behaviour: `ok` serves the file,
/// `corrupt` flips one byte, `short` announces the full length but sends half and hangs up, anything else is 404.
struct Mirror {
    base: String,
    requests: Arc<AtomicUsize>,
}

impl Mirror {
    fn start() -> Self {
        Self::serving(shared_data())
    }

    /// A mirror of the files under `root`.
    fn serving(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let root = root.clone();
                std::thread::spawn(move || serve(stream, &root));
            }
        });
        Self { base, requests }
    }

    fn url(&self, mode: &str) -> String {
        format!("{}/{mode}", self.base)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
    let (mode, relative) = path.split_once('/').unwrap_or((&path, ""));
    let body = std::fs::read(root.join(relative)).ok().filter(|_| ["ok", "corrupt", "short"].contains(&mode));
    let Some(mut body) = body else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
        return;
    };
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    match mode {
        "corrupt" => {
            let middle = body.len() / 2;
            body[middle] ^= 0x20;
            let _ = stream.write_all(&body);
        }
        "short" => {
            let _ = stream.write_all(&body[..body.len() / 2]);
            let _ = stream.flush();
            let _ = stream.shutdown(Shutdown::Both);
        }
        _ => {
            let _ = stream.write_all(&body);
        }
    }
}

/// A base URL where nothing listens: the port of a listener that was closed.
fn unreachable() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// `genius` reading tables from `data`, with no mirror or offline setting inherited from the environment.
fn genius(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_genius"));
    cmd.env("GENIUS_DATA_DIR", data).env_remove("GENIUS_DATA_URL").env_remove("GENIUS_OFFLINE");
    cmd.env_remove("RUST_BACKTRACE");
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Runs `genius` expecting success; returns stdout and stderr.
fn succeeds(cmd: &mut Command) -> (String, String) {
    let (out, stdout, stderr) = run(cmd);
    assert!(out.status.success(), "expected success:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Runs `genius` expecting failure with one error and no panic; returns stdout and stderr.
fn fails(cmd: &mut Command) -> (String, String) {
    let (out, stdout, stderr) = run(cmd);
    assert!(!out.status.success(), "expected failure:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "one error message: {stderr}");
    (stdout, stderr)
}

/// Every file below `dir`, relative, sorted (temporary files included).
fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

const C10: &str = "nas-bench-201/nasbench201_cifar10.json";

#[test]
fn fetch_downloads_verifies_and_installs_and_then_leaves_an_intact_table_alone() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, _) =
        succeeds(genius(tmp.path()).args(["data", "fetch", "nas-bench-201-cifar10", "--base-url", &mirror.url("ok")]));
    assert!(stdout.contains("size and SHA-256 verified"), "{stdout}");
    assert_eq!(listing(tmp.path()), [C10], "the table and nothing else");
    assert_eq!(std::fs::read(tmp.path().join(C10)).unwrap(), std::fs::read(shared_data().join(C10)).unwrap());
    assert_eq!(mirror.requests(), 1);

    // Present and intact: no request. Through the environment variable this time.
    let (stdout, _) = succeeds(
        genius(tmp.path()).args(["data", "fetch", "nas-bench-201-cifar10"]).env("GENIUS_DATA_URL", mirror.url("ok")),
    );
    assert!(stdout.contains("present and intact, not downloaded"), "{stdout}");
    assert_eq!(mirror.requests(), 1);

    // A whole benchmark: the two other NAS-Bench-201 tables come, the present one is kept.
    succeeds(genius(tmp.path()).args(["data", "fetch", "nas-bench-201", "-q", "--base-url", &mirror.url("ok")]));
    assert_eq!(mirror.requests(), 3);
    let (stdout, _) = succeeds(genius(tmp.path()).args(["data", "verify"]));
    assert!(stdout.contains("3 intact, 3 missing, 0 damaged"), "{stdout}");

    // The downloaded table is usable.
    let (stdout, _) = succeeds(genius(tmp.path()).args(["arch", "--space", "nas-bench-201-cifar10", "333123"]));
    assert!(stdout.contains("(rank 1 / 15625)"), "{stdout}");
}

#[test]
fn a_corrupt_short_or_missing_download_installs_nothing() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    for (mode, expected) in [
        ("corrupt", "does not match its pinned SHA-256"),
        ("short", "nothing was installed"),
        ("gone", "the server answered 404"),
    ] {
        let (stdout, stderr) =
            fails(genius(tmp.path()).args(["data", "fetch", "nas-bench-201-cifar10", "--base-url", &mirror.url(mode)]));
        assert!(stdout.contains(expected), "{mode}: {stdout}");
        assert!(stderr.contains("could not be downloaded") && stderr.contains("nasbench201_cifar10.json"), "{stderr}");
        assert!(listing(tmp.path()).iter().all(|f| !f.contains("nasbench201")), "{mode}: {:?}", listing(tmp.path()));
    }
    // The short download is reported as such.
    let (stdout, _) =
        fails(genius(tmp.path()).args(["data", "fetch", "nas-bench-201-cifar10", "--base-url", &mirror.url("short")]));
    assert!(stdout.contains("failed after") || stdout.contains("truncated"), "{stdout}");

    // A damaged table already present is replaced by a good download, not kept.
    let path = tmp.path().join(C10);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{}").unwrap();
    let (stdout, _) = fails(genius(tmp.path()).args(["data", "verify"]));
    assert!(stdout.contains("DAMAGED  nas-bench-201/nasbench201_cifar10.json"), "{stdout}");
    let (stdout, _) =
        succeeds(genius(tmp.path()).args(["data", "fetch", "nas-bench-201-cifar10", "--base-url", &mirror.url("ok")]));
    assert!(stdout.contains("downloading it again") && stdout.contains("SHA-256 verified"), "{stdout}");
    succeeds(genius(tmp.path()).args(["data", "verify", "nas-bench-201-cifar10"]));
}

#[test]
fn a_search_fetches_its_missing_table_on_first_use() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (stdout, stderr) = succeeds(
        genius(&data)
            .args(["search", "--space", "channel-bench-macro-mobilenet", "--budget", "5", "--quiet", "--out"])
            .arg(tmp.path().join("run"))
            .args(["--base-url", &mirror.url("ok")]),
    );
    assert!(stderr.contains("note: the channel-bench-macro-mobilenet table is missing"), "{stderr}");
    assert!(stderr.contains("size and SHA-256 verified"), "{stderr}");
    assert!(stdout.contains("/ 16384)"), "{stdout}");
    assert_eq!(listing(&data), ["channel-bench-macro/Results_MobileNet.json"]);
}

#[test]
fn offline_or_unreachable_errors_name_the_fetch_command_and_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let search = |extra: &[&str]| {
        let mut cmd = genius(tmp.path());
        cmd.args(["search", "--space", "nas-bench-201-cifar100", "--budget", "3", "--quiet", "--out"])
            .arg(tmp.path().join("run"))
            .args(extra);
        cmd
    };
    let expected_path = tmp.path().join("nas-bench-201/nasbench201_cifar100.json");
    let (_, stderr) = fails(&mut search(&["--offline"]));
    for part in [
        "the nas-bench-201-cifar100 table is missing",
        "genius data fetch nas-bench-201-cifar100",
        "https://raw.githubusercontent.com/mingkai-zheng/GENIUS/HEAD/benchmark/nasbench201_cifar100.json",
        &expected_path.display().to_string(),
        "--offline",
    ] {
        assert!(stderr.contains(part), "missing `{part}` in: {stderr}");
    }
    let (_, stderr) = fails(search(&[]).env("GENIUS_OFFLINE", "true"));
    assert!(stderr.contains("not downloaded: --offline"), "{stderr}");

    let (_, stderr) = fails(&mut search(&["--base-url", &unreachable()]));
    assert!(
        stderr.contains("cannot download") && stderr.contains("genius data fetch nas-bench-201-cifar100"),
        "{stderr}"
    );
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));

    let (stdout, stderr) =
        fails(genius(tmp.path()).args(["data", "fetch", "--all", "-q", "--base-url", &unreachable()]));
    assert_eq!(stdout.matches("FAILED").count(), 6, "{stdout}");
    assert!(stderr.contains("6 table(s) could not be downloaded"), "{stderr}");
    assert!(listing(tmp.path()).is_empty());
}

#[test]
fn data_commands_refuse_unknown_names_and_a_missing_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, stderr) = fails(genius(tmp.path()).args(["data", "fetch"]));
    assert!(stderr.contains("--all"), "{stderr}");
    let (_, stderr) = fails(genius(tmp.path()).args(["data", "fetch", "nas-bench-301"]));
    assert!(
        stderr.contains("`nas-bench-301` names no benchmark table") && stderr.contains("nas-bench-201"),
        "{stderr}"
    );
    let (_, stderr) = fails(genius(tmp.path()).args(["data", "info", "mobilenet-imagenet"]));
    assert!(stderr.contains("names no benchmark table"), "{stderr}");
    let (_, stderr) = fails(genius(tmp.path()).args(["data", "info", "nas-bench-macro"]));
    assert!(stderr.contains("genius data fetch nas-bench-macro"), "{stderr}");
}

#[test]
fn info_prints_count_optimum_mean_and_the_best_architecture() {
    let (stdout, _) = succeeds(genius(&shared_data()).args(["data", "info", "nas-bench-201-cifar10"]));
    for part in [
        "architectures 15625",
        "test_acc_200  max 94.3733  mean 87.0563",
        "[reported, held out]",
        "val_acc_200   max 91.6067",
        "optimum       94.3733 test_acc_200",
        "best          |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    ] {
        assert!(stdout.contains(part), "missing `{part}` in:\n{stdout}");
    }
    let (stdout, _) = succeeds(genius(&shared_data()).args(["data", "info"]));
    assert_eq!(stdout.lines().filter(|l| l.starts_with("  architectures ")).count(), 6, "{stdout}");
    let empty = tempfile::tempdir().unwrap();
    let (stdout, _) = succeeds(genius(empty.path()).args(["data", "info"]));
    assert!(stdout.contains("nas-bench-macro: missing (genius data fetch nas-bench-macro)"), "{stdout}");
}

#[test]
fn arch_reads_any_text_form_and_prints_canonical_cost_and_rank() {
    let data = shared_data();
    let (stdout, _) = succeeds(genius(&data).args([
        "arch",
        "--space",
        "channel-bench-macro-resnet",
        "[256, 192, 256, 512, 512, 256, 512]",
    ]));
    for part in [
        "canonical  [256, 192, 256, 512, 512, 256, 512]",
        "choices    [3, 2, 3, 3, 3, 1, 3]",
        "params     12701322",
        "mean           93.8933  (rank 1 / 16384)",
        "the calculator's counts agree",
        "test accuracy",
    ] {
        assert!(stdout.contains(part), "missing `{part}` in:\n{stdout}");
    }
    let (stdout, _) =
        succeeds(genius(&data).args(["arch", "--space", "nas-bench-201-imagenet16-120", "[2, 2, 3, 1, 3, 3]"]));
    assert!(stdout.contains(
        "canonical  |nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    ));
    assert!(
        stdout.contains("test_acc_200   47.3111  (rank 1 / 15625)") && stdout.contains("[reported, held out]"),
        "{stdout}"
    );
    let (stdout, _) =
        succeeds(genius(&data).args(["arch", "--space", "nas-bench-macro", "0 2 0 1 2 1 0 0", "--no-table"]));
    assert!(stdout.contains("canonical  02012100") && !stdout.contains("table "), "{stdout}");

    let (_, stderr) = fails(genius(&data).args(["arch", "--space", "nas-bench-201-cifar10", "33312"]));
    assert!(stderr.contains("expected 6 operations, found 5"), "{stderr}");
    // An unknown space is refused with the known ones and the nearest suggested.
    let (_, stderr) = fails(genius(&data).args(["arch", "--space", "nas-bench-999", "0"]));
    assert!(
        stderr.contains("'nas-bench-999'") && stderr.contains("similar value exists: 'nas-bench-macro'"),
        "{stderr}"
    );
}

#[test]
fn spaces_lists_every_catalog_space_with_its_size_and_data_status() {
    let (stdout, _) = succeeds(genius(&shared_data()).arg("spaces"));
    for entry in genius_spaces::catalog::spaces() {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(entry.name))
            .unwrap_or_else(|| panic!("{} is not listed:\n{stdout}", entry.name));
        let status = if entry.table.is_some() { "present" } else { "no table" };
        assert!(line.contains(status), "{line}");
        let size = entry.cardinality();
        assert!(line.contains(&size.to_string()) || size >= 1_000_000_000_000, "{line}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (stdout, _) = succeeds(genius(empty.path()).arg("spaces"));
    let line = stdout.lines().find(|l| l.starts_with("nas-bench-201-imagenet16-120 ")).unwrap();
    assert_eq!(
        line.split_whitespace().take(3).collect::<Vec<_>>(),
        ["nas-bench-201-imagenet16-120", "15625", "missing"]
    );
    assert!(stdout.contains("6 table(s) missing: `genius data fetch --all`"), "{stdout}");
}

#[test]
fn model_fetch_installs_nothing_wrong_and_info_says_what_is_missing() {
    let (models, served) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let model = |args: &[&str]| {
        let mut cmd = genius(&shared_data());
        cmd.arg("model").args(args).arg("--model-dir").arg(models.path());
        cmd
    };
    let (stdout, _) = succeeds(&mut model(&["info"]));
    assert!(stdout.contains("missing (genius model fetch downloads it)"), "{stdout}");
    assert!(stdout.contains("this build runs it") || stdout.contains("--features local"), "{stdout}");
    assert_eq!(stdout.contains("this build runs it"), stdout.contains("converted copies: "), "{stdout}");

    // A file of the right size and the wrong contents, and no file at all: nothing is installed either time, and the
    // error says where else the model can come from.
    let file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    std::fs::write(served.path().join(file), vec![0u8; 98_362_432]).unwrap();
    let mirror = Mirror::serving(served.path().to_owned());
    for (mode, expected) in [("ok", "does not match its pinned SHA-256"), ("gone", "the server answered 404")] {
        let (stdout, stderr) = fails(&mut model(&["fetch", "--quiet", "--base-url", &mirror.url(mode)]));
        assert!(stderr.contains(expected), "{mode}: {stdout}\n{stderr}");
        assert!(stderr.contains(file) && stderr.contains("scripts/fetch-test-model.sh"), "{mode}: {stderr}");
        assert!(listing(models.path()).iter().all(|f| !f.contains(".gguf")), "{mode}: {:?}", listing(models.path()));
    }
    let (stdout, _) = succeeds(&mut model(&["info"]));
    assert!(stdout.contains("missing"), "{stdout}");
}

/// A small comparison on two spaces: two baselines, two seeds, 10 queries.
fn small_experiment(dir: &Path, spaces: &[&str]) -> PathBuf {
    let path = dir.join("small.toml");
    let spaces: Vec<String> = spaces.iter().map(|s| format!("\"{s}\"")).collect();
    let text = format!(
        "name = \"small\"\nspaces = [{}]\nseeds = 2\nbudgets = [5, 10]\nbaseline = \"random\"\njobs = 2\n\n\
         [[optimizer]]\nname = \"random\"\n\n[[optimizer]]\nname = \"local-search\"\n",
        spaces.join(", ")
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn compare_fetches_every_table_of_its_plan_on_first_use_and_runs_to_its_report() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("empty-data-dir");
    let config = small_experiment(tmp.path(), &["nas-bench-macro", "nas-bench-201-cifar10"]);
    let out = tmp.path().join("out");
    let compare = || {
        let mut cmd = genius(&data);
        cmd.args(["compare", "--quiet", "--config"]).arg(&config).arg("--out").arg(&out);
        cmd.env("GENIUS_DATA_URL", mirror.url("ok"));
        cmd
    };
    let (stdout, stderr) = succeeds(&mut compare());
    // One line per table before the first run, then the grid and its report.
    assert_eq!(stderr.matches("downloading").count(), 2, "{stderr}");
    assert!(stderr.find("nas-bench-macro table is missing").is_some(), "{stderr}");
    assert!(stderr.find("nas-bench-201-cifar10 table is missing").is_some(), "{stderr}");
    assert_eq!(listing(&data), [C10, "nas-bench-macro/nas-bench-macro_cifar10.json"]);
    assert!(stdout.contains("report: ") && out.join("report.md").is_file() && out.join("summary.csv").is_file());
    assert_eq!(mirror.requests(), 2);

    // Present tables are not downloaded again: the finished grid only writes its report again.
    let (stdout, stderr) = succeeds(&mut compare());
    assert!(!stderr.contains("downloading"), "{stderr}");
    assert!(stdout.contains("(8 already done)"), "{stdout}");
    assert_eq!(mirror.requests(), 2);
}

#[test]
fn offline_with_nothing_fetched_every_command_fails_at_once_naming_what_is_missing_and_the_fetch_command() {
    let mirror = Mirror::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let datasets = tmp.path().join("datasets");
    let offline = |args: &[&str]| {
        let mut cmd = genius(&data);
        cmd.args(args).env("GENIUS_OFFLINE", "1").env("GENIUS_DATASETS_DIR", &datasets);
        cmd.env("GENIUS_DATA_URL", mirror.url("ok"));
        cmd
    };

    let two = small_experiment(tmp.path(), &["nas-bench-macro", "nas-bench-201-cifar10"]);
    let (_, stderr) = fails(&mut offline(&["compare", "-q", "--config", two.to_str().unwrap()]));
    for part in [
        "the tables of nas-bench-macro, nas-bench-201-cifar10 are missing",
        "`genius data fetch nas-bench-macro nas-bench-201-cifar10`",
        "nas-bench-macro/nas-bench-macro_cifar10.json",
        "not downloaded: --offline",
    ] {
        assert!(stderr.contains(part), "missing `{part}` in: {stderr}");
    }

    let one = small_experiment(tmp.path(), &["channel-bench-macro-resnet"]);
    let (_, stderr) = fails(&mut offline(&["compare", "-q", "--config", one.to_str().unwrap()]));
    assert!(stderr.contains("`genius data fetch channel-bench-macro-resnet`"), "{stderr}");

    let (_, stderr) = fails(&mut offline(&["arch", "--space", "nas-bench-macro", "01201201"]));
    assert!(stderr.contains("`genius data fetch nas-bench-macro`") && stderr.contains("--offline"), "{stderr}");

    for dataset in ["mnist", "cifar10"] {
        let (_, stderr) = fails(&mut offline(&[
            "search",
            "--space",
            "nas-bench-macro",
            "--evaluator",
            "train",
            "--dataset",
            dataset,
            "--budget",
            "1",
            "--quiet",
            "--out",
            tmp.path().join("run").to_str().unwrap(),
        ]));
        assert!(stderr.contains(&format!("the {dataset} dataset is missing")), "{stderr}");
        assert!(stderr.contains(&format!("`genius data fetch {dataset}`")), "{stderr}");
        assert!(stderr.contains(&datasets.join(dataset).display().to_string()), "{stderr}");
        assert!(stderr.contains("--dataset-dir") && stderr.contains("not downloaded: --offline"), "{stderr}");
    }
    assert_eq!(mirror.requests(), 0, "nothing is downloaded offline");
    assert!(listing(tmp.path()).iter().all(|f| f.ends_with(".toml")), "{:?}", listing(tmp.path()));
}

/// Fashion-MNIST as scripts/test.sh left it: Debian's copy or the dataset cache's.
fn fashion_mnist() -> PathBuf {
    let dir = genius_train::DatasetKind::FashionMnist.default_dir(&genius_train::data::sources::cache_root());
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "this test needs Fashion-MNIST: run the tests with scripts/test.sh (it fetches it)"
    );
    dir
}

#[test]
fn a_dataset_is_fetched_from_a_mirror_checked_and_then_left_alone() {
    // A mirror laid out like the dataset cache (<dataset>/<file>), holding a pinned copy of Fashion-MNIST.
    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir(source.path().join("fashion-mnist")).unwrap();
    for file in genius_train::DatasetKind::FashionMnist.sources() {
        std::fs::copy(fashion_mnist().join(file.name), source.path().join("fashion-mnist").join(file.name)).unwrap();
    }
    let mirror = Mirror::serving(source.path().to_owned());
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("datasets");
    let fetch = |mode: &str| {
        let mut cmd = genius(&tmp.path().join("data"));
        // --force: past Debian's copy where it is installed, into the cache.
        cmd.args(["data", "fetch", "fashion-mnist", "--force", "-q", "--base-url", &mirror.url(mode)]);
        cmd.env("GENIUS_DATASETS_DIR", &cache);
        cmd
    };

    let (stdout, stderr) = fails(&mut fetch("corrupt"));
    assert!(stdout.contains("is not the published file") && stdout.contains("nothing was installed"), "{stdout}");
    assert!(stderr.contains("1 dataset(s) could not be downloaded: fashion-mnist"), "{stderr}");
    assert!(listing(&cache).is_empty(), "{:?}", listing(&cache));
    let (stdout, _) = fails(&mut fetch("gone"));
    assert!(stdout.contains("the server answered 404"), "{stdout}");
    assert!(listing(&cache).is_empty(), "{:?}", listing(&cache));

    let (stdout, _) = succeeds(&mut fetch("ok"));
    assert_eq!(stdout.matches("size and SHA-256 verified").count(), 4, "{stdout}");
    assert_eq!(
        listing(&cache),
        [
            "fashion-mnist/t10k-images-idx3-ubyte.gz",
            "fashion-mnist/t10k-labels-idx1-ubyte.gz",
            "fashion-mnist/train-images-idx3-ubyte.gz",
            "fashion-mnist/train-labels-idx1-ubyte.gz"
        ]
    );
    let (train, test) = genius_train::DatasetKind::FashionMnist.read(&cache.join("fashion-mnist")).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));

    // Present and intact (Debian's copy where installed, else the cache's): nothing is requested again.
    let requests = mirror.requests();
    let mut again = genius(&tmp.path().join("data"));
    again.args(["data", "fetch", "fashion-mnist", "--base-url", &mirror.url("ok")]);
    let (stdout, _) = succeeds(again.env("GENIUS_DATASETS_DIR", &cache));
    assert!(stdout.contains("present and intact"), "{stdout}");
    assert_eq!(mirror.requests(), requests);
}

#[test]
fn offline_a_missing_embedded_model_is_an_error_naming_the_command_that_fetches_it() {
    let (models, runs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let search = |config: Option<&Path>| {
        let mut cmd = genius(&shared_data());
        cmd.env("GENIUS_MODEL_DIR", models.path());
        match config {
            None => cmd.args(["search", "--space", "nas-bench-macro", "--optimizer", "genius", "--budget", "1"]),
            Some(c) => cmd.args(["compare", "--config"]).arg(c),
        };
        cmd.arg("--offline").arg("--out").arg(runs.path().join("out"));
        cmd
    };
    let (_, stderr) = fails(&mut search(None));
    assert!(stderr.contains("genius model fetch") && stderr.contains("(not downloaded: --offline)"), "{stderr}");
    let config = runs.path().join("plan.toml");
    std::fs::write(
        &config,
        "name = \"p\"\nspaces = [\"nas-bench-macro\"]\nseeds = 1\nbudgets = [2]\n\n[[optimizer]]\nname = \"genius\"\n\
         settings = { llm = \"local\" }\n",
    )
    .unwrap();
    let (_, stderr) = fails(&mut search(Some(&config)));
    assert!(stderr.contains("genius model fetch") && stderr.contains("(not downloaded: --offline)"), "{stderr}");
    assert!(listing(models.path()).is_empty(), "nothing was downloaded");
    assert!(!runs.path().join("out").exists(), "nothing was started");
}
