//! The embedded model's throughput on a model file: prompt tokens per second, reply tokens per second (sampled and
//! forced), the share of time spent masking and sampling, for GENIUS-sized prompts with and without free-text
//! analysis. Each prompt is run cold (no prefix kept from the call before), then once more with one result more (the
//! next stateless GENIUS prompt), which runs from the kept prefix. Peak memory: run it under `/usr/bin/time -v`.
//!
//! ```text
//! cargo run --release -p genius-llm --features local --example local_throughput -- [MODEL.gguf] [REPEATS]
//! ```
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use genius_core::Notation;
use genius_core::testing::ToySpace;
use genius_llm::chat::{ChatRequest, Message};
use genius_llm::local::model::LocalModel;
use genius_llm::schema;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map_or_else(genius_llm::local::default_model_path, PathBuf::from);
    let repeats: u64 = args.next().map_or(Ok(3), |a| a.parse())?;
    let started = std::time::Instant::now();
    let model = LocalModel::open(&path)?;
    println!("model {} loaded in {:.2} s", path.display(), started.elapsed().as_secs_f64());
    let space = ToySpace::new();
    // A prompt of the size GENIUS sends after a few iterations: the task, the space, results so far.
    let mut history = String::new();
    for i in 0..12 {
        history.push_str(&format!(
            "depth {}, width {}, op {} gives an accuracy of {:.2}%\n",
            1 + i % 3,
            [1, 16, 32, 64][i % 4],
            ["conv", "pool"][i % 2],
            80.0 + (i as f64 * 1.37) % 10.0
        ));
    }
    let user = |history: &str| {
        format!(
            "You are designing a network. Its {} positions are: {}. Here are the designs tried so far and their \
             validation accuracy:\n{history}Propose a better design. Reply in JSON.",
            3, "depth (1, 2, 3); width (1, 16, 32, 64); op (conv, pool)"
        )
    };
    let next = format!("{history}depth 2, width 32, op conv gives an accuracy of 88.41%\n");
    println!(
        "{:<10} {:<5} {:>7} {:>10} {:>8} {:>8} {:>10} {:>8} {:>8}",
        "analysis", "cache", "prompt", "prompt/s", "sampled", "forced", "reply/s", "choose", "total s"
    );
    for analysis in [false, true] {
        for (seed, warm) in (0..repeats).flat_map(|s| [(s, false), (s, true)]) {
            if !warm {
                model.forget_prompts();
            }
            let request = ChatRequest {
                model: "m".into(),
                messages: vec![
                    Message::system("You are an expert in the field of neural architecture search."),
                    Message::user(user(if warm { &next } else { &history })),
                ],
                temperature: Some(0.7),
                top_p: None,
                max_tokens: None,
                seed: Some(seed),
                schema: Some(schema::answer(&space, Notation::Labels, 1, analysis)),
                exclude: Vec::new(),
            };
            let t = model.complete(&request)?.timing;
            let reply = t.sampled_tokens + t.forced_tokens;
            println!(
                "{:<10} {:<5} {:>7} {:>10.1} {:>8} {:>8} {:>10.1} {:>7.0}% {:>8.2}",
                analysis,
                if warm { "warm" } else { "cold" },
                t.prompt_tokens,
                t.prompt_tokens as f64 / t.prompt_s,
                t.sampled_tokens,
                t.forced_tokens,
                reply as f64 / t.reply_s,
                100.0 * t.choose_s / t.reply_s,
                t.prompt_s + t.reply_s
            );
        }
    }
    Ok(())
}
