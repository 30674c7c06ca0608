//! When to try a failed call again, and how long to wait first.
//!
//! A 429 waits what its `Retry-After` (or `retry-after-ms`) header says; 5xx answers, connection errors, timeouts
//! and unreadable answers back off exponentially with jitter; everything else (400, 401, 403, 404, 422, ...)
//! fails at once with the provider's message. Both the number of attempts and the total time are bounded.

use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use genius_core::SearchRng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::LlmError;
use crate::chat::Attempt;

/// A failed call about to be tried again: what a program shows its user so that a long wait is never silent.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryNotice<'a> {
    /// The provider called.
    pub provider: &'a str,
    /// The attempt that failed (1 for the first call).
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
    /// Why it failed.
    pub error: &'a str,
    /// How long until the next attempt, in seconds.
    pub wait_s: f64,
}

impl std::fmt::Display for RetryNotice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: attempt {} of {} failed ({}); trying again in {:.1} s",
            self.provider, self.attempt, self.max_attempts, self.error, self.wait_s
        )
    }
}

type Notifier = Box<dyn Fn(&RetryNotice<'_>) + Send + Sync>;

static NOTIFIER: OnceLock<Notifier> = OnceLock::new();

/// Has `notify` told of every retry of this process before its wait (a program's progress display: the command line
/// prints it on standard error). Set once per process; `false` if one was set already.
pub fn on_retry(notify: impl Fn(&RetryNotice<'_>) + Send + Sync + 'static) -> bool {
    NOTIFIER.set(Box::new(notify)).is_ok()
}

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first back-off, in seconds; it doubles with every retry.
    pub initial_backoff_s: f64,
    /// The longest single back-off, in seconds.
    pub max_backoff_s: f64,
    /// The most time one call may take, waits included, in seconds; a wait that would pass it is not made.
    pub max_total_s: f64,
    /// The fraction of a back-off drawn at random (0: none, 0.5: between 50% and 100% of it).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 6, initial_backoff_s: 1.0, max_backoff_s: 60.0, max_total_s: 600.0, jitter: 0.5 }
    }
}

impl RetryPolicy {
    /// Checks every field.
    pub fn check(&self) -> Result<(), LlmError> {
        let bad = |field: &str, what: &str| Err(LlmError::Settings(format!("retry.{field} must be {what}")));
        if self.max_attempts == 0 {
            return bad("max_attempts", "at least 1");
        }
        let ordered = self.initial_backoff_s >= 0.0 && self.max_backoff_s >= self.initial_backoff_s;
        if !ordered {
            return bad("initial_backoff_s", "non-negative and at most retry.max_backoff_s");
        }
        if self.max_total_s.is_nan() || self.max_total_s <= 0.0 {
            return bad("max_total_s", "positive");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad("jitter", "between 0 and 1");
        }
        Ok(())
    }

    /// The back-off before retry number `retry` (1 for the first retry), with `draw` in [0, 1) for the jitter.
    pub fn backoff(&self, retry: u32, draw: f64) -> Duration {
        let exp = self.initial_backoff_s * 2f64.powi(retry.saturating_sub(1).min(30) as i32);
        let full = exp.min(self.max_backoff_s);
        Duration::from_secs_f64(full * (1.0 - self.jitter * draw))
    }
}

/// One failed attempt, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Whether trying again may help.
    pub retryable: bool,
    /// The HTTP status, if there was a response.
    pub status: Option<u16>,
    /// What went wrong: the provider's message where it gave one.
    pub message: String,
    /// How long the provider asked us to wait (429's `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure of an HTTP answer with `status`, the provider's `message`, and its `Retry-After`.
    pub fn http(status: u16, message: String, retry_after: Option<Duration>) -> Self {
        let retryable = matches!(status, 408 | 409 | 425 | 429 | 500..=599);
        Self { retryable, status: Some(status), message, retry_after }
    }

    /// A failure without an answer (connection refused, timeout): always retryable.
    pub fn transport(message: String) -> Self {
        Self { retryable: true, status: None, message, retry_after: None }
    }
}

/// Reads `Retry-After` (seconds or an HTTP date) or `retry-after-ms` from response headers.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(s) = value.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    }
    let when = httpdate(value)?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form `Retry-After` dates take.
fn httpdate(text: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else { return None };
    let day: u64 = day.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else { return None };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe as u64 * 365 + yoe as u64 / 4 - yoe as u64 / 100 + doy;
    let days = era * 146_097 + doe as i64 - 719_468;
    let secs = days * 86_400 + (*h * 3600 + *m * 60 + *s) as i64;
    (secs >= 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64))
}

/// Runs attempts of `call` under `policy` until one succeeds, one fails for good, or the attempts or the time run
/// out. Returns the value, the failed attempts before it, and the seconds spent.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    provider: &str,
    rng: &Mutex<SearchRng>,
    mut call: F,
) -> Result<(T, Vec<Attempt>, f64), LlmError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let mut retries: Vec<Attempt> = Vec::new();
    for attempt in 1..=policy.max_attempts {
        let failure = match call().await {
            Ok(value) => return Ok((value, retries, started.elapsed().as_secs_f64())),
            Err(f) => f,
        };
        let describe = |f: &Failure| match f.status {
            Some(s) => format!("HTTP {s}: {}", f.message),
            None => f.message.clone(),
        };
        if !failure.retryable {
            return Err(LlmError::Rejected {
                provider: provider.to_owned(),
                status: failure.status,
                message: failure.message,
                retries,
            });
        }
        let elapsed = started.elapsed().as_secs_f64();
        let draw: f64 = rng.lock().map(|mut r| r.random_range(0.0..1.0)).unwrap_or(0.5);
        let wait = failure.retry_after.unwrap_or_else(|| policy.backoff(attempt, draw));
        let last_attempt = attempt == policy.max_attempts;
        let too_long = elapsed + wait.as_secs_f64() > policy.max_total_s;
        let mut record = Attempt {
            attempt,
            error: describe(&failure),
            status: failure.status,
            wait_s: if last_attempt || too_long { 0.0 } else { wait.as_secs_f64() },
        };
        if last_attempt || too_long {
            let mut last = record.error.clone();
            if too_long && !last_attempt {
                last.push_str(&format!(
                    " (the next wait, {:.1} s, would pass the {} s limit of one call, retry.max_total_s)",
                    wait.as_secs_f64(),
                    policy.max_total_s
                ));
                record.error = last.clone();
            }
            retries.push(record);
            return Err(LlmError::GaveUp { provider: provider.to_owned(), retries, elapsed_s: elapsed, last });
        }
        if let Some(notify) = NOTIFIER.get() {
            notify(&RetryNotice {
                provider,
                attempt,
                max_attempts: policy.max_attempts,
                error: &record.error,
                wait_s: record.wait_s,
            });
        }
        retries.push(record);
        tokio::time::sleep(wait).await;
    }
    unreachable!("the loop returns on the last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_shortens_it() {
        let p = RetryPolicy { initial_backoff_s: 1.0, max_backoff_s: 5.0, jitter: 0.5, ..RetryPolicy::default() };
        assert_eq!(p.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(p.backoff(4, 0.0), Duration::from_secs(5));
        assert_eq!(p.backoff(40, 0.0), Duration::from_secs(5));
        assert_eq!(p.backoff(2, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn statuses_are_classified() {
        for s in [429, 500, 502, 503, 504, 529, 408] {
            assert!(Failure::http(s, String::new(), None).retryable, "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!Failure::http(s, String::new(), None).retryable, "{s}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        assert_eq!(
            httpdate("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(httpdate("yesterday"), None);
    }

    #[test]
    fn bad_policies_are_refused() {
        assert!(RetryPolicy { max_attempts: 0, ..RetryPolicy::default() }.check().is_err());
        assert!(RetryPolicy { jitter: 2.0, ..RetryPolicy::default() }.check().is_err());
        RetryPolicy::default().check().unwrap();
    }

    #[tokio::test]
    async fn retries_stop_at_the_attempt_limit_and_a_fatal_error_stops_at_once() {
        let policy =
            RetryPolicy { max_attempts: 3, initial_backoff_s: 0.001, max_backoff_s: 0.001, ..Default::default() };
        let rng = Mutex::new(genius_core::rng::seeded(0));
        let mut calls = 0;
        let err = with_retries(&policy, "p", &rng, || {
            calls += 1;
            async { Err::<(), _>(Failure::http(503, "busy".into(), None)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 3);
        assert!(matches!(&err, LlmError::GaveUp { retries, .. } if retries.len() == 3), "{err}");
        assert!(err.to_string().contains("HTTP 503: busy"), "{err}");

        let mut calls = 0;
        let err = with_retries(&policy, "p", &rng, || {
            calls += 1;
            let status = if calls == 1 { 500 } else { 401 };
            async move { Err::<(), _>(Failure::http(status, "Incorrect API key".into(), None)) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 2);
        assert!(err.to_string().contains("rejected the request (HTTP 401): Incorrect API key"), "{err}");
        assert_eq!(err.retries().len(), 1);
    }

    #[tokio::test]
    async fn a_wait_past_the_time_limit_is_not_made() {
        let policy = RetryPolicy { max_total_s: 1.0, ..RetryPolicy::default() };
        let rng = Mutex::new(genius_core::rng::seeded(0));
        let err = with_retries(&policy, "p", &rng, || async {
            Err::<(), _>(Failure::http(429, "slow down".into(), Some(Duration::from_secs(3600))))
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("would pass the 1 s limit"), "{err}");
    }
}
