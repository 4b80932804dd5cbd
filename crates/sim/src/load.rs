//! The load generator: N concurrent simulated customers, each request freshly encrypted
//! and signed, latency in an HDR histogram, errors by kind, missing and duplicate replies.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use wecom_sdk_sim::load::{self, LoadConfig, Stop};
//! let config = LoadConfig::new(
//!     "http://127.0.0.1:8080/wecom/callback",
//!     "QDG6eK",
//!     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
//!     "wx5823bf96d3bd56c7",
//! )
//! .customers(500)
//! .stop(Stop::Duration(Duration::from_secs(10)));
//! let report = load::run(&config, None).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::http::{Conn, Target};
use crate::{Answer, CallbackSender, FakeWeCom, Inbound, SimError};

/// When a load run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this long.
    Duration(Duration),
    /// After this many requests in all.
    Count(u64),
}

/// A load run's settings: a builder.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    url: String,
    token: String,
    aes_key: String,
    receive_id: String,
    customers: usize,
    stop: Stop,
    messages: Vec<String>,
    expect_reply: bool,
    timeout: Duration,
    progress: bool,
    rate: Option<f64>,
}

impl LoadConfig {
    /// 500 customers for 10 seconds, asking the shop's usual questions, each expecting a
    /// passive reply, a 5-second timeout, a progress bar on a terminal.
    pub fn new(url: &str, token: &str, aes_key: &str, receive_id: &str) -> Self {
        Self {
            url: url.to_owned(),
            token: token.to_owned(),
            aes_key: aes_key.to_owned(),
            receive_id: receive_id.to_owned(),
            customers: 500,
            stop: Stop::Duration(Duration::from_secs(10)),
            messages: [
                "几点开门？",
                "营业时间",
                "我的快递到哪了 SF1234567890",
                "退款",
                "你好",
            ]
            .map(str::to_owned)
            .to_vec(),
            expect_reply: true,
            timeout: Duration::from_secs(5),
            progress: true,
            rate: None,
        }
    }

    /// Concurrent customers (each one connection, one request at a time).
    #[must_use]
    pub fn customers(mut self, n: usize) -> Self {
        self.customers = n.max(1);
        self
    }

    /// When to stop.
    #[must_use]
    pub fn stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// The texts customers send, in turn.
    #[must_use]
    pub fn messages(mut self, messages: Vec<String>) -> Self {
        if !messages.is_empty() {
            self.messages = messages;
        }
        self
    }

    /// Whether every message should get a reply (passive, or active through a
    /// [`FakeWeCom`] given to [`run`]); an empty 200 then counts as missing.
    #[must_use]
    pub fn expect_reply(mut self, expect: bool) -> Self {
        self.expect_reply = expect;
        self
    }

    /// Per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Send at this many requests per second in all (open loop: request `k` is due at
    /// `k / rate` seconds, whether or not earlier ones were answered) instead of as fast
    /// as the bot answers. Latency is then counted from when a request was due, so a
    /// bot that falls behind shows it (no coordinated omission). Rates that are not
    /// finite or not positive are ignored.
    #[must_use]
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = (per_second.is_finite() && per_second > 0.0).then_some(per_second);
        self
    }

    /// Whether to draw a progress bar (only ever on a terminal).
    #[must_use]
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// What a load run measured (`--json` prints it as one object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// Requests completed (answered or failed).
    pub requests: u64,
    /// Requests that failed (no HTTP 200 with a valid answer).
    pub errors: u64,
    /// Failures by kind (`timeout`, `connect`, `http 500`, `invalid reply`, …).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Latency of answered requests.
    pub latency_ms: Percentiles,
    /// Passive replies received.
    pub passive_replies: u64,
    /// Active replies the fake WeCom received for the customers (when one was given).
    pub active_replies: u64,
    /// Replies beyond one per message.
    pub duplicates: u64,
    /// Messages without a reply (when replies are expected).
    pub missing: u64,
    /// Concurrent customers.
    pub customers: usize,
    /// The rate asked for (requests per second), if the run was paced.
    pub target_rate: Option<f64>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_ms;
        writeln!(
            f,
            "{} requests in {:.2} s from {} customers: {:.0} requests/s{}",
            self.requests,
            self.seconds,
            self.customers,
            self.requests_per_second,
            self.target_rate
                .map(|r| format!(" (paced at {r:.0}/s; latency from when each was due)"))
                .unwrap_or_default()
        )?;
        writeln!(
            f,
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            l.p50, l.p90, l.p99, l.max
        )?;
        writeln!(
            f,
            "replies: {} passive, {} active; {} missing, {} duplicate",
            self.passive_replies, self.active_replies, self.missing, self.duplicates
        )?;
        write!(f, "errors: {}", self.errors)?;
        for (kind, n) in &self.errors_by_kind {
            write!(f, "\n  {kind}: {n}")?;
        }
        Ok(())
    }
}

/// What one customer task counted.
struct Tally {
    histogram: Histogram<u64>,
    requests: u64,
    passive: u64,
    empty: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Result<Self, SimError> {
        Ok(Self {
            // 1 µs … 60 s at 3 significant digits.
            histogram: Histogram::new_with_bounds(1, 60_000_000, 3)
                .map_err(|e| SimError::Config(format!("histogram: {e}")))?,
            requests: 0,
            passive: 0,
            empty: 0,
            errors: BTreeMap::new(),
        })
    }

    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }
}

/// The customer ids of a run: `load-customer-1` ….
pub fn customer_id(i: usize) -> String {
    format!("load-customer-{}", i + 1)
}

/// Runs the load and reports. With `fake`, replies the bot sends actively through the fake
/// WeCom API count too (missing and duplicates per customer).
///
/// # Errors
/// [`SimError::Config`] for a bad URL or EncodingAESKey.
#[allow(clippy::too_many_lines, reason = "one run: start, join, tally")]
pub async fn run(config: &LoadConfig, fake: Option<&FakeWeCom>) -> Result<LoadReport, SimError> {
    let sender = Arc::new(CallbackSender::new(
        &config.url,
        &config.token,
        &config.aes_key,
        &config.receive_id,
    )?);
    let target = Target::parse(&config.url)?;
    let bar = progress_bar(config);
    let issued = Arc::new(AtomicU64::new(0));
    let stopped = Arc::new(AtomicBool::new(false));
    let sent_before = fake.map_or(0, |f| f.sent_messages().len());
    let started = Instant::now();
    let deadline = match config.stop {
        Stop::Duration(d) => Some(started + d),
        Stop::Count(_) => None,
    };
    let ticker = deadline.map(|deadline| {
        let (bar, stopped) = (bar.clone(), Arc::clone(&stopped));
        tokio::spawn(async move {
            loop {
                let now = Instant::now();
                bar.set_position(
                    u64::try_from(now.duration_since(started).as_millis()).unwrap_or(0) / 100,
                );
                if now >= deadline {
                    stopped.store(true, Ordering::Relaxed);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100).min(deadline - now)).await;
            }
        })
    });
    let mut tasks = tokio::task::JoinSet::new();
    let pace = config.rate.map(|rate| Pace {
        rate,
        started: tokio::time::Instant::from_std(started),
        tickets: Arc::new(AtomicU64::new(0)),
    });
    for i in 0..config.customers {
        let job = Customer {
            user: customer_id(i),
            sender: Arc::clone(&sender),
            target: target.clone(),
            messages: config.messages.clone(),
            timeout: config.timeout,
            stop: config.stop,
            issued: Arc::clone(&issued),
            stopped: Arc::clone(&stopped),
            bar: bar.clone(),
            pace: pace.clone(),
        };
        tasks.spawn(job.run(i));
    }
    let mut total = Tally::new()?;
    let mut per_customer = Vec::with_capacity(config.customers);
    while let Some(done) = tasks.join_next().await {
        let Ok(Ok((user, tally))) = done else {
            total.error("customer task failed");
            continue;
        };
        total.histogram.add(&tally.histogram).ok();
        total.requests += tally.requests;
        total.passive += tally.passive;
        total.empty += tally.empty;
        for (k, v) in &tally.errors {
            *total.errors.entry(k.clone()).or_default() += v;
        }
        per_customer.push((
            user,
            tally.requests - tally.errors.values().sum::<u64>(),
            tally.passive,
        ));
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(t) = ticker {
        t.abort();
    }
    bar.finish_and_clear();
    let mut active_total = 0;
    let (mut missing, mut duplicates) = (0, 0);
    if config.expect_reply || fake.is_some() {
        let sent = fake.map(FakeWeCom::sent_messages).unwrap_or_default();
        for (user, answered, passive) in &per_customer {
            let active = sent
                .iter()
                .skip(sent_before)
                .filter(|m| m.to.split('|').any(|u| u == user))
                .count() as u64;
            active_total += active;
            let replies = passive + active;
            if config.expect_reply {
                missing += answered.saturating_sub(replies);
            }
            duplicates += replies.saturating_sub(*answered);
        }
    }
    #[allow(clippy::cast_precision_loss, reason = "microseconds fit f64")]
    let ms = |v: u64| v as f64 / 1000.0;
    let h = &total.histogram;
    let errors = total.errors.values().sum();
    Ok(LoadReport {
        requests: total.requests,
        errors,
        errors_by_kind: total.errors,
        seconds,
        #[allow(clippy::cast_precision_loss, reason = "a request count fits f64")]
        requests_per_second: total.requests as f64 / seconds.max(1e-9),
        latency_ms: Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        },
        passive_replies: total.passive,
        active_replies: active_total,
        duplicates,
        missing,
        customers: config.customers,
        target_rate: config.rate,
    })
}

fn progress_bar(config: &LoadConfig) -> ProgressBar {
    if !config.progress {
        return ProgressBar::hidden();
    }
    let (len, template) = match config.stop {
        Stop::Count(n) => (
            n,
            "{spinner} {pos}/{len} requests [{bar:40}] {per_sec} eta {eta}",
        ),
        Stop::Duration(d) => (
            u64::try_from(d.as_millis() / 100).unwrap_or(u64::MAX),
            "{spinner} load [{bar:40}] {elapsed}/{duration}",
        ),
    };
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The schedule of a paced run: request `k` (a ticket shared by every customer) is due
/// at `started + k / rate`.
#[derive(Debug, Clone)]
struct Pace {
    rate: f64,
    started: tokio::time::Instant,
    tickets: Arc<AtomicU64>,
}

impl Pace {
    /// Waits for the next request's time; returns it.
    async fn next(&self) -> Instant {
        let k = self.tickets.fetch_add(1, Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss, reason = "a request count fits f64")]
        let due = self.started + Duration::from_secs_f64(k as f64 / self.rate);
        tokio::time::sleep_until(due).await;
        due.into_std()
    }
}

/// One simulated customer.
struct Customer {
    user: String,
    sender: Arc<CallbackSender>,
    target: Target,
    messages: Vec<String>,
    timeout: Duration,
    stop: Stop,
    issued: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
    bar: ProgressBar,
    pace: Option<Pace>,
}

impl Customer {
    /// Takes a ticket for one more request; `false` when the run is over.
    fn next(&self) -> bool {
        match self.stop {
            Stop::Count(n) => self.issued.fetch_add(1, Ordering::Relaxed) < n,
            Stop::Duration(_) => !self.stopped.load(Ordering::Relaxed),
        }
    }

    async fn run(self, index: usize) -> Result<(String, Tally), SimError> {
        let mut tally = Tally::new()?;
        let mut conn: Option<Conn> = None;
        let mut turn = index;
        while self.next() {
            let due = match &self.pace {
                Some(pace) => {
                    let due = pace.next().await;
                    if self.stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    Some(due)
                }
                None => None,
            };
            let text = &self.messages[turn % self.messages.len()];
            turn += 1;
            let inbound = Inbound::text(&self.user, text).stamped();
            let (query, body) = match self.sender.encrypt(&inbound) {
                Ok(r) => r,
                Err(e) => {
                    tally.requests += 1;
                    tally.error(format!("encrypt: {e}"));
                    continue;
                }
            };
            let path = self.target.path_and_query(&query);
            let started = due.unwrap_or_else(Instant::now);
            let result = tokio::time::timeout(self.timeout, async {
                let c = match conn.take() {
                    Some(c) if c.is_open() => c,
                    _ => Conn::connect(&self.target).await?,
                };
                let mut c = c;
                let r = c
                    .exchange(
                        hyper::Method::POST,
                        &path,
                        Some("text/xml"),
                        Bytes::from(body),
                    )
                    .await;
                conn = Some(c);
                r
            })
            .await;
            tally.requests += 1;
            if matches!(self.stop, Stop::Count(_)) {
                self.bar.inc(1);
            }
            match result {
                Err(_) => {
                    conn = None;
                    tally.error("timeout");
                }
                Ok(Err(e)) => {
                    conn = None;
                    tally.error(match e {
                        crate::http::HttpError::Connect(_) => "connect".to_owned(),
                        other => format!("http: {}", short(&other.to_string())),
                    });
                }
                Ok(Ok((200, reply))) => {
                    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    tally.histogram.saturating_record(micros.max(1));
                    match self.sender.read_answer(&reply) {
                        Answer::Empty => tally.empty += 1,
                        Answer::Invalid { .. } => tally.error("invalid reply"),
                        _ => tally.passive += 1,
                    }
                }
                Ok(Ok((status, _))) => tally.error(format!("http {status}")),
            }
        }
        Ok((self.user, tally))
    }
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}
