//! The GENIUS optimizer's constrained protocol against the paper's own GPT-4 ImageNet searches: the eleven chat
//! histories published with GENIUS (`genius-imagenet-chat-history/`), replayed reply by reply. A scripted model
//! answers each of our requests with the reply GPT-4 gave at that point of the logged search (a new chat takes the
//! next logged iteration, a correction the next reply of the same iteration, the distillation the principles the
//! paper wrote), and the test checks, call by call, that genius makes the same decisions (accept, or answer a
//! FLOPs violation) and states the same totals (in the corrections and in the experiment lines of later prompts) as
//! the logs. Where a log contradicts itself, the case is listed below with its reason; the comparison is not
//! loosened for it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use genius::core::{
    Architecture, Budget, Direction, EvalError, Evaluation, Evaluator, Metric, MetricSpec, Recorded, SearchSpace,
    Study, Visibility, async_trait,
};
use genius::llm::chat::{ChatModel, ChatReply, ChatRequest, Exchange, ModelInfo, Role, Source};
use genius::llm::settings::{DuplicateHandling, Principles, ProtocolChoice};
use genius::llm::transcript::CallRecord;
use genius::llm::{Genius, GeniusSettings, LlmError};
use genius::spaces::mobilenet::{FlopsWindow, MobileNetSpace};

const LOGS: &str = "genius-imagenet-chat-history";

#[derive(Debug, Clone)]
struct Message {
    role: String,
    content: String,
}

/// One logged search: its iterations (each the replies of one chat, the last one accepted), the principles it
/// stated from the second iteration on, the window, and the experiments of its last prompt.
struct Log {
    iterations: Vec<Vec<String>>,
    /// The corrections GENIUS sent, by (iteration, reply): `violation` or `duplicate`.
    corrected: BTreeMap<(usize, usize), &'static str>,
    /// The total stated in each FLOPs correction, by (iteration, reply).
    stated: BTreeMap<(usize, usize), u64>,
    principles: String,
    window: FlopsWindow,
    /// Experiment number (from 1) → (its stage lines as written, total, accuracy).
    experiments: BTreeMap<usize, (String, u64, f64)>,
}

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("GENIUS_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(dir.join(LOGS).join("329M.json").is_file(), "set GENIUS_DATA_DIR to a directory holding {LOGS}/");
    dir
}

fn number_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches('.'))
}

/// The architecture written as stage lines (`Stage 1 (Layer 2 to Layer 7): [1, 0, 0, 0, 0, 0]`, ...).
fn stage_arch(space: &dyn SearchSpace, stages: &str) -> Architecture {
    let lists: Vec<&str> = stages.lines().filter_map(|l| Some(&l[l.find('[')? + 1..l.find(']')?])).collect();
    space.parse(&format!("[{}]", lists.join(", "))).unwrap_or_else(|e| panic!("{stages}: {e}"))
}

fn read_log(messages: &[Message]) -> Log {
    let mut iterations: Vec<Vec<String>> = Vec::new();
    let mut stated = BTreeMap::new();
    let mut corrected = BTreeMap::new();
    for m in messages {
        match m.role.as_str() {
            "system" => iterations.push(Vec::new()),
            "assistant" => iterations.last_mut().unwrap().push(m.content.clone()),
            _ => {
                let it = iterations.len() - 1;
                let Some(reply) = iterations[it].len().checked_sub(1) else { continue };
                if let Some(total) = number_after(&m.content, "resulting ") {
                    stated.insert((it, reply), total.parse().unwrap());
                    corrected.insert((it, reply), "violation");
                } else if m.content.contains("already being tested") {
                    corrected.insert((it, reply), "duplicate");
                }
            }
        }
    }
    let first = &messages[1].content;
    let bounds = &first[first.rfind("remains in [").unwrap() + 12..];
    let (lo, hi) = bounds[..bounds.find(']').unwrap()].split_once(',').unwrap();
    let window = FlopsWindow::new(lo.trim().parse().unwrap(), hi.trim().parse().unwrap()).unwrap();
    let second = &messages.iter().filter(|m| m.role == "user").nth(1).unwrap().content;
    // "Please following the design principles:" (or "the analysis and design principles:"), up to the experiments.
    let principles = second.split("design principles:\n").nth(1).unwrap();
    let principles = principles[..principles.find("\n\nWe have conducted").unwrap()].trim().to_owned();
    let last =
        &messages.iter().rev().find(|m| m.role == "user" && m.content.contains("- Experiment1")).unwrap().content;
    let mut experiments = BTreeMap::new();
    for block in last.split("- Experiment").skip(1) {
        let n: usize = block.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
        let total = number_after(block, "total of ").unwrap().parse().unwrap();
        let accuracy = number_after(block, "accuracy of ").unwrap().parse().unwrap();
        let lines = block.lines().filter(|l| l.starts_with("Stage ")).collect::<Vec<_>>().join("\n");
        experiments.insert(n, (lines, total, accuracy));
    }
    Log { iterations, corrected, stated, principles, window, experiments }
}

fn logs() -> BTreeMap<String, Log> {
    let root = data_dir().join(LOGS);
    let mut out = BTreeMap::new();
    for dir in [root.clone(), root.join("ablation_study")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let raw: Vec<serde_json::Value> =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let text = |m: &serde_json::Value, k: &str| m[k].as_str().unwrap().to_owned();
                let messages: Vec<Message> =
                    raw.iter().map(|m| Message { role: text(m, "role"), content: text(m, "content") }).collect();
                let name = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                out.insert(name, read_log(&messages));
            }
        }
    }
    assert_eq!(out.len(), 11, "the 11 GENIUS ImageNet chat histories");
    out
}

/// Answers as GPT-4 did at the same point of the logged search; records which logged reply each call got.
struct LoggedModel {
    iterations: Vec<Vec<String>>,
    principles: String,
    distill: String,
    /// (iteration, reply) served, per call; `None` for the distillation.
    served: Mutex<Vec<Option<(usize, usize)>>>,
}

#[async_trait]
impl ChatModel for LoggedModel {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            provider: "logged".into(),
            model: "gpt-4 (logged)".into(),
            endpoint: None,
            structured_output: false,
        }
    }
    async fn chat(&self, request: &ChatRequest) -> Result<Exchange, LlmError> {
        let mut served = self.served.lock().unwrap();
        let last = request.messages.last().unwrap();
        let content = if last.role == Role::User && last.content == self.distill {
            served.push(None);
            self.principles.clone()
        } else {
            let previous = served.iter().rev().flatten().next().copied();
            let at = match previous {
                // A new chat: the next logged iteration.
                _ if request.messages.len() == 2 => (previous.map_or(0, |(i, _)| i + 1), 0),
                // A correction: the next reply of the same iteration (the last one again past its end).
                Some((i, r)) => (i, (r + 1).min(self.iterations[i].len() - 1)),
                None => panic!("a correction before any reply"),
            };
            served.push(Some(at));
            self.iterations
                .get(at.0)
                .ok_or_else(|| LlmError::Replay(format!("the log has no iteration {}", at.0 + 1)))?[at.1]
                .clone()
        };
        let reply = ChatReply {
            content,
            finish_reason: Some("stop".into()),
            refusal: None,
            model: None,
            tokens: Default::default(),
        };
        Ok(Exchange { reply, source: Source::Network, usage: Default::default(), latency_s: 0.0, retries: Vec::new() })
    }
}

/// The logged proxy accuracy of each trained architecture (the last one was never reported: any value).
struct LoggedAccuracy {
    space: Arc<dyn SearchSpace>,
    spec: MetricSpec,
    by_arch: Vec<(Architecture, f64)>,
}

#[async_trait]
impl Evaluator for LoggedAccuracy {
    fn name(&self) -> &str {
        "logged-accuracy"
    }
    fn metrics(&self) -> &MetricSpec {
        &self.spec
    }
    async fn evaluate(&self, arch: &Architecture) -> Result<Evaluation, EvalError> {
        // The log may print another way of writing the same network.
        let same = self.space.canonical(arch);
        let acc = self.by_arch.iter().find(|(a, _)| self.space.canonical(a) == same).map_or(0.0, |(_, v)| *v);
        Ok(Evaluation { metrics: [("proxy_acc".to_owned(), acc)].into(), ..Default::default() })
    }
}

/// What a log says that genius does not, with the reason.
struct Known {
    log: &'static str,
    /// `ExperimentN` (its total in the last prompt) or `correction I.R` (the total stated to reply R of iteration I,
    /// from 1).
    what: &'static str,
    why: &'static str,
}

/// Every disagreement between a log and itself. The printed totals are those found by
/// `crates/genius-spaces/tests/mobilenet.rs` (`the_reported_totals_are_the_calculated_totals_rounded`): the total
/// printed beside an architecture is not that architecture's total.
const KNOWN: &[Known] = &[
    Known {
        log: "ablation_study/epoch_50_input_224.json",
        what: "iteration 8 reply 2",
        why: "answered \"already being tested\", but it is none of the 7 experiments before it, nor the same network \
              as one (it is Experiment2 of epoch_10_input_224.json: the searches may have shared their record)",
    },
    Known {
        log: "ablation_study/epoch_50_input_224.json",
        what: "Experiment8",
        why: "follows from iteration 8: the log asked again where genius tested the design",
    },
    Known {
        log: "ablation_study/epoch_30_input_224.json",
        what: "correction 4.2",
        why: "the log states 347 for 347.6 (truncated, not rounded)",
    },
    Known {
        log: "ablation_study/epoch_50_input_224.json",
        what: "correction 8.1",
        why: "the log states 374 for 374.6 (truncated, not rounded)",
    },
    Known { log: "329M.json", what: "Experiment2", why: "printed 317; the architecture totals 321.8 (unexplained)" },
    Known {
        log: "329M.json",
        what: "Experiment5",
        why: "printed 326, another proposal's total; it is Experiment4's architecture, printed 329 there",
    },
    Known { log: "ablation_study/epoch_20_input_196.json", what: "Experiment2", why: "the same log as 329M.json" },
    Known { log: "ablation_study/epoch_20_input_196.json", what: "Experiment5", why: "the same log as 329M.json" },
    Known {
        log: "ablation_study/epoch_20_input_128.json",
        what: "Experiment5",
        why: "printed 325, another proposal's total",
    },
    Known {
        log: "ablation_study/epoch_20_input_128.json",
        what: "Experiment9",
        why: "printed 328; the architecture totals 340.6 (unexplained)",
    },
    Known {
        log: "ablation_study/epoch_20_input_160.json",
        what: "Experiment5",
        why: "printed 322, within 1 MFLOP (truncated, not rounded)",
    },
    Known {
        log: "ablation_study/epoch_20_input_224.json",
        what: "Experiment9",
        why: "printed 323, another proposal's total; it is Experiment8's architecture, printed 330 there",
    },
];

fn known(log: &str, what: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.log == log && k.what == what)
}

#[tokio::test]
async fn genius_decides_and_states_what_the_paper_s_gpt4_searches_logged() {
    let mut report = Vec::new();
    let mut disagreements: Vec<String> = Vec::new();
    let (mut decisions, mut corrections, mut lines) = (0, 0, 0);
    for (name, log) in logs() {
        let space: Arc<dyn SearchSpace> = Arc::new(MobileNetSpace::with_window(log.window));
        let by_arch: Vec<(Architecture, f64)> =
            log.experiments.values().map(|(stages, _, acc)| (stage_arch(&*space, stages), *acc)).collect();
        let metric = Metric {
            name: "proxy_acc".into(),
            direction: Direction::Maximize,
            visibility: Visibility::Search,
            description: "the logged proxy accuracy".into(),
        };
        let spec = MetricSpec { metrics: vec![metric], search: "proxy_acc".into(), report: "proxy_acc".into() };
        let settings = GeniusSettings {
            model: Some("gpt-4".into()),
            protocol: ProtocolChoice::Constrained,
            principles: Principles::Distill,
            structured_output: Some(false),
            // The ImageNet search answered a re-proposed design "already being tested" (its NAS-Bench scripts
            // evaluated it instead).
            duplicates: DuplicateHandling::Repair,
            ..GeniusSettings::default()
        };
        let distill = genius::llm::prompt::Templates::default().constrained.distill;
        let model = Arc::new(LoggedModel {
            iterations: log.iterations.clone(),
            principles: log.principles.clone(),
            distill,
            served: Mutex::new(Vec::new()),
        });
        let genius = Genius::new(settings.resolve().unwrap(), model.clone());
        let tmp = tempfile::tempdir().unwrap();
        let outcome = Study::new(
            space.clone(),
            Arc::new(LoggedAccuracy { space: space.clone(), spec, by_arch }),
            Box::new(genius),
        )
        .budget(Budget::evaluations(log.iterations.len()))
        .run_in(tmp.path())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.trials.len(), log.iterations.len(), "{name}: one trial per logged iteration");

        let recorded = Recorded::read(tmp.path()).unwrap();
        let calls: Vec<CallRecord> = recorded
            .events
            .iter()
            .filter(|e| e.event.kind == "llm_call")
            .map(|e| serde_json::from_value(e.event.data.clone()).unwrap())
            .collect();
        let problems: BTreeMap<u64, serde_json::Value> = recorded
            .events
            .iter()
            .filter(|e| e.event.kind == "reply_problem")
            .map(|e| (e.event.data["call"].as_u64().unwrap(), e.event.data.clone()))
            .collect();
        let served = model.served.lock().unwrap().clone();
        assert_eq!(served.len(), calls.len());
        // Decisions, call by call: the log corrected every reply but the last of an iteration.
        for (call, at) in calls.iter().zip(&served) {
            let Some((it, reply)) = *at else {
                assert_eq!(call.purpose, "distill");
                continue;
            };
            let theirs = log.corrected.get(&(it, reply)).copied().unwrap_or("accept");
            let ours = problems.get(&call.call);
            let kind = ours.map_or("accept", |p| p["kind"].as_str().unwrap());
            decisions += 1;
            let what = format!("iteration {} reply {}", it + 1, reply + 1);
            if let Some(k) = known(&name, &what).filter(|_| kind != theirs) {
                report.push(format!("{name} {what}: the log says {theirs}, genius {kind}: {}", k.why));
            } else if kind != theirs {
                let problem = ours.map_or(String::new(), |p| p["problem"].to_string());
                disagreements.push(format!(
                    "{name} iteration {} reply {}: the log says {theirs}, genius {kind} {problem}",
                    it + 1,
                    reply + 1
                ));
            }
            // The total stated in a correction: the paper's "resulting 362 FLOPS", ours "(rounded: 362)".
            if let (Some(p), Some(&theirs)) = (ours.filter(|p| p["kind"] == "violation"), log.stated.get(&(it, reply)))
            {
                let problem = p["problem"].as_str().unwrap();
                let stated: u64 = number_after(problem, "(rounded: ").unwrap().parse().unwrap();
                corrections += 1;
                let what = format!("correction {}.{}", it + 1, reply + 1);
                if stated != theirs {
                    match known(&name, &what) {
                        Some(k) => {
                            report.push(format!("{name} {what}: the log states {theirs}, genius {stated}: {}", k.why))
                        }
                        None => disagreements.push(format!("{name} {what}: the log states {theirs}, genius {stated}")),
                    }
                }
            }
        }
        // The experiment lines of the last prompt: the same architectures, totals and accuracies, in order.
        let last = calls.iter().rev().find(|c| c.purpose == "propose").unwrap();
        let prompt = &last.request.messages[1].content;
        for (n, (stages, total, accuracy)) in &log.experiments {
            let block = prompt
                .split(&format!("- Experiment{n}\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("{name}: no Experiment{n}"));
            let (arch_line, rest) = block.split_once('\n').unwrap();
            lines += 1;
            let (ours_arch, theirs_arch) = (space.parse(arch_line).unwrap(), stage_arch(&*space, stages));
            // The log sometimes prints another way of writing the same network (a skip moved within a stage).
            if space.canonical(&ours_arch) != space.canonical(&theirs_arch) {
                let what = format!("Experiment{n}");
                let text = format!(
                    "{name} {what}: the log prints {} ({} MFLOPs), genius proposed {} ({} MFLOPs)",
                    space.format(&theirs_arch),
                    space.stated_mflops(&theirs_arch).unwrap(),
                    space.format(&ours_arch),
                    space.stated_mflops(&ours_arch).unwrap()
                );
                match known(&name, &what) {
                    Some(k) => report.push(format!("{text}: {}", k.why)),
                    None => disagreements.push(text),
                }
                continue;
            }
            assert!(rest.starts_with("This design satisfies the constraint, achieving a total of "), "{rest}");
            let ours: u64 = number_after(rest, "total of ").unwrap().parse().unwrap();
            assert_eq!(
                number_after(rest, "accuracy of ").unwrap().parse::<f64>().unwrap(),
                *accuracy,
                "{name} Experiment{n}"
            );
            if ours != *total {
                match known(&name, &format!("Experiment{n}")) {
                    Some(k) => {
                        report.push(format!("{name} Experiment{n}: the log prints {total}, genius {ours}: {}", k.why))
                    }
                    None => disagreements.push(format!("{name} Experiment{n}: the log prints {total}, genius {ours}")),
                }
            }
        }
        // From the second iteration on, the prompts state the principles instead of asking the questions.
        assert!(prompt.contains(&log.principles), "{name}: the principles are stated");
    }
    for line in &report {
        eprintln!("known: {line}");
    }
    eprintln!("{decisions} decisions, {corrections} corrections and {lines} experiment lines compared");
    assert!(disagreements.is_empty(), "genius departs from the logs:\n{}", disagreements.join("\n"));
    assert!(decisions > 150 && lines == 99, "{decisions} decisions, {lines} lines");
}
