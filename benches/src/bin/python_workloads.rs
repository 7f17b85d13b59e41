//! `python-workloads`: fnhost's Python loader on the work real functions do, beside Granian
//! (1 and 2 workers, tuned for each workload and as shipped) in the same run, interleaved
//! rounds. `benches/python.sh` builds the binaries and Granian's environment and calls this;
//! `benches/RESULTS.md` has the method and the figures.
//!
//! ```text
//! python-workloads --fnhost PATH --baseline PATH --functions DIR --granian PATH
//!                  [--rounds N] [--seconds S] [--warmup S] [--only WORKLOAD,...]
//! ```
//!
//! Workloads (`benches/functions/workloads.py`): `hello` (c=32), `cpu` (pure Python, about
//! 2 ms a call, c=32), `wait` (`time.sleep(0.05)`, c=256: the ideal rate is 5,120/s) and
//! `json` (a 64 KiB JSON document posted and echoed, c=32).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use fnhost_benches::args::{self, Args, Common};
use fnhost_benches::measure;
use fnhost_benches::report::{self, Series};
use fnhost_benches::target::TargetSpec;
use fnhost_benches::wrk::Load;

struct Options {
    common: Common,
    granian: PathBuf,
    seconds: u64,
    warmup: Duration,
    only: Option<Vec<String>>,
}

/// One workload: its load, its targets, the target the others are compared with.
struct Workload {
    name: &'static str,
    about: &'static str,
    connections: u32,
    /// `wrk -s`: the request to send, when not a plain `GET /`.
    script: Option<PathBuf>,
    reference: &'static str,
    /// The rate a perfect server would reach, when the workload has one.
    ideal: Option<f64>,
    targets: Vec<TargetSpec>,
}

impl Workload {
    /// A workload of `GET /` with no ideal rate.
    fn get(
        name: &'static str,
        about: &'static str,
        connections: u32,
        reference: &'static str,
        targets: Vec<TargetSpec>,
    ) -> Workload {
        Workload {
            name,
            about,
            connections,
            script: None,
            reference,
            ideal: None,
            targets,
        }
    }
}

fn main() -> ExitCode {
    args::main_with("python-workloads", parse, run)
}

fn parse(a: &mut Args) -> Result<Options, String> {
    Ok(Options {
        common: a.common()?,
        granian: a.path("granian")?,
        seconds: a.number("seconds", 10)?,
        warmup: Duration::from_secs(a.number("warmup", 2)?),
        only: a.list("only"),
    })
}

/// fnhost serving `workloads.<handler>` (or `hello.foo`), with `extra` environment.
fn fnhost(
    o: &Options,
    name: &str,
    description: &str,
    (module, handler): (&str, &str),
    extra: &[(&str, &str)],
) -> TargetSpec {
    let mut spec = TargetSpec::fnhost_python(
        name,
        description,
        &o.common.fnhost,
        &o.common.functions,
        (module, handler),
    );
    for (key, value) in extra {
        spec.env.insert((*key).to_owned(), (*value).to_owned());
    }
    spec
}

/// Granian serving the same function (`module`, `handler`) through `wsgi_kubeless.py`,
/// `workers` processes, `--blocking-threads` when given.
fn granian(
    o: &Options,
    name: &str,
    (module, handler): (&str, &str),
    workers: u32,
    threads: Option<u32>,
) -> TargetSpec {
    let mut args: Vec<String> = [
        "--interface",
        "wsgi",
        "--workers",
        &workers.to_string(),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-ws",
        "--log-level",
        "warning",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    if let Some(threads) = threads {
        args.extend(["--blocking-threads".to_owned(), threads.to_string()]);
    }
    args.push("wsgi_kubeless:app".to_owned());
    let tuning = threads.map_or_else(
        || "as shipped (512 blocking threads)".to_owned(),
        |t| format!("--blocking-threads {t}"),
    );
    TargetSpec {
        name: name.to_owned(),
        description: format!(
            "Granian 2.8.7, {workers} worker(s), {tuning}, the same function through a WSGI adapter building the Kubeless event, on Debian's python3.11"
        ),
        program: o.granian.clone(),
        args,
        env: BTreeMap::from([
            (
                "PYTHONPATH".to_owned(),
                o.common.functions.display().to_string(),
            ),
            ("BENCH_HANDLER".to_owned(), format!("{module}:{handler}")),
        ]),
        cwd: o.common.functions.clone(),
    }
}

fn workloads(o: &Options, scripts: &Path) -> Result<Vec<Workload>, String> {
    let fnhost_default = |name: &str, handler: (&str, &str)| {
        fnhost(
            o,
            name,
            "fnhost as shipped: 16 threads growing to 512 while calls wait; FNHOST_INTERPRETERS = the CPUs it may use (2 here): a worker interpreter once its GIL is saturated",
            handler,
            &[],
        )
    };
    let one_interpreter = |name: &str, handler: (&str, &str), threads: &str| {
        fnhost(
            o,
            name,
            &format!(
                "fnhost with one interpreter (FNHOST_INTERPRETERS=1), FNHOST_THREADS={threads}"
            ),
            handler,
            &[("FNHOST_INTERPRETERS", "1"), ("FNHOST_THREADS", threads)],
        )
    };
    let hello = ("hello", "foo");
    let cpu = ("workloads", "cpu");
    let wait = ("workloads", "wait");
    let echo = ("workloads", "echo");
    Ok(vec![
        Workload::get(
            "hello",
            "hello world (benches/functions/hello.py), GET, 32 connections",
            32,
            "granian-1w-tuned",
            vec![
                TargetSpec::hyper_baseline(&o.common.baseline, &o.common.functions),
                fnhost_default("fnhost", hello),
                granian(o, "granian-1w-tuned", hello, 1, Some(1)),
                granian(o, "granian-1w", hello, 1, None),
                granian(o, "granian-2w-tuned", hello, 2, Some(1)),
            ],
        ),
        Workload::get(
            "cpu",
            "pure-Python work, about 2 ms a call (workloads.cpu), GET, 32 connections",
            32,
            "granian-1w-tuned",
            vec![
                fnhost_default("fnhost", cpu),
                one_interpreter("fnhost-1-interpreter", cpu, "16"),
                one_interpreter("fnhost-1-interpreter-2-threads", cpu, "2"),
                granian(o, "granian-1w-tuned", cpu, 1, Some(1)),
                granian(o, "granian-2w-tuned", cpu, 2, Some(1)),
            ],
        ),
        Workload {
            ideal: Some(256.0 / 0.05),
            ..Workload::get(
                "wait",
                "time.sleep(0.05) (workloads.wait), GET, 256 connections: ideal 5,120 requests/s",
                256,
                "granian-2w-tuned",
                vec![
                    fnhost_default("fnhost", wait),
                    fnhost(
                        o,
                        "fnhost-fixed-16",
                        "fnhost with the pool fixed at 16 threads (FNHOST_MAX_THREADS=16: the pool before it could grow)",
                        wait,
                        &[("FNHOST_MAX_THREADS", "16")],
                    ),
                    granian(o, "granian-1w", wait, 1, None),
                    granian(o, "granian-2w-tuned", wait, 2, Some(256)),
                ],
            )
        },
        Workload {
            script: Some(json_script(scripts)?),
            ..Workload::get(
                "json",
                "a 64 KiB JSON document posted and echoed (workloads.echo), 32 connections",
                32,
                "granian-1w-tuned",
                vec![
                    fnhost_default("fnhost", echo),
                    one_interpreter("fnhost-1-interpreter", echo, "16"),
                    granian(o, "granian-1w-tuned", echo, 1, Some(1)),
                    granian(o, "granian-2w-tuned", echo, 2, Some(1)),
                ],
            )
        },
    ])
}

/// A wrk script posting a JSON document of about 64 KiB.
fn json_script(dir: &Path) -> Result<PathBuf, String> {
    let items: Vec<serde_json::Value> = (0..700)
        .map(|i| {
            serde_json::json!({
                "id": i,
                "name": format!("item-{i}"),
                "tags": ["alpha", "beta", "gamma"],
                "price": f64::from(i) * 1.25,
                "active": i % 2 == 0,
            })
        })
        .collect();
    let body =
        serde_json::to_string(&serde_json::json!({ "items": items })).map_err(|e| e.to_string())?;
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n"
    );
    let path = dir.join("json-64k.lua");
    std::fs::write(&path, script).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn run(o: &Options) -> Result<(), String> {
    let scripts = tempfile::tempdir().map_err(|e| e.to_string())?;
    let chosen: Vec<Workload> = workloads(o, scripts.path())?
        .into_iter()
        .filter(|w| {
            o.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == w.name))
        })
        .collect();
    let mut results: Vec<Vec<Series>> = chosen
        .iter()
        .map(|w| w.targets.iter().map(empty_series).collect())
        .collect();
    for round in 1..=o.common.rounds {
        for (workload, series) in chosen.iter().zip(results.iter_mut()) {
            let load = Load {
                connections: workload.connections,
                threads: 1,
                duration: Duration::from_secs(o.seconds),
            };
            for (spec, series) in workload.targets.iter().zip(series.iter_mut()) {
                eprintln!(
                    "python-workloads: round {round}/{}: {} on {}",
                    o.common.rounds, workload.name, spec.name
                );
                let sample = measure::sample(spec, load, o.warmup, workload.script.as_deref())?;
                series.samples.push(sample);
            }
        }
    }
    let mut errors = 0;
    for (workload, series) in chosen.iter().zip(&results) {
        println!("{}", describe(workload, series, o));
        errors += series.iter().map(Series::errors).sum::<u64>();
    }
    if errors > 0 {
        return Err(format!(
            "{errors} requests failed (non-2xx or socket errors): see the tables"
        ));
    }
    Ok(())
}

fn empty_series(spec: &TargetSpec) -> Series {
    Series {
        name: spec.name.clone(),
        description: spec.description.clone(),
        samples: Vec::new(),
    }
}

/// A workload's section of the report.
fn describe(workload: &Workload, series: &[Series], o: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {}: {}\n\nwrk -t1 -c{} -d{}s, keep-alive, {} interleaved rounds, medians\n",
        workload.name, workload.about, workload.connections, o.seconds, o.common.rounds
    );
    let _ = writeln!(
        out,
        "{}",
        report::workload_table(series, workload.reference)
    );
    if let Some(ideal) = workload.ideal {
        for s in series {
            let _ = writeln!(
                out,
                "- {}: {:.0}% of the ideal {ideal:.0}/s",
                s.name,
                100.0 * s.rps() / ideal
            );
        }
        out.push('\n');
    }
    for s in series {
        let _ = writeln!(out, "- {}: {}", s.name, s.description);
    }
    let _ = writeln!(out, "\n```\n{}```", report::raw_lines(series));
    out
}
