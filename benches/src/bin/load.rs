//! `fnhost-load`: boots each target server, drives it with `wrk`, and prints the results
//! table of `benches/RESULTS.md`. `benches/run.sh` builds the binaries and the Python
//! environment and calls this; see `benches/RESULTS.md` for the method.
//!
//! ```text
//! fnhost-load --fnhost PATH --baseline PATH --functions DIR [--granian PATH]
//!             [--wasmtime PATH] [--rounds N] [--seconds S] [--warmup S] [--connections C] [--threads T]
//!             [--before PATH] [--only NAME,NAME...]
//! ```
//!
//! `--before PATH` puts another fnhost binary (an earlier commit's) beside the one under test:
//! each fnhost target it can serve runs twice per round, back to back, as `NAME` and
//! `NAME@before`. `--only` keeps the named targets (and `hyper-baseline`, the reference).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fnhost_benches::args::{self, Args, Common};
use fnhost_benches::measure;
use fnhost_benches::report::{self, Series};
use fnhost_benches::target::TargetSpec;
use fnhost_benches::wrk::Load;

struct Options {
    common: Common,
    granian: Option<PathBuf>,
    wasmtime: Option<PathBuf>,
    load: Load,
    warmup: Duration,
    before: Option<PathBuf>,
    only: Option<Vec<String>>,
}

fn main() -> ExitCode {
    args::main_with("fnhost-load", parse, run)
}

fn parse(a: &mut Args) -> Result<Options, String> {
    Ok(Options {
        common: a.common()?,
        granian: a.take("granian").map(PathBuf::from),
        wasmtime: a.take("wasmtime").map(PathBuf::from),
        load: Load {
            connections: u32::try_from(a.number("connections", 32)?).map_err(|e| e.to_string())?,
            threads: u32::try_from(a.number("threads", 1)?).map_err(|e| e.to_string())?,
            duration: Duration::from_secs(a.number("seconds", 10)?),
        },
        warmup: Duration::from_secs(a.number("warmup", 1)?),
        before: a.take("before").map(PathBuf::from),
        only: a.list("only"),
    })
}

/// Makes an fnhost target: name, description, environment over the defaults.
type FnhostTarget<'a> = dyn Fn(&str, &str, &[(&str, &str)]) -> TargetSpec + 'a;

fn targets(o: &Options) -> Vec<TargetSpec> {
    let fnhost = |name: &str, description: &str, extra: &[(&str, &str)]| {
        let mut spec = TargetSpec::fnhost_python(
            name,
            description,
            &o.common.fnhost,
            &o.common.functions,
            ("hello", "foo"),
        );
        spec.env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        spec
    };
    let mut list = vec![
        TargetSpec::hyper_baseline(&o.common.baseline, &o.common.functions),
        fnhost(
            "fnhost",
            "fnhost, Python hello.foo, metrics and access log on (the default)",
            &[],
        ),
        fnhost(
            "fnhost-native",
            "fnhost, native hello (C, benches/functions/native_hello.c), metrics and access log on",
            &[("MOD_NAME", "libhello"), ("FUNC_RUNTIME", "native1")],
        ),
        fnhost(
            "fnhost-native-process",
            "fnhost, the same native hello in 2 worker processes (FNHOST_ISOLATION=process: a crash or timeout replaces a worker)",
            &[
                ("MOD_NAME", "libhello"),
                ("FUNC_RUNTIME", "native1"),
                ("FNHOST_ISOLATION", "process"),
            ],
        ),
        fnhost(
            "fnhost-quiet",
            "fnhost, Python hello.foo, metrics and access log off",
            &[("FNHOST_METRICS", "false"), ("FNHOST_ACCESS_LOG", "false")],
        ),
        fnhost(
            "fnhost-unsupervised",
            "fnhost, Python hello.foo, one process (FNHOST_SUPERVISE=false: no supervising parent)",
            &[("FNHOST_SUPERVISE", "false")],
        ),
        fnhost(
            "fnhost-isolated",
            "fnhost, Python hello.foo in 2 worker processes (FNHOST_ISOLATION=process)",
            &[("FNHOST_ISOLATION", "process"), ("FNHOST_WORKERS", "2")],
        ),
    ];
    list.push(fnhost(
        "fnhost-js",
        "fnhost, the same hello.js on the embedded JavaScript engine (jsembedded: QuickJS-ng, 16 isolates)",
        &[("MOD_NAME", "hello"), ("FUNC_RUNTIME", "jsembedded")],
    ));
    list.push(fnhost(
        "fnhost-nodejs",
        "fnhost, Node.js hello (benches/functions/hello.js) in 2 Node worker processes",
        &[("MOD_NAME", "hello"), ("FUNC_RUNTIME", "nodejs20")],
    ));
    for (name, description, dir, handler, runtime) in [
        (
            "fnhost-go",
            "fnhost, Go hello (benches/functions/go/hello.go) compiled with fnhost's worker shim, 2 workers",
            "go",
            "Foo",
            "go1.26",
        ),
        (
            "fnhost-ruby",
            "fnhost, Ruby hello (benches/functions/ruby/hello.rb) in 2 Ruby worker processes",
            "ruby",
            "foo",
            "ruby3.1",
        ),
        (
            "fnhost-java",
            "fnhost, Java hello (benches/functions/java/hello.java) in 2 JVM worker processes",
            "java",
            "foo",
            "java17",
        ),
        (
            "fnhost-dotnet",
            "fnhost, C# hello (benches/functions/dotnet/hello.cs) in 2 Mono worker processes",
            "dotnet",
            "foo",
            "dotnetmono6.8",
        ),
    ] {
        let mut target = fnhost(
            name,
            description,
            &[("FUNC_HANDLER", handler), ("FUNC_RUNTIME", runtime)],
        );
        target.env.insert(
            "KUBELESS_INSTALL_VOLUME".to_owned(),
            o.common.functions.join(dir).display().to_string(),
        );
        list.push(target);
    }
    list.extend(wasm_targets(o, &fnhost));
    list.push(TargetSpec {
        name: "go-bare".to_owned(),
        description:
            "Go's own net/http server answering the same hello world (the language's bare server)"
                .to_owned(),
        program: o.common.functions.join("go-peer"),
        args: vec!["{port}".to_owned()],
        env: BTreeMap::new(),
        cwd: o.common.functions.clone(),
    });
    list.extend(language_peers(o));
    for (mode, description) in [
        (
            "bare",
            "Node's own http server calling the same hello.js (the language's bare server)",
        ),
        (
            "vm",
            "the original Kubeless Node.js design: a fresh vm context per request (node http)",
        ),
    ] {
        list.push(TargetSpec {
            name: format!("node-{mode}"),
            description: description.to_owned(),
            program: PathBuf::from("node"),
            args: vec![
                o.common
                    .functions
                    .join("node_peer.js")
                    .display()
                    .to_string(),
                "{port}".to_owned(),
                mode.to_owned(),
            ],
            env: BTreeMap::from([("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())]),
            cwd: o.common.functions.clone(),
        });
    }
    if let Some(granian) = &o.granian {
        list.push(TargetSpec {
            name: "granian".to_owned(),
            description:
                "Granian, 1 worker, WSGI adapter building the Kubeless event for hello.foo"
                    .to_owned(),
            program: granian.clone(),
            args: [
                "--interface",
                "wsgi",
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--no-ws",
            ]
            .into_iter()
            .map(str::to_owned)
            .chain([
                "--log-level".to_owned(),
                "warning".to_owned(),
                "wsgi_kubeless:app".to_owned(),
            ])
            .collect(),
            env: BTreeMap::from([
                (
                    "PYTHONPATH".to_owned(),
                    o.common.functions.display().to_string(),
                ),
                ("BENCH_HANDLER".to_owned(), "hello:foo".to_owned()),
            ]),
            cwd: o.common.functions.clone(),
        });
    }
    list
}

/// The Wasm hello worlds on fnhost (the wasi:http component and the ABI module, both built
/// from `loaders/wasm/guests`), and `wasmtime serve` on the same component.
fn wasm_targets(o: &Options, fnhost: &FnhostTarget<'_>) -> Vec<TargetSpec> {
    let volume = o.common.functions.join("wasm").display().to_string();
    let mut list = vec![
        fnhost(
            "fnhost-wasm-http",
            "fnhost, wasi:http hello component (loaders/wasm/guests/http-functions), a fresh instance per request",
            &[
                ("MOD_NAME", "hello"),
                ("FUNC_HANDLER", "handle"),
                ("FUNC_RUNTIME", "wasm1"),
                ("KUBELESS_INSTALL_VOLUME", &volume),
            ],
        ),
        fnhost(
            "fnhost-wasm-abi",
            "fnhost, the hello world as an fnhost Wasm ABI 1 module (loaders/wasm/guests/kubeless-functions, foo), a fresh instance per request",
            &[
                ("MOD_NAME", "helloabi"),
                ("FUNC_HANDLER", "foo"),
                ("FUNC_RUNTIME", "wasm1"),
                ("KUBELESS_INSTALL_VOLUME", &volume),
            ],
        ),
    ];
    if let Some(wasmtime) = &o.wasmtime {
        list.push(TargetSpec {
            name: "wasmtime-serve".to_owned(),
            description: "`wasmtime serve` 48 (defaults, `-Scli` for the component's environment import) on the same hello component".to_owned(),
            program: wasmtime.clone(),
            args: vec![
                "serve".to_owned(),
                "-Scli".to_owned(),
                "--addr".to_owned(),
                "127.0.0.1:{port}".to_owned(),
                o.common.functions.join("wasm/hello.wasm").display().to_string(),
            ],
            env: BTreeMap::new(),
            cwd: o.common.functions.clone(),
        });
    }
    list
}

/// Ruby's, the JDK's and Mono's own HTTP servers calling the same hello function.
fn language_peers(o: &Options) -> Vec<TargetSpec> {
    let path = BTreeMap::from([("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())]);
    let peer = |name: &str, description: &str, program: &str, args: Vec<String>| TargetSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        program: PathBuf::from(program),
        args,
        env: path.clone(),
        cwd: o.common.functions.clone(),
    };
    let at = |p: &str| o.common.functions.join(p).display().to_string();
    vec![
        peer(
            "ruby-bare",
            "Ruby's WEBrick calling the same hello.rb (the language's bare server; Puma is not packaged here)",
            "ruby",
            vec![at("ruby_peer.rb"), "{port}".to_owned()],
        ),
        peer(
            "java-bare",
            "the JDK's HttpServer (50 threads) calling the same hello.java (the language's bare server)",
            "java",
            vec![
                "-XX:+UseSerialGC".to_owned(),
                "-cp".to_owned(),
                format!("{}:{}", at("java-peer"), at("java/.fnhost-java/classes")),
                "io.kubeless.JavaPeer".to_owned(),
                "{port}".to_owned(),
            ],
        ),
        peer(
            "dotnet-bare",
            "Mono's HttpListener calling the same hello.cs (the language's bare server)",
            "mono",
            vec![at("dotnet-peer.exe"), "{port}".to_owned()],
        ),
    ]
}

/// Targets whose worker the fnhost under test compiles for its own worker protocol: another
/// fnhost binary cannot serve them.
const COMPILED_WORKERS: [&str; 3] = ["fnhost-go", "fnhost-java", "fnhost-dotnet"];

/// The targets to run: those `--only` names (all without it) and `hyper-baseline`, each fnhost
/// one followed by its `--before` twin.
fn select(all: Vec<TargetSpec>, o: &Options) -> Vec<TargetSpec> {
    let wanted = |name: &str| {
        name == "hyper-baseline"
            || o.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == name))
    };
    let mut list = Vec::new();
    for spec in all.into_iter().filter(|s| wanted(&s.name)) {
        let twin = o
            .before
            .as_ref()
            .filter(|_| {
                spec.program == o.common.fnhost && !COMPILED_WORKERS.contains(&spec.name.as_str())
            })
            .map(|before| TargetSpec {
                name: format!("{}@before", spec.name),
                description: format!("the same on {}", before.display()),
                program: before.clone(),
                ..spec.clone()
            });
        list.push(spec);
        list.extend(twin);
    }
    list
}

fn run(o: &Options) -> Result<(), String> {
    let specs = select(targets(o), o);
    let mut series: Vec<Series> = specs
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            description: s.description.clone(),
            samples: Vec::new(),
        })
        .collect();
    for round in 1..=o.common.rounds {
        for (spec, series) in specs.iter().zip(series.iter_mut()) {
            eprintln!(
                "fnhost-load: round {round}/{}: {}",
                o.common.rounds, spec.name
            );
            series
                .samples
                .push(measure::sample(spec, o.load, o.warmup, None)?);
        }
    }
    println!(
        "wrk -t{} -c{} -d{}s, keep-alive, {} interleaved rounds, medians\n",
        o.load.threads,
        o.load.connections,
        o.load.duration.as_secs(),
        o.common.rounds
    );
    println!("{}", report::markdown(&series, "hyper-baseline"));
    for s in &series {
        println!("- {}: {}", s.name, s.description);
    }
    println!("\n```\n{}```", report::raw_lines(&series));
    let errors: u64 = series.iter().map(Series::errors).sum();
    if errors > 0 {
        return Err(format!(
            "{errors} requests failed (non-2xx or socket errors): see the table"
        ));
    }
    Ok(())
}
