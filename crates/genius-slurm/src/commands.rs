//! The SLURM commands the executor runs (`sbatch`, `squeue`, `scontrol`, `scancel`) and what their output means.

use std::collections::HashMap;
use std::path::Path;

use genius_core::executor::JobId;

/// Runs `program args`, returning its standard output, or a message with its standard error.
async fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = tokio::process::Command::new(program).args(args).kill_on_drop(true).output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("`{program}` is not on PATH: run genius where the SLURM client commands are installed")
        } else {
            format!("cannot run `{program}`: {e}")
        }
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!("`{program} {}` failed ({}): {}", args.join(" "), output.status, stderr.trim()))
    }
}

/// Submits a batch script; returns its job id (an array's id).
pub async fn sbatch(script: &Path) -> Result<String, String> {
    let path = script.to_str().ok_or_else(|| format!("{} is not valid UTF-8", script.display()))?;
    let out = run("sbatch", &["--parsable", path]).await?;
    parse_sbatch(&out)
}

/// `sbatch --parsable` prints `ID` or `ID;CLUSTER`.
fn parse_sbatch(out: &str) -> Result<String, String> {
    let id = out.trim().split(';').next().unwrap_or_default();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("sbatch answered `{}`, not a job id", out.trim()));
    }
    Ok(id.to_owned())
}

/// Where `squeue` places a job: its state (`PENDING`, `RUNNING`, `FAILED`, ...) and the reason it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The state, as SLURM names it.
    pub state: String,
    /// The reason (`None` when there is none).
    pub reason: String,
}

/// What `squeue` knows of `ids` (ended jobs too, for the few minutes the controller keeps them). Jobs it does not
/// know are absent from the map.
pub async fn squeue(ids: &[JobId]) -> Result<HashMap<JobId, QueueEntry>, String> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list = ids.iter().map(|i| i.0.as_str()).collect::<Vec<_>>().join(",");
    let jobs = format!("--jobs={list}");
    match run("squeue", &["--noheader", "--array", "--states=all", "--format=%i|%T|%r", &jobs]).await {
        Ok(out) => Ok(parse_squeue(&out)),
        // squeue refuses a list of which it knows no job at all.
        Err(e) if e.contains("Invalid job id") => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

fn parse_squeue(out: &str) -> HashMap<JobId, QueueEntry> {
    out.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(3, '|');
            let id = fields.next()?.trim();
            let state = fields.next()?.trim();
            let reason = fields.next().unwrap_or("None").trim();
            (!id.is_empty())
                .then(|| (JobId(id.to_owned()), QueueEntry { state: state.to_owned(), reason: reason.to_owned() }))
        })
        .collect()
}

/// Whether a job in `state` may still run (and write a result).
pub fn is_live(state: &str) -> bool {
    !matches!(
        state,
        "COMPLETED"
            | "FAILED"
            | "CANCELLED"
            | "TIMEOUT"
            | "PREEMPTED"
            | "NODE_FAIL"
            | "OUT_OF_MEMORY"
            | "BOOT_FAIL"
            | "DEADLINE"
            | "REVOKED"
    )
}

/// Whether a live job is still waiting to start.
pub fn is_queued(state: &str) -> bool {
    matches!(
        state,
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" | "SPECIAL_EXIT"
    )
}

/// Why an ended job ended, from `scontrol show job`: `FAILED (NonZeroExitCode), exit code 3`. `None` when the
/// controller no longer knows the job.
pub async fn why_ended(id: &JobId) -> Result<Option<String>, String> {
    match run("scontrol", &["show", "job", "--oneliner", &id.0]).await {
        Ok(out) => Ok(Some(parse_scontrol(&out))),
        Err(e) if e.contains("Invalid job id") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why an ended job ended, from the accounting database (`sacct`), for a job the controller no longer keeps (it
/// forgets ended jobs after `MinJobAge`, 300 s by default). `None` where accounting is off or does not know the job.
pub async fn accounted(id: &JobId) -> Option<String> {
    let jobs = format!("--jobs={id}");
    let out = run("sacct", &["--noheader", "--parsable2", "--format=JobID,State,ExitCode", &jobs]).await.ok()?;
    parse_sacct(&out, id)
}

/// `sacct --parsable2` lines `ID|STATE|CODE:SIGNAL`; the job's own line, not its steps' (`ID.batch`).
fn parse_sacct(out: &str, id: &JobId) -> Option<String> {
    let line = out.lines().find(|l| l.split('|').next() == Some(id.0.as_str()))?;
    let mut fields = line.split('|').skip(1);
    // A state may carry detail: `CANCELLED by 0`.
    let state = fields.next()?.trim().to_owned();
    let mut why = state;
    if let Some((code, signal)) = fields.next().and_then(|e| e.trim().split_once(':')) {
        why.push_str(&exit_detail(code, signal));
    }
    Some(why)
}

/// `, exit code 3` or `, killed by signal 9` from an exit code and signal; empty for a clean exit.
fn exit_detail(code: &str, signal: &str) -> String {
    if signal != "0" {
        format!(", killed by signal {signal}")
    } else if code != "0" {
        format!(", exit code {code}")
    } else {
        String::new()
    }
}

fn parse_scontrol(out: &str) -> String {
    let field = |name: &str| {
        out.split_whitespace().find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')).map(str::to_owned))
    };
    let mut why = field("JobState").unwrap_or_else(|| "ended".into());
    if let Some(reason) = field("Reason").filter(|r| r != "None") {
        why.push_str(&format!(" ({reason})"));
    }
    // ExitCode=CODE:SIGNAL
    if let Some((code, signal)) = field("ExitCode").as_deref().and_then(|e| e.split_once(':')) {
        why.push_str(&exit_detail(code, signal));
    }
    why
}

/// Cancels `ids`; jobs that already ended are no error.
pub async fn scancel(ids: &[JobId]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let args: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
    match run("scancel", &args).await {
        Ok(_) => Ok(()),
        Err(e) if e.contains("already completing or completed") || e.contains("Invalid job id") => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbatch_ids_are_parsed() {
        assert_eq!(parse_sbatch("1234\n").unwrap(), "1234");
        assert_eq!(parse_sbatch("1234;cluster-a\n").unwrap(), "1234");
        assert!(parse_sbatch("Submitted batch job 12").unwrap_err().contains("not a job id"));
    }

    #[test]
    fn squeue_lines_are_parsed() {
        let map = parse_squeue("12_0|COMPLETED|None\n12_1|FAILED|NonZeroExitCode\n 12_2|PENDING|Priority\n\n");
        assert_eq!(map.len(), 3);
        assert_eq!(map[&JobId("12_1".into())], QueueEntry { state: "FAILED".into(), reason: "NonZeroExitCode".into() });
        assert!(is_live("PENDING") && is_queued("PENDING") && is_live("COMPLETING") && !is_queued("RUNNING"));
        assert!(!is_live("CANCELLED") && !is_live("TIMEOUT") && !is_live("NODE_FAIL"));
    }

    #[test]
    fn sacct_says_why_a_forgotten_job_ended() {
        let out = "12_3|FAILED|3:0\n12_3.batch|FAILED|3:0\n12_4|CANCELLED by 0|0:15\n";
        assert_eq!(parse_sacct(out, &JobId("12_3".into())).unwrap(), "FAILED, exit code 3");
        assert_eq!(parse_sacct(out, &JobId("12_4".into())).unwrap(), "CANCELLED by 0, killed by signal 15");
        assert_eq!(parse_sacct(out, &JobId("12_5".into())), None);
        assert_eq!(parse_sacct("", &JobId("1".into())), None);
    }

    #[test]
    fn scontrol_says_why_a_job_ended() {
        let failed = "JobId=3 ArrayJobId=1 ArrayTaskId=1 JobName=t JobState=FAILED Reason=NonZeroExitCode \
                      Dependency=(null) ExitCode=3:0 RunTime=00:00:00";
        assert_eq!(parse_scontrol(failed), "FAILED (NonZeroExitCode), exit code 3");
        let cancelled = "JobId=4 JobState=CANCELLED Reason=None ExitCode=0:15";
        assert_eq!(parse_scontrol(cancelled), "CANCELLED, killed by signal 15");
        let timeout = "JobId=5 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0";
        assert_eq!(parse_scontrol(timeout), "TIMEOUT (TimeLimit)");
    }
}
