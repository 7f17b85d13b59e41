//! Medians over rounds, and the Markdown table of `benches/RESULTS.md`.

use std::fmt::Write as _;

use crate::wrk::WrkResult;

/// One target's figures in one round.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// The wrk run.
    pub wrk: WrkResult,
    /// CPU seconds of the server's process tree during the run, per request.
    pub cpu_per_request: f64,
    /// Spawn to first 200, seconds.
    pub cold_start: f64,
    /// Resident memory right after start, bytes.
    pub idle_rss: u64,
    /// Resident memory after the run, bytes.
    pub loaded_rss: u64,
}

/// A target's samples over all rounds.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Target name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// One sample per round.
    pub samples: Vec<Sample>,
}

/// The median of `values` (upper median for even counts); 0 when empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

impl Series {
    fn med(&self, f: impl Fn(&Sample) -> f64) -> f64 {
        median(self.samples.iter().map(f).collect())
    }

    /// Median requests per second.
    pub fn rps(&self) -> f64 {
        self.med(|s| s.wrk.rps)
    }

    /// Median CPU microseconds per request.
    pub fn cpu_us(&self) -> f64 {
        self.med(|s| s.cpu_per_request * 1e6)
    }

    /// Errors over all rounds.
    pub fn errors(&self) -> u64 {
        self.samples.iter().map(|s| s.wrk.errors).sum()
    }
}

/// The results table; ratios are against the series named `reference`.
pub fn markdown(series: &[Series], reference: &str) -> String {
    let base = series
        .iter()
        .find(|s| s.name == reference)
        .map(Series::rps)
        .unwrap_or(0.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| target | requests/s | vs {reference} | CPU µs/request | p50 ms | p99 ms | cold start ms | idle RSS MiB | RSS after load MiB | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in series {
        let ratio = if base > 0.0 {
            format!("{:.0}%", 100.0 * s.rps() / base)
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.1} | {:.2} | {:.2} | {:.0} | {:.1} | {:.1} | {} |",
            s.name,
            s.rps(),
            ratio,
            s.cpu_us(),
            s.med(|x| x.wrk.p50 * 1e3),
            s.med(|x| x.wrk.p99 * 1e3),
            s.med(|x| x.cold_start * 1e3),
            s.med(|x| x.idle_rss as f64) / 1048576.0,
            s.med(|x| x.loaded_rss as f64) / 1048576.0,
            s.errors(),
        );
    }
    out
}

/// A workload's table: each target's medians, and its requests/s as a share of the series
/// named `reference` in the same round (median, and the range over the rounds).
pub fn workload_table(series: &[Series], reference: &str) -> String {
    let base = series.iter().find(|s| s.name == reference);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| target | requests/s | vs {reference} (range of rounds) | CPU µs/request | cores used | p50 ms | p99 ms | idle RSS MiB | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in series {
        let ratio = base.map_or_else(|| "-".to_owned(), |b| ratio_with_range(s, b));
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            s.name,
            s.rps(),
            ratio,
            s.cpu_us(),
            s.med(|x| x.cpu_per_request * x.wrk.rps),
            s.med(|x| x.wrk.p50 * 1e3),
            s.med(|x| x.wrk.p99 * 1e3),
            s.med(|x| x.idle_rss as f64) / 1048576.0,
            s.errors(),
        );
    }
    out
}

/// `1.23× (1.10–1.30)`: the round-by-round ratio of requests/s, median and range.
fn ratio_with_range(s: &Series, base: &Series) -> String {
    let ratios: Vec<f64> = s
        .samples
        .iter()
        .zip(&base.samples)
        .filter(|(_, b)| b.wrk.rps > 0.0)
        .map(|(x, b)| x.wrk.rps / b.wrk.rps)
        .collect();
    if ratios.is_empty() {
        return "-".to_owned();
    }
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(0.0, f64::max);
    format!("{:.2}× ({low:.2}–{high:.2})", median(ratios))
}

/// One line per round and target, for the record.
pub fn raw_lines(series: &[Series]) -> String {
    let mut out = String::new();
    for s in series {
        for (round, x) in s.samples.iter().enumerate() {
            let _ = writeln!(
                out,
                "{} round {}: {:.0} req/s, {:.1} CPU-µs/req, p50 {:.3} ms, p99 {:.3} ms, cold {:.1} ms, idle {:.1} MiB",
                s.name,
                round + 1,
                x.wrk.rps,
                x.cpu_per_request * 1e6,
                x.wrk.p50 * 1e3,
                x.wrk.p99 * 1e3,
                x.cold_start * 1e3,
                x.idle_rss as f64 / 1048576.0
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_picks_the_middle() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn table_has_one_row_per_target_and_ratios() {
        let sample = |rps| Sample {
            wrk: WrkResult {
                requests: 10,
                rps,
                ..WrkResult::default()
            },
            ..Sample::default()
        };
        let series = vec![
            Series {
                name: "hyper".to_owned(),
                description: String::new(),
                samples: vec![sample(100.0)],
            },
            Series {
                name: "fnhost".to_owned(),
                description: String::new(),
                samples: vec![sample(50.0)],
            },
        ];
        let table = markdown(&series, "hyper");
        assert_eq!(table.lines().count(), 4);
        assert!(table.contains("| fnhost | 50 | 50% |"), "{table}");
        let table = workload_table(&series, "hyper");
        assert!(
            table.contains("| fnhost | 50 | 0.50× (0.50–0.50) |"),
            "{table}"
        );
    }
}
