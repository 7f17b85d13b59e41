//! The runtimes the cluster suite runs, as data: for each, the conformance suite's `helloget`
//! and `hellowithdata` fixtures (upstream's own examples) and how a user would turn them into
//! the file they deploy. Every runtime goes through the same lifecycle: deploy, GET, logs,
//! update to the data echo, call with `--data`, delete.

use std::path::Path;
use std::process::Command;

use fnhost_cluster_e2e::{Error, repository_root};

/// How the deployed file comes from the fixture.
#[derive(Debug, Clone, Copy)]
pub enum Make {
    /// The fixture's source file as it is (the image compiles it if it must).
    Source,
    /// A shared object built on the host with `cc` from the native fixtures' `functions.c`.
    Native,
    /// A core Wasm module built on the host from the test guests (`kubeless-functions`).
    Wasm,
}

/// One function of a runtime case.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The file deployed (`--from-file`).
    pub file: &'static str,
    /// `--handler`.
    pub handler: &'static str,
}

/// One runtime of the catalogue, as the suite runs it.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeCase {
    /// The catalogue id (`--runtime`), also the folder of its image under `images/`.
    pub runtime: &'static str,
    /// The folder under `conformance/fixtures/` holding the sources.
    pub fixtures: &'static str,
    /// How the deployed file is made.
    pub make: Make,
    /// Answers `hello world` to a GET.
    pub get: Function,
    /// Answers a POST with its data.
    pub data: Function,
}

const fn function(file: &'static str, handler: &'static str) -> Function {
    Function { file, handler }
}

/// Every runtime whose image this machine can build (the Python 3.9, 3.10 and 3.12 images
/// need interpreters that no registry here has: see `scripts/images/base-images.sh`).
pub const RUNTIMES: &[RuntimeCase] = &[
    RuntimeCase {
        runtime: "python3.11",
        fixtures: "python",
        make: Make::Source,
        get: function("helloget.py", "helloget.foo"),
        data: function("hellowithdata.py", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "nodejs20",
        fixtures: "nodejs",
        make: Make::Source,
        get: function("helloget.js", "helloget.foo"),
        data: function("hellowithdata.js", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "jsembedded",
        fixtures: "nodejs",
        make: Make::Source,
        get: function("helloget.js", "helloget.foo"),
        data: function("hellowithdata.js", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "ruby3.1",
        fixtures: "ruby",
        make: Make::Source,
        get: function("helloget.rb", "helloget.foo"),
        data: function("hellowithdata.rb", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "go1.26",
        fixtures: "go",
        make: Make::Source,
        get: function("helloget.go", "helloget.Foo"),
        data: function("hellowithdata.go", "hellowithdata.Handler"),
    },
    RuntimeCase {
        runtime: "java17",
        fixtures: "java",
        make: Make::Source,
        get: function("helloget.java", "helloget.foo"),
        data: function("hellowithdata.java", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "dotnetmono6.8",
        fixtures: "dotnet",
        make: Make::Source,
        get: function("helloget.cs", "helloget.foo"),
        data: function("hellowithdata.cs", "hellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "native1",
        fixtures: "native",
        make: Make::Native,
        get: function("libhelloget.so", "libhelloget.foo"),
        data: function("libhellowithdata.so", "libhellowithdata.handler"),
    },
    RuntimeCase {
        runtime: "wasm1",
        fixtures: "wasm",
        make: Make::Wasm,
        get: function("helloget.wasm", "helloget.foo"),
        data: function("hellowithdata.wasm", "hellowithdata.handler"),
    },
];

impl RuntimeCase {
    /// Writes `function`'s file into `dir`, as the user would have it before deploying.
    pub fn make_file(&self, function: &Function, dir: &Path) -> Result<(), Error> {
        let root = repository_root();
        let fixtures = root.join("conformance/fixtures");
        match self.make {
            Make::Source => {
                let module = function.file.split('.').next().unwrap_or_default();
                let source = fixtures
                    .join(self.fixtures)
                    .join(module)
                    .join(function.file);
                std::fs::copy(&source, dir.join(function.file))
                    .map(drop)
                    .map_err(|e| format!("copying {}: {e}", source.display()))
            }
            Make::Native => run(Command::new("cc")
                .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"])
                .arg(root.join("loaders/native/include"))
                .arg("-o")
                .arg(dir.join(function.file))
                .arg(fixtures.join("native/src/functions.c"))
                .arg("-lpthread")),
            Make::Wasm => run(Command::new(root.join("loaders/wasm/guests/build.sh"))
                .arg("kubeless-functions")
                .arg(dir.join(function.file))),
        }
    }
}

fn run(command: &mut Command) -> Result<(), Error> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
