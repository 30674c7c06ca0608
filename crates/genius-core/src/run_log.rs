//! The run directory: `trials.jsonl` (a header line, then a line per trial), `events.jsonl` (what optimizers asked
//! to record) and `summary.json` (written when a study ends).
//!
//! Appends are whole lines, flushed as [`Flush`] says. A run killed mid-write leaves a truncated last line; reading
//! recognises it, and reopening for a resume moves it aside to `<file>.truncated` (so nothing is silently dropped)
//! before appending again. A damaged line elsewhere is an error naming the file and line.
//!
//! A writer holds the directory's [`DirLock`] (an advisory lock on `genius.lock`, held by the operating system for
//! the life of the process, so a killed process leaves no stale lock): a second writer is refused with the holder's
//! pid. Readers ([`Recorded::read`], reports) take no lock.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Budget, MetricSpec, Objective, OptimizerEvent, StudySettings, Summary, Trial};

/// The file holding the header and the trials.
pub const TRIALS_FILE: &str = "trials.jsonl";
/// The file holding optimizer events.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The file written when a study ends.
pub const SUMMARY_FILE: &str = "summary.json";
/// The lock file of a directory genius writes (a run directory, a comparison's directory).
pub const LOCK_FILE: &str = "genius.lock";
/// The version of the run-log format this crate writes and reads.
pub const LOG_FORMAT: u32 = 1;

/// How eagerly appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    /// Each line is handed to the operating system as it is written: survives the process being killed. The default.
    #[default]
    Trial,
    /// Each line is also synced to the device: survives a power cut. For evaluations that cost hours.
    Sync,
    /// Lines are buffered and written in blocks: fastest, for free evaluations (table look-ups) where a trial lost
    /// to a kill is recomputed on resume.
    Buffered,
}

/// A named plug-in (optimizer, evaluator) and its settings, as recorded in a run header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// The name it is registered under.
    pub name: String,
    /// Its settings.
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// The first line of `trials.jsonl`: everything needed to repeat the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// The run-log format version ([`LOG_FORMAT`]).
    pub format: u32,
    /// The version of genius-core that started the run.
    pub genius_version: String,
    /// When the run started (RFC 3339, UTC).
    pub created_at: String,
    /// The study seed.
    pub seed: u64,
    /// The search space's name.
    pub space: String,
    /// The optimizer and its settings.
    pub optimizer: Component,
    /// The evaluator and its settings.
    pub evaluator: Component,
    /// What is optimized.
    pub objective: Objective,
    /// The evaluator's metrics (which one is searched, which reported).
    pub metrics: MetricSpec,
    /// The budget.
    pub budget: Budget,
    /// The runner's settings.
    pub settings: StudySettings,
    /// The executor that ran the evaluations as jobs, and its settings; `None` when they ran in the study's process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<Component>,
    /// Anything the caller adds (the command line, the data files used).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub context: serde_json::Value,
}

/// A problem with a run directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunLogError {
    /// An IO error on the named path.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done, e.g. `cannot create run directory`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The directory already holds a run.
    #[error("{0} already holds a run; resume it with `genius resume {0}`, or choose another output directory")]
    Exists(PathBuf),
    /// There is no run here.
    #[error("{0} holds no run log ({TRIALS_FILE} is missing)")]
    Missing(PathBuf),
    /// Another process is writing to the directory.
    #[error(
        "{dir} is in use by another genius process ({}); wait for it to end or stop it, then try again",
        holder.map_or_else(|| "its pid is not recorded".to_owned(), |pid| format!("pid {pid}"))
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The pid the holder wrote into the lock file, when it is readable.
        holder: Option<u32>,
    },
    /// The run changed on disk between being read and being locked for writing (another process wrote to it).
    #[error("{0} changed while it was being read (another process wrote to it); read it again")]
    Changed(PathBuf),
    /// The header line is missing or unreadable.
    #[error(
        "{path} has no readable header line ({reason}); the run cannot be resumed: start it again in a fresh directory"
    )]
    NoHeader {
        /// The trials file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The log was written by an incompatible version.
    #[error("{path} uses run-log format {found}, this genius reads format {LOG_FORMAT}")]
    Format {
        /// The trials file.
        path: PathBuf,
        /// The format found.
        found: u32,
    },
    /// A complete line that does not parse (damage that is not a truncated tail).
    #[error("{path} line {line} is damaged ({reason}); repair or remove that line, then resume again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The parse error.
        reason: String,
    },
}

type Result<T, E = RunLogError> = std::result::Result<T, E>;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RunLogError + use<> {
    let path = path.to_owned();
    move |cause| RunLogError::Io { action, path, cause }
}

/// An incomplete last line found at the end of a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line number of the fragment.
    pub line: usize,
    /// The fragment's length in bytes.
    pub bytes: usize,
}

/// An event line of `events.jsonl`: the event and the number of the ask that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The study's ask counter (1-based) when the event was emitted.
    pub ask: u64,
    /// The event.
    #[serde(flatten)]
    pub event: OptimizerEvent,
}

/// What a run directory holds, read back for a resume or a report.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The directory.
    pub dir: PathBuf,
    /// The header.
    pub header: RunHeader,
    /// Every complete trial, in order.
    pub trials: Vec<Trial>,
    /// Every complete event, in order.
    pub events: Vec<EventRecord>,
    /// A truncated tail found in `trials.jsonl` or `events.jsonl` (a run killed mid-write).
    pub truncated: Vec<TruncatedTail>,
    /// The summary, when the run finished.
    pub summary: Option<Summary>,
    trials_len: u64,
    events_len: u64,
    /// The files' sizes as read (truncated tails included), to notice a writer that came between reading and locking.
    sizes: (u64, u64),
}

/// Where a JSON-lines file ended: the length of its complete lines, its whole length, and a truncated tail.
#[derive(Debug, Clone)]
struct LinesEnd {
    good_len: u64,
    len: u64,
    truncated: Option<TruncatedTail>,
}

/// Reads a JSON-lines file one line at a time, handing each item to `on` with its 1-based line number: every
/// newline-terminated line must parse; an unterminated last line that does not parse is a truncated tail, one that
/// does parse is kept (the kill came just before its newline). `reader` is at byte `offset` of the file, at the start
/// of line `first_line`.
fn scan_lines<T, E>(
    path: &Path,
    mut reader: impl BufRead,
    (offset, first_line): (u64, usize),
    mut on: impl FnMut(usize, T) -> std::result::Result<(), E>,
) -> std::result::Result<LinesEnd, E>
where
    T: for<'de> Deserialize<'de>,
    E: From<RunLogError>,
{
    let mut line = Vec::new();
    let mut line_no = first_line - 1;
    let mut start = offset;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io("cannot read", path))?;
        if read == 0 {
            return Ok(LinesEnd { good_len: start, len: start, truncated: None });
        }
        line_no += 1;
        let terminated = line.last() == Some(&b'\n');
        let content = if terminated { &line[..line.len() - 1] } else { &line[..] };
        if !content.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<T>(content) {
                Ok(item) => on(line_no, item)?,
                Err(_) if !terminated => {
                    let truncated = Some(TruncatedTail { path: path.to_owned(), line: line_no, bytes: read });
                    return Ok(LinesEnd { good_len: start, len: start + read as u64, truncated });
                }
                Err(e) => {
                    return Err(
                        RunLogError::Corrupt { path: path.to_owned(), line: line_no, reason: e.to_string() }.into()
                    );
                }
            }
        }
        start += read as u64;
    }
}

/// A run directory's header and summary, read by [`Recorded::scan`] while its trials and events went by one at a
/// time.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The directory.
    pub dir: PathBuf,
    /// The header.
    pub header: RunHeader,
    /// The summary, when the run finished.
    pub summary: Option<Summary>,
    /// A truncated tail found in `trials.jsonl` or `events.jsonl` (a run killed mid-write).
    pub truncated: Vec<TruncatedTail>,
    trials: LinesEnd,
    events: LinesEnd,
}

/// Reads the header line; returns it and its length in bytes.
fn read_header(path: &Path, reader: &mut impl BufRead) -> Result<(RunHeader, u64)> {
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(io("cannot read", path))?;
    if first.last() != Some(&b'\n') {
        return Err(RunLogError::NoHeader { path: path.to_owned(), reason: "the file ends inside the header".into() });
    }
    let raw: serde_json::Value = serde_json::from_slice(&first)
        .map_err(|e| RunLogError::NoHeader { path: path.to_owned(), reason: e.to_string() })?;
    let found = raw.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
    if found != LOG_FORMAT {
        return Err(RunLogError::Format { path: path.to_owned(), found });
    }
    let header = serde_json::from_value(raw)
        .map_err(|e| RunLogError::NoHeader { path: path.to_owned(), reason: e.to_string() })?;
    Ok((header, first.len() as u64))
}

impl Recorded {
    /// Reads the run in `dir` without changing anything.
    pub fn read(dir: &Path) -> Result<Self> {
        let mut trials = Vec::new();
        let mut events = Vec::new();
        let scanned = Self::scan(
            dir,
            |_, t| {
                trials.push(t);
                Ok::<(), RunLogError>(())
            },
            |e| {
                events.push(e);
                Ok(())
            },
        )?;
        Ok(Self {
            dir: scanned.dir,
            header: scanned.header,
            trials,
            events,
            truncated: scanned.truncated,
            summary: scanned.summary,
            trials_len: scanned.trials.good_len,
            events_len: scanned.events.good_len,
            sizes: (scanned.trials.len, scanned.events.len),
        })
    }

    /// Reads only the header of the run in `dir` (its first line).
    pub fn header(dir: &Path) -> Result<RunHeader> {
        let path = dir.join(TRIALS_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RunLogError::Missing(dir.to_owned())),
            Err(e) => return Err(io("cannot read", &path)(e)),
        };
        read_header(&path, &mut BufReader::new(file)).map(|(header, _)| header)
    }

    /// Reads the run in `dir` without changing anything and without holding it in memory: each trial goes to
    /// `on_trial` (with the run's header), then each event to `on_event`, in order; the header and summary come back. The same checks as
    /// [`Recorded::read`] (a damaged line, trial indices out of order) end the scan with an error; an error from a
    /// callback ends it too.
    pub fn scan<E: From<RunLogError>>(
        dir: &Path,
        mut on_trial: impl FnMut(&RunHeader, Trial) -> std::result::Result<(), E>,
        mut on_event: impl FnMut(EventRecord) -> std::result::Result<(), E>,
    ) -> std::result::Result<Scanned, E> {
        let path = dir.join(TRIALS_FILE);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RunLogError::Missing(dir.to_owned()).into());
            }
            Err(e) => return Err(io("cannot read", &path)(e).into()),
        };
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let (header, header_len) = read_header(&path, &mut reader)?;
        let mut expected = 0usize;
        let trials = scan_lines::<Trial, E>(&path, &mut reader, (header_len, 2), |line, t| {
            if t.index != expected {
                return Err(RunLogError::Corrupt {
                    path: path.clone(),
                    line,
                    reason: format!("trial index {} where {expected} was expected", t.index),
                }
                .into());
            }
            expected += 1;
            on_trial(&header, t)
        })?;
        let events_path = dir.join(EVENTS_FILE);
        let events = match File::open(&events_path) {
            Ok(f) => {
                scan_lines::<EventRecord, E>(&events_path, BufReader::with_capacity(1 << 16, f), (0, 1), |_, e| {
                    on_event(e)
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LinesEnd { good_len: 0, len: 0, truncated: None },
            Err(e) => return Err(io("cannot read", &events_path)(e).into()),
        };
        let summary = match fs::read(dir.join(SUMMARY_FILE)) {
            Ok(b) => serde_json::from_slice(&b).ok(),
            Err(_) => None,
        };
        let truncated = trials.truncated.iter().chain(&events.truncated).cloned().collect();
        Ok(Scanned { dir: dir.to_owned(), header, summary, truncated, trials, events })
    }

    /// The number of evaluations (counted trials) recorded.
    pub fn evaluations(&self) -> usize {
        self.trials.iter().filter(|t| t.counted).count()
    }

    /// The highest ask number with an event recorded.
    pub fn last_event_ask(&self) -> u64 {
        self.events.iter().map(|e| e.ask).max().unwrap_or(0)
    }
}

/// Appends to a run directory.
#[derive(Debug)]
pub struct RunLog {
    dir: PathBuf,
    _lock: DirLock,
    trials: BufWriter<File>,
    events: BufWriter<File>,
    flush: Flush,
    line: Vec<u8>,
}

impl RunLog {
    /// Creates the run directory (if needed) and its log, and writes the header. Refuses a directory that already
    /// holds a run, or that another process holds.
    pub fn create(dir: &Path, header: &RunHeader, flush: Flush) -> Result<Self> {
        fs::create_dir_all(dir).map_err(io("cannot create run directory", dir))?;
        let lock = DirLock::acquire(dir)?;
        let path = dir.join(TRIALS_FILE);
        let file = OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                RunLogError::Exists(dir.to_owned())
            } else {
                io("cannot create", &path)(e)
            }
        })?;
        let events_path = dir.join(EVENTS_FILE);
        let events = File::create(&events_path).map_err(io("cannot create", &events_path))?;
        let mut log = Self {
            dir: dir.to_owned(),
            _lock: lock,
            trials: BufWriter::new(file),
            events: BufWriter::new(events),
            flush,
            line: Vec::new(),
        };
        log.write_line(true, header)?;
        // The header reaches the file whatever the flush policy: without it the run cannot be resumed.
        let path = dir.join(TRIALS_FILE);
        log.trials.flush().map_err(io("cannot write", &path))?;
        if flush == Flush::Sync {
            log.trials.get_ref().sync_data().map_err(io("cannot sync", &path))?;
        }
        Ok(log)
    }

    /// Reopens `recorded`'s directory to append after its last complete line. A truncated tail is moved to
    /// `<file>.truncated` first; a summary of an earlier finish is removed (the run goes on). Refused while another
    /// process holds the directory, or when the files changed since `recorded` was read.
    pub fn reopen(recorded: &Recorded, flush: Flush) -> Result<Self> {
        let dir = &recorded.dir;
        let lock = DirLock::acquire(dir)?;
        let size = |name: &str| fs::metadata(dir.join(name)).map_or(0, |m| m.len());
        if (size(TRIALS_FILE), size(EVENTS_FILE)) != recorded.sizes {
            return Err(RunLogError::Changed(dir.clone()));
        }
        let trials = reopen_file(&dir.join(TRIALS_FILE), recorded.trials_len)?;
        let events = reopen_file(&dir.join(EVENTS_FILE), recorded.events_len)?;
        let summary = dir.join(SUMMARY_FILE);
        if summary.exists() {
            fs::remove_file(&summary).map_err(io("cannot remove", &summary))?;
        }
        Ok(Self {
            dir: dir.clone(),
            _lock: lock,
            trials: BufWriter::new(trials),
            events: BufWriter::new(events),
            flush,
            line: Vec::new(),
        })
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write_line(&mut self, trials: bool, value: &impl Serialize) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).expect("run-log records serialize");
        self.line.push(b'\n');
        let (writer, name) = if trials { (&mut self.trials, TRIALS_FILE) } else { (&mut self.events, EVENTS_FILE) };
        // The error's path is built only on failure: this runs once per trial.
        let dir = &self.dir;
        writer.write_all(&self.line).map_err(|e| io("cannot write", &dir.join(name))(e))
    }

    fn sync_trials(&mut self) -> Result<()> {
        let path = || self.dir.join(TRIALS_FILE);
        match self.flush {
            Flush::Buffered => Ok(()),
            Flush::Trial => self.trials.flush().map_err(|e| io("cannot write", &path())(e)),
            Flush::Sync => {
                self.trials.flush().map_err(|e| io("cannot write", &path())(e))?;
                self.trials.get_ref().sync_data().map_err(|e| io("cannot sync", &path())(e))
            }
        }
    }

    /// Appends a trial.
    pub fn append_trial(&mut self, trial: &Trial) -> Result<()> {
        self.write_line(true, trial)?;
        self.sync_trials()
    }

    /// Appends an event of ask number `ask`.
    pub fn append_event(&mut self, ask: u64, event: &OptimizerEvent) -> Result<()> {
        self.write_line(false, &EventRecord { ask, event: event.clone() })?;
        if self.flush != Flush::Buffered {
            let path = self.dir.join(EVENTS_FILE);
            self.events.flush().map_err(io("cannot write", &path))?;
        }
        Ok(())
    }

    /// Writes every buffered line out.
    pub fn flush(&mut self) -> Result<()> {
        let (t, e) = (self.dir.join(TRIALS_FILE), self.dir.join(EVENTS_FILE));
        self.trials.flush().map_err(io("cannot write", &t))?;
        self.events.flush().map_err(io("cannot write", &e))
    }

    /// Flushes everything and writes `summary.json` atomically (a temporary file, then a rename).
    pub fn finish(&mut self, summary: &Summary) -> Result<()> {
        self.flush()?;
        write_json_atomically(&self.dir.join(SUMMARY_FILE), summary)
    }
}

/// The exclusive right to write a directory: an advisory lock on its [`LOCK_FILE`], released when this value is
/// dropped or the process ends (however it ends). The holder writes its pid into the file for the error a second
/// writer gets.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (which must exist), or says which process holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        use fs4::fs_std::FileExt;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("cannot open", &path))?;
        if !file.try_lock_exclusive().map_err(io("cannot lock", &path))? {
            let holder = fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok());
            return Err(RunLogError::Locked { dir: dir.to_owned(), holder });
        }
        file.set_len(0)
            .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io("cannot write", &path))?;
        Ok(Self { _file: file })
    }
}

fn reopen_file(path: &Path, good_len: u64) -> Result<File> {
    let mut file =
        OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io("cannot open", path))?;
    let len = file.metadata().map_err(io("cannot read", path))?.len();
    if len > good_len {
        let bytes = fs::read(path).map_err(io("cannot read", path))?;
        let aside = PathBuf::from(format!("{}.truncated", path.display()));
        let mut out = OpenOptions::new().create(true).append(true).open(&aside).map_err(io("cannot write", &aside))?;
        out.write_all(&bytes[good_len as usize..])
            .and_then(|()| out.write_all(b"\n"))
            .map_err(io("cannot write", &aside))?;
        file.set_len(good_len).map_err(io("cannot truncate", path))?;
    }
    if good_len > 0 {
        // A last line kept without its newline (killed just before writing it) gets one now.
        let bytes = fs::read(path).map_err(io("cannot read", path))?;
        if bytes.last() != Some(&b'\n') {
            file.write_all(b"\n").map_err(io("cannot write", path))?;
        }
    }
    Ok(file)
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename, so that a reader never sees half a
/// file.
pub fn write_json_atomically(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut bytes = serde_json::to_vec_pretty(value).expect("summaries serialize");
    bytes.push(b'\n');
    fs::write(&tmp, bytes).map_err(io("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io("cannot write", path))
}
