//! The GENIUS MobileNet-style ImageNet space: the FLOPs calculator against every figure the GENIUS chat logs print,
//! the FLOPs window, the text forms and the window sampler.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use genius_core::{Architecture, SearchRng, SearchSpace, SpaceExt};
use genius_spaces::cost::{Cost, FlopsCounting, LayerCosts};
use genius_spaces::mobilenet::{self, FlopsWindow, LAYERS, MobileNetModel, MobileNetSpace, MobileOp};
use rand::SeedableRng;
use serde::Deserialize;

const LOGS: &str = "genius-imagenet-chat-history";

/// `GENIUS_DATA_DIR`, else the shared data beside the repository.
fn data_dir() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join(LOGS).join("329M.json").is_file(),
        "these tests need the GENIUS ImageNet chat logs: set GENIUS_DATA_DIR to a directory holding {LOGS}/329M.json"
    );
    dir
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: String,
}

/// Every chat log (11 files), by file name relative to the log directory.
fn logs() -> BTreeMap<String, Vec<Message>> {
    let root = data_dir().join(LOGS);
    let mut out = BTreeMap::new();
    for dir in [root.clone(), root.join("ablation_study")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let messages: Vec<Message> =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not a chat log: {e}", path.display()));
                out.insert(path.strip_prefix(&root).unwrap().display().to_string(), messages);
            }
        }
    }
    assert_eq!(out.len(), 11, "expected the 11 GENIUS ImageNet chat logs in {}", root.display());
    out
}

/// The numbers of a `[a, b, c]` list.
fn numbers(list: &str) -> Vec<f64> {
    list.trim().trim_start_matches('[').trim_end_matches(']').split(',').map(|x| x.trim().parse().unwrap()).collect()
}

/// The FLOPs tables of a prompt: `flops_stage3_rest` → its 7 entries.
fn flops_tables(prompt: &str) -> BTreeMap<String, Vec<f64>> {
    prompt
        .lines()
        .filter_map(|line| line.trim().strip_prefix("flops_stage"))
        .map(|rest| {
            let (name, list) = rest.split_once('=').unwrap();
            (format!("flops_stage{}", name.trim()), numbers(list))
        })
        .collect()
}

/// The FLOPs printed for the fixed layers of a prompt: layer number → MFLOPs.
fn fixed_figures(prompt: &str) -> BTreeMap<usize, f64> {
    prompt
        .lines()
        .filter(|l| l.contains("defined: True"))
        .map(|line| {
            let layer = line.trim().strip_prefix("layer").unwrap().split([' ', ':']).next().unwrap().parse().unwrap();
            let figure = line.rsplit_once("FLOPS:").unwrap().1;
            let figure = figure.trim().trim_end_matches(',').trim_end_matches('}').trim().parse().unwrap();
            (layer, figure)
        })
        .collect()
}

/// The architecture written as five `Stage N (Layer a to Layer b): [...]` lines in `text` (the last five when there
/// are more), or `None`.
fn stage_lines(text: &str) -> Option<Architecture> {
    let lists: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' '))
        .filter(|l| l.starts_with("Stage ") && l.contains("(Layer") && l.contains('['))
        .map(|l| numbers(&l[l.find('[').unwrap()..=l.find(']').unwrap()]))
        .collect();
    if lists.len() < 5 {
        return None;
    }
    let choices: Vec<u16> = lists[lists.len() - 5..].iter().flatten().map(|&x| x as u16).collect();
    (choices.len() == LAYERS).then(|| Architecture::new(choices))
}

/// An architecture with the total FLOPs GENIUS reported for it.
#[derive(Debug, Clone)]
struct Reported {
    log: String,
    /// `Experiment3`, or `violation` for a proposal rejected for its FLOPs.
    what: String,
    arch: Architecture,
    mflops: u64,
}

/// Every experiment of every log (the list in the log's last prompt: the trained architectures with their totals),
/// and every proposal rejected for its FLOPs with the total it was told.
fn reported(logs: &BTreeMap<String, Vec<Message>>) -> (Vec<Reported>, Vec<Reported>, usize) {
    let (mut experiments, mut violations, mut unreadable) = (Vec::new(), Vec::new(), 0);
    for (log, messages) in logs {
        let last = messages.iter().rev().find(|m| m.role == "user" && m.content.contains("- Experiment1")).unwrap();
        for block in last.content.split("- Experiment").skip(1) {
            let number: String = block.chars().take_while(char::is_ascii_digit).collect();
            let total = block.split_once("total of ").unwrap().1.split(' ').next().unwrap().parse().unwrap();
            let arch = stage_lines(block).unwrap();
            experiments.push(Reported { log: log.clone(), what: format!("Experiment{number}"), arch, mflops: total });
        }
        for (i, m) in messages.iter().enumerate() {
            let Some((_, rest)) = m.content.split_once("resulting ") else { continue };
            if m.role != "user" {
                continue;
            }
            let total = rest.split(' ').next().unwrap().parse().unwrap();
            match stage_lines(&messages[i - 1].content) {
                Some(arch) => {
                    violations.push(Reported { log: log.clone(), what: "violation".into(), arch, mflops: total })
                }
                None => unreadable += 1,
            }
        }
    }
    (experiments, violations, unreadable)
}

fn space() -> MobileNetSpace {
    MobileNetSpace::new()
}

#[test]
fn the_calculator_reproduces_every_entry_of_the_ten_flops_tables() {
    let model = MobileNetModel::IMAGENET;
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for (log, messages) in logs() {
        for m in messages.iter().filter(|m| m.role == "user" && m.content.contains("flops_stage1_first")) {
            let tables = flops_tables(&m.content);
            assert_eq!(tables.len(), 10, "{log}: ten tables");
            for stage in 0..5 {
                for first in [true, false] {
                    let name = format!("flops_stage{}_{}", stage + 1, if first { "first" } else { "rest" });
                    let printed = &tables[&name];
                    let ours = model.stage_table(stage, first);
                    assert_eq!(printed.len(), 7, "{log}: {name}");
                    for (op, (p, c)) in printed.iter().zip(ours).enumerate() {
                        let diff = (c.mflops() - p).abs();
                        worst = worst.max(diff);
                        // Printed to 4 decimals: the calculator must agree to the printed precision (far inside the
                        // 0.01 MFLOPs the issue asks for).
                        assert!(diff <= 0.5e-4 + 1e-12, "{log}: {name}[{op}] printed {p}, calculated {}", c.mflops());
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 11 * 70, "every table of every log: {checked} entries");
    eprintln!("{checked} printed table entries reproduced; largest difference {worst:.6} MFLOPs");
}

#[test]
fn the_fixed_layers_match_the_printed_figures_once_the_printing_is_explained() {
    let model = MobileNetModel::IMAGENET;
    let thop = FlopsCounting::THOP;
    for (log, messages) in logs() {
        for m in messages.iter().filter(|m| m.role == "user" && m.content.contains("layer35")) {
            let printed = fixed_figures(&m.content);
            assert_eq!(printed.keys().copied().collect::<Vec<_>>(), [0, 1, 32, 33, 34, 35], "{log}");
            let close = |layer: usize, ours: Cost, tolerance: f64| {
                let p = printed[&layer];
                assert!(
                    (ours.mflops() - p).abs() <= tolerance,
                    "{log}: layer{layer} printed {p}, ours {}",
                    ours.mflops()
                );
            };
            // Layer 0 is printed as the stem convolution alone (to 3 decimals): 5.419008 MFLOPs.
            let stem_bn = thop.batch_norm(16, 112);
            close(0, model.stem() - stem_bn, 0.5e-3);
            // Layer 1 is printed without its output batch norm: 5.8207 = 6.6235 - 0.8028.
            close(1, model.first_block() - thop.batch_norm(16, 112), 0.5e-4);
            close(33, model.pool(), 0.5e-3);
            close(35, model.classifier(), 0.5e-3);
            // Layer 34 (3 decimals) is within 0.01 MFLOPs: 0.4096 against a printed 0.419.
            close(34, model.feature_conv(), 0.01);
            // Layer 32 is printed as 3.049; thop counts 3.0733 (the convolution and its batch norm), which is what
            // the reported totals need (see the totals test). An older thop convention (batch norm at 2 FLOPs per
            // element) gives 3.0419, within 0.01 of the printed figure; nothing we know gives 3.049 itself.
            let head = model.head_conv();
            assert!((head.mflops() - 3.07328).abs() < 1e-9);
            assert!((printed[&32] - head.mflops()).abs() < 0.025, "{log}: layer32");
            let old_thop = FlopsCounting { batch_norm_per_element: 2, global_pool: true };
            let (conv, out) = old_thop.conv(192, 320, 1, 1, 1, false, 7);
            close(32, conv + old_thop.batch_norm(320, out), 0.01);
        }
    }
}

/// The sum of the per-layer figures a GENIUS prompt prints for `arch`: the fixed layers and the table entries.
fn printed_sum(prompt: &str, arch: &Architecture) -> f64 {
    let tables = flops_tables(prompt);
    let fixed: f64 = fixed_figures(prompt).values().sum();
    fixed
        + arch
            .choices()
            .iter()
            .enumerate()
            .map(|(p, &c)| {
                let name = format!("flops_stage{}_{}", p / 6 + 1, if p % 6 == 0 { "first" } else { "rest" });
                tables[&name][usize::from(c)]
            })
            .sum::<f64>()
}

fn summary(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let pick = |q: f64| values[((n - 1) as f64 * q).round() as usize];
    format!(
        "n {n}, min {:.3}, p10 {:.3}, median {:.3}, mean {mean:.3}, p90 {:.3}, max {:.3}",
        values[0],
        pick(0.1),
        pick(0.5),
        pick(0.9),
        values[n - 1]
    )
}

#[test]
fn the_reported_totals_are_the_calculated_totals_rounded() {
    let logs = logs();
    let space = space();
    let prompt = &logs["329M.json"][1].content;
    let (experiments, violations, unreadable) = reported(&logs);
    assert_eq!(experiments.len(), 99, "9 experiments in each of the 11 logs");
    assert_eq!(unreadable, 16, "violation reports whose proposal is not written as five stage lines");

    // What the printed per-layer figures leave out is the same for every architecture: the stem's batch norm and
    // layer 1's output batch norm (0.8028 MFLOPs each), +0.0243 on layer 32 and -0.0094 on layer 34 (1.6205 in
    // all), up to the rounding of the 30 printed table entries.
    let mut gaps = Vec::new();
    for r in experiments.iter().chain(&violations) {
        let gap = space.flops(&r.arch) as f64 / 1e6 - printed_sum(prompt, &r.arch);
        assert!((gap - 1.6205).abs() < 0.002, "{} {}: calculated minus printed is {gap}", r.log, r.what);
        gaps.push(gap);
    }
    eprintln!("calculated total minus the sum of the printed figures: {}", summary(&mut gaps));

    // So a reported total is the calculated total rounded to a whole MFLOP, except for a handful of records.
    let mut mismatches = Vec::new();
    for r in experiments.iter().chain(&violations) {
        let ours = space.flops(&r.arch);
        if FlopsWindow::rounded_mflops(ours) != r.mflops {
            mismatches.push((r.clone(), ours as f64 / 1e6));
        }
    }
    let matches = experiments.len() + violations.len() - mismatches.len();
    eprintln!(
        "{} experiments and {} violation reports: {matches} reported totals are the calculated total rounded, {} \
         are not:",
        experiments.len(),
        violations.len(),
        mismatches.len()
    );
    // The 10 records that do not match (8 distinct: 329M.json and epoch_20_input_196.json are the same log). In 5
    // of them the log itself disagrees: the same architecture has another, matching total elsewhere in the same log
    // (329M Experiment5 = Experiment4 at 329; epoch_20_input_224 Experiment9 = Experiment8's architecture at 330),
    // or another proposal of the same log has the reported total (326 for 329M Experiment5, 325 for epoch_20_input_128
    // Experiment5, 323 for epoch_20_input_224 Experiment9): the total was written next to the wrong architecture.
    // Three are within 1 MFLOP (truncated rather than rounded, or counted on a slightly different network), and
    // two we cannot explain (329M Experiment2 is 4.8 MFLOPs off, epoch_20_input_128 Experiment9 12.6).
    let expected: [(&str, &str, u64); 10] = [
        ("329M.json", "Experiment2", 317),
        ("329M.json", "Experiment5", 326),
        ("ablation_study/epoch_20_input_128.json", "Experiment5", 325),
        ("ablation_study/epoch_20_input_128.json", "Experiment9", 328),
        ("ablation_study/epoch_20_input_160.json", "Experiment5", 322),
        ("ablation_study/epoch_20_input_196.json", "Experiment2", 317),
        ("ablation_study/epoch_20_input_196.json", "Experiment5", 326),
        ("ablation_study/epoch_20_input_224.json", "Experiment9", 323),
        ("ablation_study/epoch_30_input_224.json", "violation", 347),
        ("ablation_study/epoch_50_input_224.json", "violation", 374),
    ];
    for (r, ours) in &mismatches {
        eprintln!("  {} {}: reported {}, calculated {ours:.3}, {}", r.log, r.what, r.mflops, space.format(&r.arch));
    }
    let found: Vec<(&str, &str, u64)> =
        mismatches.iter().map(|(r, _)| (r.log.as_str(), r.what.as_str(), r.mflops)).collect();
    assert_eq!(found, expected);
    assert_eq!(matches, 216);
}

#[test]
fn the_gap_between_reported_totals_and_printed_figures_is_explained() {
    let logs = logs();
    let prompt = &logs["329M.json"][1].content;
    let (experiments, violations, _) = reported(&logs);
    let space = space();
    let gap = |records: &[Reported]| -> (Vec<f64>, Vec<f64>) {
        let mut raw = Vec::new();
        let mut consistent = Vec::new();
        for r in records {
            let d = r.mflops as f64 - printed_sum(prompt, &r.arch);
            raw.push(d);
            if FlopsWindow::rounded_mflops(space.flops(&r.arch)) == r.mflops {
                consistent.push(d);
            }
        }
        (raw, consistent)
    };
    let (mut exp_raw, mut exp_ok) = gap(&experiments);
    let (mut vio_raw, mut vio_ok) = gap(&violations);
    eprintln!("reported total minus the sum of the printed per-layer figures (MFLOPs):");
    eprintln!("  experiments, all:          {}", summary(&mut exp_raw));
    eprintln!("  experiments, consistent:   {}", summary(&mut exp_ok));
    eprintln!("  violation reports, all:    {}", summary(&mut vio_raw));
    eprintln!("  violation reports, consistent: {}", summary(&mut vio_ok));
    // Where the log is consistent, the gap is 1.6205 MFLOPs plus the rounding of the total to a whole MFLOP.
    for d in exp_ok.iter().chain(&vio_ok) {
        assert!((1.6205 - 0.5 - 0.002..=1.6205 + 0.5 + 0.002).contains(d), "{d}");
    }
    let mean = exp_ok.iter().chain(&vio_ok).sum::<f64>() / (exp_ok.len() + vio_ok.len()) as f64;
    assert!((mean - 1.62).abs() < 0.1, "the rounding averages out: mean {mean}");
}

#[test]
fn the_searched_networks_have_the_published_size() {
    let space = space();
    // GENIUS-329 (its default architecture, Experiment 4 of 329M.json): 329 MFLOPs and 7.0 M parameters.
    let g329 = space
        .parse("[[1, 0, 0, 0, 1, 0], [1, 0, 1, 1, 1, 0], [4, 0, 4, 3, 0, 0], [4, 3, 0, 4, 4, 0], [5, 0, 5, 5, 5, 0]]")
        .unwrap();
    let cost = space.cost(&g329);
    assert_eq!(cost.flops, 329_412_864);
    assert_eq!(cost.params, 6_967_464);
    assert_eq!(space.flops(&g329), cost.flops);
    // GENIUS-401 (Experiment 7 of 401M.json): 401 MFLOPs and 7.5 M parameters.
    let g401 = space.parse("101011 110011 440404 450505 650605").unwrap();
    let cost = space.cost(&g401);
    assert_eq!(FlopsWindow::rounded_mflops(cost.flops), 401);
    assert_eq!(cost.params, 7_452_328);
    // The per-layer breakdown adds up to the total and names every layer.
    let layers = space.layers(&g329);
    assert_eq!(layers.len(), 36);
    assert_eq!(layers.iter().map(|l| l.layer).collect::<Vec<_>>(), (0..36).collect::<Vec<_>>());
    assert_eq!(layers.iter().map(|l| l.cost).sum::<Cost>(), space.cost(&g329));
    assert_eq!(layers[2].operation, "InvertedResidual(16, 24, stride=2, kernel_size=3, expansion=4)");
    assert_eq!(layers[3].operation, "Skip(24, 24, stride=1)");
    assert_eq!(layers[3].cost, Cost::ZERO);
    assert_eq!(layers[35].cost, Cost::new(1_280_000, 1_281_000));
}

#[test]
fn every_text_form_reads_back() {
    let space = space();
    assert_eq!(space.cardinality(), 7u128.pow(30));
    assert_eq!(space.dimensions()[0].name, "layer 2");
    assert_eq!(space.dimensions()[29].name, "layer 31");
    let mut rng = SearchRng::seed_from_u64(3);
    for _ in 0..2000 {
        let arch = space.sample(&mut rng);
        let text = space.format(&arch);
        assert_eq!(text.len(), 30);
        assert_eq!(space.parse(&text).unwrap(), arch);
        let listed = format!("{:?}", arch.choices());
        assert_eq!(space.parse(&listed).unwrap(), arch);
    }
    let a = space.parse("100010101110404300430440505550").unwrap();
    let nested = space.parse("[[1,0,0,0,1,0],[1,0,1,1,1,0],[4,0,4,3,0,0],[4,3,0,4,4,0],[5,0,5,5,5,0]]").unwrap();
    assert_eq!(a, nested);
    let labels = std::iter::repeat_n("skip", 29).chain(["ir_k7_e6"]).collect::<Vec<_>>().join(", ");
    let last = space.parse(&labels).unwrap();
    assert_eq!(MobileNetSpace::ops(&last)[29], MobileOp::IrK7E6);
}

#[test]
fn bad_text_names_the_problem_and_the_format() {
    let space = space();
    let e = space.parse("10001010111040430043040050555").unwrap_err().to_string();
    assert!(e.contains("expected 30 choices, found 29") && e.contains("30 operation ids 0-6"), "{e}");
    let e = space.parse("100010101110404300430400505557").unwrap_err().to_string();
    assert!(e.contains("choice 7 of dimension 29 (layer 31) is out of range 0..7"), "{e}");
    let e = space.parse("[1, 0, conv, 0]").unwrap_err().to_string();
    assert!(e.contains("[1, 0, conv, 0]") && e.contains("expected 30 choices"), "{e}");
}

#[test]
fn the_window_is_checked_on_the_rounded_total() {
    let space = space();
    assert!(space.is_constrained());
    assert_eq!(space.name(), mobilenet::NAME);
    let ok = |text: &str| space.check(&space.parse(text).unwrap());
    // Experiment 1 of 329M.json: 330.24 MFLOPs, reported as 330 and accepted.
    assert_eq!(ok("100000 110000 444000 555500 666660"), Ok(()));
    // 330.55 MFLOPs, reported as 331 and rejected.
    let e = ok("100010 101110 402220 330440 404550").unwrap_err();
    assert_eq!(e.message, "330.55 MFLOPs (rounded: 331) is outside the FLOPs window [270, 330] MFLOPs");
    // All skips: 23.22 MFLOPs.
    let e = ok(&"0".repeat(30)).unwrap_err();
    assert!(e.message.starts_with("23.22 MFLOPs (rounded: 23)"), "{}", e.message);
    assert!(!MobileNetSpace::unconstrained().is_constrained());
    assert_eq!(MobileNetSpace::unconstrained().check(&Architecture::new(vec![0; 30])), Ok(()));
}

#[test]
fn windows_are_read_checked_and_carried_in_the_name() {
    assert_eq!("270-330".parse::<FlopsWindow>().unwrap(), FlopsWindow::GENIUS_329);
    assert_eq!("[370, 430]".parse::<FlopsWindow>().unwrap(), FlopsWindow::GENIUS_401);
    let e = "330-270".parse::<FlopsWindow>().unwrap_err().to_string();
    assert!(e.contains("`330-270` is not a FLOPs window: the lower end is above the upper end"), "{e}");
    let e = "lots".parse::<FlopsWindow>().unwrap_err().to_string();
    assert!(e.contains("expected two numbers") && e.contains("e.g. 270-330"), "{e}");
    let e = "270-3.5e2".parse::<FlopsWindow>().unwrap_err().to_string();
    assert!(e.contains("`3.5e2` is not a whole number"), "{e}");
    assert_eq!(FlopsWindow::GENIUS_401.to_string(), "[370, 430] MFLOPs");

    let s401 = MobileNetSpace::with_window(FlopsWindow::GENIUS_401);
    assert_eq!(s401.name(), "mobilenet-imagenet-370-430");
    assert_eq!(MobileNetSpace::unconstrained().name(), "mobilenet-imagenet-unconstrained");
    for name in ["mobilenet-imagenet", "mobilenet-imagenet-370-430", "mobilenet-imagenet-unconstrained"] {
        assert_eq!(MobileNetSpace::from_name(name).unwrap().name(), name);
    }
    assert_eq!(
        MobileNetSpace::from_name("mobilenet-imagenet-370-430").unwrap().window(),
        Some(FlopsWindow::GENIUS_401)
    );
    for name in ["mobilenet-imagenet-270-330", "mobilenet-imagenet-430-370", "mobilenet-imagenetx", "nas-bench-macro"] {
        assert!(MobileNetSpace::from_name(name).is_none(), "{name}");
    }
    let entry = genius_spaces::catalog::find(mobilenet::NAME).unwrap();
    assert!(entry.table.is_none());
    assert_eq!(entry.space().name(), mobilenet::NAME);
    assert!(entry.space().is_constrained());
}

#[test]
fn the_window_sampler_draws_only_valid_architectures_deterministically() {
    let space = space();
    let mut rng = SearchRng::seed_from_u64(11);
    let drawn: Vec<Architecture> = (0..300).map(|_| space.sample_in_window(&mut rng).unwrap()).collect();
    assert!(drawn.iter().all(|a| space.is_valid(a)));
    let mut again = SearchRng::seed_from_u64(11);
    assert_eq!(space.sample_in_window(&mut again).unwrap(), drawn[0]);
    let distinct: std::collections::HashSet<_> = drawn.iter().collect();
    assert_eq!(distinct.len(), drawn.len(), "the window holds about 2e20 architectures");
    // Optimizers draw through SearchSpace::sample_feasible, which is this sampler.
    let dynamic: &dyn SearchSpace = &space;
    let mut a = SearchRng::seed_from_u64(11);
    let mut b = SearchRng::seed_from_u64(11);
    assert_eq!(dynamic.sample_feasible(&mut a), space.sample_in_window(&mut b));
    // A window below the smallest network (23.22 MFLOPs) holds nothing.
    let empty = MobileNetSpace::with_window(FlopsWindow::new(0, 20).unwrap());
    assert!(empty.sample_in_window(&mut rng).is_none());
    // The smallest network (23.22 MFLOPs) is alone in [23, 23]; [24, 24] holds nothing, though the bucketed
    // counts cannot tell (the draws are all rejected, then `None`).
    let smallest = MobileNetSpace::with_window(FlopsWindow::new(23, 23).unwrap());
    assert_eq!(smallest.sample_in_window(&mut rng), Some(Architecture::new(vec![0; 30])));
    let none = MobileNetSpace::with_window(FlopsWindow::new(24, 24).unwrap());
    assert!(none.sample_in_window(&mut rng).is_none());
}

/// Every architecture of `space` inside its window, found by depth-first search (only for small windows).
fn enumerate_window(space: &MobileNetSpace) -> Vec<Architecture> {
    let window = space.window().unwrap();
    let limit = window.max_mflops() * 1_000_000 + 500_000;
    fn walk(space: &MobileNetSpace, limit: u64, prefix: &mut Vec<u16>, out: &mut Vec<Architecture>) {
        let mut full = prefix.clone();
        full.resize(LAYERS, 0);
        let flops = space.flops(&Architecture::new(full.clone()));
        if flops >= limit {
            return;
        }
        if prefix.len() == LAYERS {
            if space.check(&Architecture::new(full)).is_ok() {
                out.push(Architecture::new(prefix.clone()));
            }
            return;
        }
        for c in 0..7 {
            prefix.push(c);
            walk(space, limit, prefix, out);
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    walk(space, limit, &mut Vec::new(), &mut out);
    out
}

#[test]
fn the_window_sampler_is_uniform() {
    // A narrow window near the smallest network holds few enough architectures to list them all: Skip everywhere
    // costs least in every layer, so a depth-first search with the rest set to Skip prunes exactly.
    let space = MobileNetSpace::with_window(FlopsWindow::new(30, 42).unwrap());
    let all = enumerate_window(&space);
    assert!((20..2000).contains(&all.len()), "{} architectures", all.len());
    let index: HashMap<&Architecture, usize> = all.iter().enumerate().map(|(i, a)| (a, i)).collect();
    let per_cell = 40;
    let draws = all.len() * per_cell;
    let mut counts = vec![0usize; all.len()];
    let mut rng = SearchRng::seed_from_u64(5);
    for _ in 0..draws {
        let a = space.sample_in_window(&mut rng).unwrap();
        counts[index[&a]] += 1;
    }
    let expected = per_cell as f64;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    let dof = (all.len() - 1) as f64;
    // Mean dof, sd sqrt(2 dof): 5 sd is far in the tail for a uniform sampler, while a skewed one fails by far.
    assert!(chi2 < dof + 5.0 * (2.0 * dof).sqrt(), "chi-square {chi2:.1} with {dof} degrees of freedom");
    eprintln!("{} architectures in [30, 42] MFLOPs; chi-square {chi2:.1} on {dof} dof", all.len());
}

#[test]
fn the_brief_follows_the_genius_prompt_with_our_figures() {
    let logs = logs();
    let printed = flops_tables(&logs["329M.json"][1].content);
    let brief = space().brief().unwrap();
    assert_eq!(brief.operations.len(), 7);
    assert_eq!(
        brief.operations[5],
        "5: InvertedResidual(in_channels, out_channels, stride, kernel_size=5, expansion=6)"
    );
    assert_eq!(brief.tables.len(), 10);
    for table in &brief.tables {
        let ours = numbers(&table.text);
        let theirs = &printed[&format!("flops_{}", table.title)];
        assert_eq!(&ours, theirs, "{}", table.title);
    }
    let layout: Vec<&str> = brief.layout.lines().collect();
    assert_eq!(layout.len(), 36);
    assert!(
        layout[2].starts_with("layer2: searchable, stage 1, in_channels=16, out_channels=24, stride=2"),
        "{}",
        layout[2]
    );
    assert!(layout[20].contains("in_channels=80, out_channels=96, stride=1, MFLOPs stage4_first[op_list[18]]"));
    assert!(layout[35].starts_with("layer35: fixed, Linear(1280, 1000), 1.28 MFLOPs"), "{}", layout[35]);
    assert!(brief.answer_format.contains("30 operation ids") && brief.answer_format.contains("[270, 330] MFLOPs"));
    // The paper's prompt elided its example; ours did not, and gave GENIUS-329 itself: never again.
    assert_eq!(brief.example, "[1, 2, ..., 0]");
    assert!(space().parse(&brief.example).is_err());
    let unconstrained = MobileNetSpace::unconstrained().brief().unwrap();
    assert!(!unconstrained.answer_format.contains("MFLOPs"));
    // The fixed layers' figures in the layout add up, with the tables, to the calculated totals.
    let fixed: f64 = layout
        .iter()
        .filter(|l| l.contains(": fixed,"))
        .map(|l| l.rsplit(", ").next().unwrap().trim_end_matches(" MFLOPs").parse::<f64>().unwrap())
        .sum();
    assert!((fixed - MobileNetModel::IMAGENET.fixed().mflops()).abs() < 5e-4, "{fixed}");
}

#[test]
fn skips_moved_within_a_stage_are_the_same_network() {
    let space = space();
    // GENIUS answered the first "already being tested" (epoch_10_input_224.json, iteration 9): it is Experiment 8
    // with stage 1's second block one layer earlier.
    let proposed = space.parse("110000111100440400445400666000").unwrap();
    let tested = space.parse("101000111100440400445400666000").unwrap();
    assert_ne!(proposed, tested);
    assert_eq!(space.canonical(&proposed), space.canonical(&tested));
    assert_eq!(space.format(&space.canonical(&tested)), "110000111100444000445400666000");
    assert_eq!(space.flops(&proposed), space.flops(&tested));
    assert_eq!(space.cost(&proposed), space.cost(&tested));
    // A stage's first layer changes the shape: its Skip is a convolution, not an identity.
    let first_skipped = space.parse("011000111100440400445400666000").unwrap();
    assert_ne!(space.canonical(&first_skipped), space.canonical(&tested));
}
