//! A progress bar for a study, drawn on stderr only when it is a terminal.

use genius_core::{Observer, StudyEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws a bar of evaluations spent, with the best search-metric value so far; prints warnings above it.
pub struct Progress {
    bar: ProgressBar,
    metric: String,
}

impl Progress {
    /// A bar for a budget of `evaluations` (unknown when `None`), naming the search `metric`; hidden when `quiet` or
    /// when stderr is not a terminal.
    pub fn new(evaluations: Option<usize>, metric: &str, quiet: bool) -> Self {
        let bar = match evaluations {
            Some(n) => ProgressBar::new(n as u64),
            None => ProgressBar::no_length(),
        };
        if quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} evaluations  {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self { bar, metric: metric.to_owned() }
    }
}

impl Observer for Progress {
    fn observe(&mut self, event: &StudyEvent<'_>) {
        match event {
            StudyEvent::Started { recorded, .. } if *recorded > 0 => {
                self.bar.set_message(format!("replaying {recorded} recorded trials"));
            }
            StudyEvent::Trial { best, spend, .. } => {
                self.bar.set_position(spend.evaluations as u64);
                if let Some(value) = best.and_then(|b| b.evaluation.as_ref()).and_then(|e| e.value(&self.metric)) {
                    self.bar.set_message(format!("best {} {value:.2}", self.metric));
                }
            }
            StudyEvent::Warning(message) => {
                self.bar.suspend(|| eprintln!("warning: {message}"));
            }
            StudyEvent::Finished(_) => self.bar.finish_and_clear(),
            _ => {}
        }
    }
}
