//! The batch script of one submission: a job array whose task `i` evaluates the `i`-th architecture of the batch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use genius_core::executor::{JobId, JobRequest};
use serde::{Deserialize, Serialize};

use crate::SlurmSettings;

/// The program every job runs, and the shared directory that holds the jobs' scripts, logs and results. The worker
/// gets `--arch TEXT --out PATH` appended and must write its [`JobOutput`](genius_core::executor::JobOutput) to
/// `PATH` atomically: `genius evaluate --space S --evaluator CONFIG.toml` is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// The program and its fixed arguments.
    pub command: Vec<String>,
    /// A directory every node of the cluster sees at this path (a shared file system).
    pub job_dir: PathBuf,
}

impl Worker {
    /// Where the job of `request` writes its result.
    pub fn output_path(&self, request: &JobRequest) -> PathBuf {
        self.job_dir.join(format!("{}.json", request.key()))
    }

    /// Where SLURM writes the log (stdout and stderr) of the array task `id`.
    pub fn log_path(&self, id: &JobId) -> PathBuf {
        self.job_dir.join(format!("slurm-{id}.out"))
    }

    /// Where the batch script of a submission starting with `first` is written.
    pub fn script_path(&self, first: &JobRequest) -> PathBuf {
        self.job_dir.join(format!("{}.sbatch", first.key()))
    }
}

fn quote(word: &str) -> Result<String, String> {
    shlex::try_quote(word).map(|q| q.into_owned()).map_err(|e| format!("cannot quote `{word}` for the shell: {e}"))
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str().ok_or_else(|| format!("{} is not valid UTF-8", path.display()))
}

/// The text of the batch script that evaluates `requests` as the tasks `0..n` of one array.
pub fn batch_script(settings: &SlurmSettings, worker: &Worker, requests: &[JobRequest]) -> Result<String, String> {
    if requests.is_empty() {
        return Err("nothing to submit".into());
    }
    if worker.command.is_empty() {
        return Err("the worker command is empty".into());
    }
    let job_dir = path_str(&worker.job_dir)?;
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(
        "# A batch of genius evaluations, written by genius-slurm: array task i evaluates the i-th architecture.\n",
    );
    for option in settings.sbatch_options() {
        writeln!(s, "#SBATCH {option}").unwrap();
    }
    writeln!(s, "#SBATCH --array=0-{}", requests.len() - 1).unwrap();
    writeln!(s, "#SBATCH --output={job_dir}/slurm-%A_%a.out").unwrap();
    s.push_str("set -u\ncase \"${SLURM_ARRAY_TASK_ID:?this script runs as a SLURM array task}\" in\n");
    for (i, r) in requests.iter().enumerate() {
        writeln!(
            s,
            "  {i}) GENIUS_TRIAL={} GENIUS_ATTEMPT={} GENIUS_JOB_KEY={} ARCH={} ;;",
            r.trial,
            r.attempt,
            r.key(),
            quote(&r.text)?
        )
        .unwrap();
    }
    s.push_str("  *) echo \"genius: no architecture for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n");
    s.push_str("export GENIUS_TRIAL GENIUS_ATTEMPT GENIUS_JOB_KEY\n");
    s.push_str("echo \"genius: trial $GENIUS_TRIAL, attempt $GENIUS_ATTEMPT, on $(hostname)\"\n");
    for line in &settings.setup {
        if line.contains('\n') {
            return Err(format!("setup line `{line}` holds a line break; give one line per entry"));
        }
        writeln!(s, "{line}").unwrap();
    }
    let command: Vec<String> = worker.command.iter().map(|w| quote(w)).collect::<Result<_, _>>()?;
    writeln!(s, "exec {} --arch \"$ARCH\" --out {}/\"$GENIUS_JOB_KEY\".json", command.join(" "), quote(job_dir)?)
        .unwrap();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use genius_core::Architecture;

    fn request(trial: usize, text: &str) -> JobRequest {
        JobRequest { trial, attempt: 1, arch: Architecture::new(vec![0]), text: text.into() }
    }

    #[test]
    fn each_array_task_evaluates_its_architecture() {
        let worker = Worker {
            command: vec!["/opt/genius bin/genius".into(), "evaluate".into(), "--space".into(), "nas-bench-201".into()],
            job_dir: "/shared/run/jobs".into(),
        };
        let settings = SlurmSettings { setup: vec!["module load cuda".into()], ..SlurmSettings::default() };
        let script =
            batch_script(&settings, &worker, &[request(3, "[1, 2]"), request(4, "|nor_conv_3x3~0|+|none~0|'q")])
                .unwrap();
        assert!(script.contains("#SBATCH --array=0-1\n"), "{script}");
        assert!(script.contains("#SBATCH --output=/shared/run/jobs/slurm-%A_%a.out\n"), "{script}");
        assert!(
            script.contains(
                "  0) GENIUS_TRIAL=3 GENIUS_ATTEMPT=1 GENIUS_JOB_KEY=trial-000003-attempt-1 ARCH='[1, 2]' ;;"
            )
        );
        assert!(script.contains("module load cuda\nexec '/opt/genius bin/genius' evaluate --space nas-bench-201"));
        assert_eq!(worker.output_path(&request(3, "")), Path::new("/shared/run/jobs/trial-000003-attempt-1.json"));
        assert_eq!(worker.log_path(&JobId("7_1".into())), Path::new("/shared/run/jobs/slurm-7_1.out"));
    }

    /// The script runs under bash and hands each task its architecture intact, however it is quoted.
    #[test]
    fn bash_reads_back_every_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let worker = Worker { command: vec!["printf".into(), "%s\\n".into()], job_dir: dir.path().into() };
        let texts = ["[1, 2]", "|nor_conv_3x3~0|+|none~0|'q", "a \"b\" $HOME `x`"];
        let requests: Vec<_> = texts.iter().enumerate().map(|(i, t)| request(i, t)).collect();
        let script = batch_script(&SlurmSettings::default(), &worker, &requests).unwrap();
        let path = dir.path().join("batch.sh");
        std::fs::write(&path, script).unwrap();
        for (i, text) in texts.iter().enumerate() {
            let out = std::process::Command::new("bash").arg(&path).env("SLURM_ARRAY_TASK_ID", i.to_string()).output();
            let out = out.unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let key = requests[i].key();
            let expected = format!("--arch\n{text}\n--out\n{}/{key}.json\n", dir.path().display());
            assert!(stdout.ends_with(&expected), "task {i}: {stdout}");
        }
    }
}
