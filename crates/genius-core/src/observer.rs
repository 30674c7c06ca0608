//! Observers: what a study tells the outside world as it runs (a progress bar, a logger, a test's recorder).

use crate::{RunHeader, Spend, Summary, Trial};

/// A moment in a study's life.
#[derive(Debug)]
#[non_exhaustive]
pub enum StudyEvent<'a> {
    /// The study starts (or resumes, replaying `recorded` trials from its log first).
    Started {
        /// The run header.
        header: &'a RunHeader,
        /// Trials already in the log, to be replayed without evaluation.
        recorded: usize,
    },
    /// A trial was recorded (or replayed from the log).
    Trial {
        /// The trial.
        trial: &'a Trial,
        /// The best trial so far by the objective.
        best: Option<&'a Trial>,
        /// What the study has spent.
        spend: &'a Spend,
        /// Whether it was replayed from the log rather than evaluated now.
        replayed: bool,
    },
    /// Something the user should know that does not stop the study.
    Warning(&'a str),
    /// The study ended.
    Finished(&'a Summary),
}

/// Receives [`StudyEvent`]s. Closures `FnMut(&StudyEvent)` are observers too.
pub trait Observer: Send {
    /// Called for every event, in order, on the study's task.
    fn observe(&mut self, event: &StudyEvent<'_>);
}

impl<F: FnMut(&StudyEvent<'_>) + Send> Observer for F {
    fn observe(&mut self, event: &StudyEvent<'_>) {
        self(event);
    }
}
