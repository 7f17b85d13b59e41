//! `fnhost-respawn`: how long a worker runtime takes to serve again after a timeout killed its
//! only worker. For each language it boots fnhost (`FNHOST_WORKERS=1`, `FUNC_TIMEOUT=1`) on
//! the `spin` function of `benches/functions`, then, per round, sends `?mode=busy` (answered
//! 408 when fnhost kills the worker) and right after it a normal request, polling until one
//! answers 200; the time from the 408 to that 200 is the replacement time a client sees.
//!
//! ```text
//! fnhost-respawn --fnhost PATH --functions DIR [--rounds N]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fnhost_benches::probe;
use fnhost_benches::target::TargetSpec;

/// (language, runtime id, folder below the functions folder).
const LANGUAGES: [(&str, &str, &str); 4] = [
    ("nodejs", "nodejs20", ""),
    ("ruby", "ruby3.1", "ruby"),
    ("java", "java17", "java"),
    ("dotnet", "dotnetmono6.8", "dotnet"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(fnhost), Some(functions)) = (value("--fnhost"), value("--functions")) else {
        eprintln!("usage: fnhost-respawn --fnhost PATH --functions DIR [--rounds N]");
        return ExitCode::from(64);
    };
    let rounds: usize = value("--rounds").and_then(|r| r.parse().ok()).unwrap_or(5);
    println!(
        "| runtime | rounds | replacement, median | replacement, max | non-200 answers while replacing |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (language, runtime, dir) in LANGUAGES {
        let spec = target(
            Path::new(&fnhost),
            &Path::new(&functions).join(dir),
            runtime,
        );
        match measure(&spec, rounds) {
            Ok((mut times, refused)) => {
                times.sort();
                let median = times[times.len() / 2];
                let max = times[times.len() - 1];
                println!(
                    "| {language} ({runtime}) | {rounds} | {:.0} ms | {:.0} ms | {refused} |",
                    median.as_secs_f64() * 1e3,
                    max.as_secs_f64() * 1e3
                );
            }
            Err(e) => {
                eprintln!("fnhost-respawn: {language}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn target(fnhost: &Path, dir: &Path, runtime: &str) -> TargetSpec {
    let env = [
        ("MOD_NAME", "spin"),
        ("FUNC_HANDLER", "handler"),
        ("FUNC_RUNTIME", runtime),
        ("FUNC_TIMEOUT", "1"),
        ("FNHOST_WORKERS", "1"),
        ("FUNC_PORT", "{port}"),
        ("FNHOST_LISTEN_ADDR", "127.0.0.1"),
    ];
    let mut env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.insert(
        "KUBELESS_INSTALL_VOLUME".to_owned(),
        dir.display().to_string(),
    );
    env.insert("PATH".to_owned(), std::env::var("PATH").unwrap_or_default());
    TargetSpec {
        name: format!("fnhost-{runtime}"),
        description: String::new(),
        program: PathBuf::from(fnhost),
        args: Vec::new(),
        env,
        cwd: dir.to_path_buf(),
    }
}

/// Per round, the time from the 408 to the next 200; and how many requests failed meanwhile.
fn measure(spec: &TargetSpec, rounds: usize) -> Result<(Vec<Duration>, usize), String> {
    let server = spec.start()?;
    let mut times = Vec::with_capacity(rounds);
    let mut refused = 0;
    for round in 1..=rounds {
        let status = probe::get_path_status(server.addr, "/?mode=busy");
        if status != Some(408) {
            return Err(format!(
                "round {round}: the busy call answered {status:?}, not 408"
            ));
        }
        let killed = Instant::now();
        loop {
            match probe::get_path_status(server.addr, "/?mode=ok") {
                Some(200) => break,
                _ if killed.elapsed() > Duration::from_secs(30) => {
                    return Err(format!("round {round}: not serving 30 s after the timeout"));
                }
                _ => refused += 1,
            }
        }
        times.push(killed.elapsed());
    }
    Ok((times, refused))
}
