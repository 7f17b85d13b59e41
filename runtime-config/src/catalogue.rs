//! The runtimes fnhost serves.
//!
//! A runtime id is the upstream Kubeless runtime string: a language id plus a version
//! (`python` + `3.11` = `python3.11`). Each runtime names its dependency file and file suffix
//! and the build phases that run before the function is served: *installation* (install the
//! dependency file into the function folder) and *compilation* (for compiled languages). The
//! same phase commands run in a pod's init containers and in `fnhost run` on a laptop.

/// The language family of a runtime, which decides the loader that serves it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language {
    /// CPython, served by the embedded Python loader.
    Python,
    /// Shared objects with fnhost's native C ABI, served by the native loader.
    Native,
    /// Node.js, served by Node.js worker processes.
    Nodejs,
    /// Go, compiled with fnhost's worker shim and served by its worker processes.
    Go,
    /// Ruby, served by Ruby worker processes.
    Ruby,
    /// Java, compiled with fnhost's worker classes and served by JVM worker processes.
    Java,
    /// C#, compiled by Mono's `mcs` with fnhost's worker and served by Mono worker processes.
    Dotnet,
    /// JavaScript on the embedded engine (QuickJS-ng): Kubeless Node.js-style functions that
    /// need no Node.js APIs, inside the fnhost process.
    Js,
    /// WebAssembly on wasmtime: wasi:http components and fnhost Wasm ABI core modules.
    Wasm,
    /// A language id this build of fnhost has no loader for (kept so that a
    /// `kubeless-config` with other runtimes still round-trips).
    Other(String),
}

impl Language {
    /// The upstream language id (`python`, `nodejs`, …).
    pub fn id(&self) -> &str {
        match self {
            Language::Python => "python",
            Language::Native => "native",
            Language::Nodejs => "nodejs",
            Language::Go => "go",
            Language::Ruby => "ruby",
            Language::Java => "java",
            Language::Dotnet => "dotnet",
            Language::Js => "js",
            Language::Wasm => "wasm",
            Language::Other(id) => id,
        }
    }

    /// Parses an upstream language id.
    pub fn from_id(id: &str) -> Self {
        match id {
            "python" => Language::Python,
            "native" => Language::Native,
            "nodejs" => Language::Nodejs,
            "go" => Language::Go,
            "ruby" => Language::Ruby,
            "java" => Language::Java,
            "dotnet" => Language::Dotnet,
            "js" => Language::Js,
            "wasm" => Language::Wasm,
            other => Language::Other(other.to_owned()),
        }
    }
}

/// One build phase (installation or compilation): a shell command run with `sh -c` in the
/// function folder, with `KUBELESS_INSTALL_VOLUME`, `KUBELESS_DEPS_FILE` and
/// `KUBELESS_FUNC_NAME` set, plus the phase's own environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Image that runs this phase in a pod.
    pub image: String,
    /// The command, run with `sh -c`.
    pub command: String,
    /// Extra environment, values may use `$(VAR)` references.
    pub env: Vec<(String, String)>,
}

/// One runtime of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// Language family.
    pub language: Language,
    /// Version part of the id, e.g. `3.11`.
    pub version: String,
    /// Upstream version name, e.g. `python311`.
    pub version_name: String,
    /// Dependency file name, e.g. `requirements.txt`; empty when the runtime has none.
    pub dep_file: String,
    /// Function file suffix, e.g. `.py`.
    pub suffix: String,
    /// Image that serves the function (the `runtime` phase).
    pub image: String,
    /// Environment of the runtime phase; values may use `$(KUBELESS_INSTALL_VOLUME)`.
    pub runtime_env: Vec<(String, String)>,
    /// Dependency installation, if the runtime has one.
    pub install: Option<Phase>,
    /// Compilation, if the runtime needs one.
    pub compile: Option<Phase>,
}

impl Runtime {
    /// The runtime id, e.g. `python3.11`.
    pub fn id(&self) -> String {
        format!("{}{}", self.language.id(), self.version)
    }
}

/// The Python versions fnhost ships images for.
pub const PYTHON_VERSIONS: [&str; 4] = ["3.9", "3.10", "3.11", "3.12"];

/// The Python version the default build embeds, used when a runtime must be inferred from a
/// `.py` file alone.
pub const DEFAULT_PYTHON: &str = "python3.11";

/// Repository of the fnhost runtime images; the tag is `<runtime id>-<fnhost version>`.
pub const IMAGE_REPOSITORY: &str = "fnhost/runtime";

/// The list of runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    runtimes: Vec<Runtime>,
}

impl Catalogue {
    /// The catalogue built into this version of fnhost.
    pub fn builtin() -> Self {
        Catalogue {
            runtimes: PYTHON_VERSIONS
                .iter()
                .map(|v| python_runtime(v))
                .chain(std::iter::once(native_runtime()))
                .chain(NODEJS_VERSIONS.iter().map(|v| nodejs_runtime(v)))
                .chain(GO_VERSIONS.iter().map(|v| go_runtime(v)))
                .chain(RUBY_VERSIONS.iter().map(|v| ruby_runtime(v)))
                .chain(JAVA_VERSIONS.iter().map(|v| java_runtime(v)))
                .chain(DOTNET_VERSIONS.iter().map(|v| dotnet_runtime(v)))
                .chain(std::iter::once(js_runtime()))
                .chain(std::iter::once(wasm_runtime()))
                .collect(),
        }
    }

    /// A catalogue from an explicit list (e.g. read from a `kubeless-config`).
    pub fn from_runtimes(runtimes: Vec<Runtime>) -> Self {
        Catalogue { runtimes }
    }

    /// All runtimes, in catalogue order.
    pub fn runtimes(&self) -> &[Runtime] {
        &self.runtimes
    }

    /// The runtime with this id, e.g. `python3.11`.
    pub fn get(&self, id: &str) -> Option<&Runtime> {
        self.runtimes.iter().find(|r| r.id() == id)
    }

    /// The runtime to use for a file with this suffix when none is named: the default
    /// Python for `.py`, else the first runtime with that suffix.
    pub fn for_suffix(&self, suffix: &str) -> Option<&Runtime> {
        if suffix == ".py"
            && let Some(rt) = self.get(DEFAULT_PYTHON)
        {
            return Some(rt);
        }
        self.runtimes.iter().find(|r| r.suffix == suffix)
    }

    /// Every runtime id, for error messages.
    pub fn ids(&self) -> Vec<String> {
        self.runtimes.iter().map(Runtime::id).collect()
    }
}

fn image_for(runtime_id: &str) -> String {
    format!(
        "{IMAGE_REPOSITORY}:{runtime_id}-{}",
        env!("CARGO_PKG_VERSION")
    )
}

fn python_runtime(version: &str) -> Runtime {
    let id = format!("python{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Python,
        version: version.to_owned(),
        version_name: format!("python{}", version.replace('.', "")),
        dep_file: "requirements.txt".to_owned(),
        suffix: ".py".to_owned(),
        runtime_env: vec![(
            "PYTHONPATH".to_owned(),
            format!(
                "$(KUBELESS_INSTALL_VOLUME)/lib/python{version}/site-packages:$(KUBELESS_INSTALL_VOLUME)"
            ),
        )],
        install: Some(Phase {
            image: image.clone(),
            command: format!(
                "python{version} -m pip install --no-input --disable-pip-version-check \
                 --prefix=$KUBELESS_INSTALL_VOLUME -r $KUBELESS_DEPS_FILE"
            ),
            env: Vec::new(),
        }),
        compile: None,
        image,
    }
}

/// The Node.js versions fnhost ships images for.
pub const NODEJS_VERSIONS: [&str; 1] = ["20"];

/// Node.js functions (`module.exports` handlers): dependencies from `package.json` installed
/// by npm into the function folder, found through `NODE_PATH`.
fn nodejs_runtime(version: &str) -> Runtime {
    let id = format!("nodejs{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Nodejs,
        version: version.to_owned(),
        version_name: format!("node{version}"),
        dep_file: "package.json".to_owned(),
        suffix: ".js".to_owned(),
        runtime_env: vec![("NODE_PATH".to_owned(), "$(KUBELESS_INSTALL_VOLUME)/node_modules".to_owned())],
        install: Some(Phase {
            image: image.clone(),
            command: "cd \"$KUBELESS_INSTALL_VOLUME\" && { [ \"$KUBELESS_DEPS_FILE\" -ef package.json ] || cp \"$KUBELESS_DEPS_FILE\" package.json; } \
                      && npm install --omit=dev --no-audit --no-fund --cache \"${TMPDIR:-/tmp}/fnhost-npm-cache\" --prefix=\"$KUBELESS_INSTALL_VOLUME\""
                .to_owned(),
            env: Vec::new(),
        }),
        compile: None,
        image,
    }
}

/// The Go versions fnhost ships images for.
pub const GO_VERSIONS: [&str; 1] = ["1.26"];

/// Go functions (`package kubeless`, `func F(functions.Event, functions.Context) (string,
/// error)`): the compile phase builds them with fnhost's worker shim into one binary; `go.mod`
/// dependencies come from the Go module proxy.
fn go_runtime(version: &str) -> Runtime {
    let id = format!("go{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Go,
        version: version.to_owned(),
        version_name: id.clone(),
        dep_file: "go.mod".to_owned(),
        suffix: ".go".to_owned(),
        runtime_env: Vec::new(),
        install: None,
        compile: Some(Phase {
            image: image.clone(),
            command: "fnhost build go --dir \"$KUBELESS_INSTALL_VOLUME\" --handler \"$KUBELESS_FUNC_NAME\"".to_owned(),
            env: vec![("GOCACHE".to_owned(), "$(KUBELESS_INSTALL_VOLUME)/.cache".to_owned())],
        }),
        image,
    }
}

/// The Ruby versions fnhost ships images for.
pub const RUBY_VERSIONS: [&str; 1] = ["3.1"];

/// Ruby functions (a top-level `def handler(event, context)`): the install phase runs
/// bundler with `GEM_HOME` in the function's volume, as upstream's did. It first tries
/// `bundle install --local` (only gems the image already has, such as Debian's `ruby-*`
/// packages: no network), then a normal `bundle install` from the Gemfile's source. Bundler
/// 2.3 (Debian bookworm's) has no `--prefer-local`, so the two steps spell it out.
fn ruby_runtime(version: &str) -> Runtime {
    let id = format!("ruby{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Ruby,
        version: version.to_owned(),
        version_name: format!("ruby{}", version.replace('.', "")),
        dep_file: "Gemfile".to_owned(),
        suffix: ".rb".to_owned(),
        runtime_env: vec![(
            "GEM_HOME".to_owned(),
            format!("$(KUBELESS_INSTALL_VOLUME)/ruby/{version}.0"),
        )],
        install: Some(Phase {
            image: image.clone(),
            command: format!(
                "cd \"$KUBELESS_INSTALL_VOLUME\" && {{ [ \"$KUBELESS_DEPS_FILE\" -ef Gemfile ] || cp \"$KUBELESS_DEPS_FILE\" Gemfile; }} \
                 && export GEM_HOME=\"$KUBELESS_INSTALL_VOLUME/ruby/{version}.0\" BUNDLE_GEMFILE=\"$KUBELESS_INSTALL_VOLUME/Gemfile\" && {{ bundle install --local || {{ echo 'fnhost: not every gem is installed locally; installing from the Gemfile source' >&2; bundle install; }}; }}"
            ),
            env: Vec::new(),
        }),
        compile: None,
        image,
    }
}

/// The Java versions fnhost ships images for.
pub const JAVA_VERSIONS: [&str; 1] = ["17"];

/// Java functions (`package io.kubeless; public class Foo { public String foo(Event,
/// Context) }`): the compile phase (`fnhost build java`) compiles them with fnhost's
/// `io.kubeless` classes; a `pom.xml` (upstream's shape) has its dependencies resolved by
/// Maven from Maven Central into `lib/`.
fn java_runtime(version: &str) -> Runtime {
    let id = format!("java{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Java,
        version: version.to_owned(),
        version_name: id.clone(),
        dep_file: "pom.xml".to_owned(),
        suffix: ".java".to_owned(),
        runtime_env: Vec::new(),
        install: None,
        compile: Some(Phase {
            image: image.clone(),
            command: "fnhost build java --dir \"$KUBELESS_INSTALL_VOLUME\"".to_owned(),
            env: Vec::new(),
        }),
        image,
    }
}

/// The C# runtimes: Mono's C# compiler and runtime (no .NET SDK is installable here).
pub const DOTNET_VERSIONS: [&str; 1] = ["mono6.8"];

/// C# functions (`public class module { public Task<object> handler(Kubeless.Functions.Event,
/// Kubeless.Functions.Context) }`): the compile phase (`fnhost build dotnet`) compiles them
/// with fnhost's worker and `Kubeless.Functions` types into one assembly with `mcs`.
fn dotnet_runtime(version: &str) -> Runtime {
    let id = format!("dotnet{version}");
    let image = image_for(&id);
    Runtime {
        language: Language::Dotnet,
        version: version.to_owned(),
        version_name: id.clone(),
        dep_file: String::new(),
        suffix: ".cs".to_owned(),
        runtime_env: Vec::new(),
        install: None,
        compile: Some(Phase {
            image: image.clone(),
            command: "fnhost build dotnet --dir \"$KUBELESS_INSTALL_VOLUME\"".to_owned(),
            env: Vec::new(),
        }),
        image,
    }
}

/// JavaScript on the embedded engine: `jsembedded`. Kubeless Node.js-style handlers run inside
/// fnhost (no Node.js process); `package.json` dependencies (pure JavaScript) are installed by
/// npm as for `nodejs20` and found the same way. `.js` files default to `nodejs20`: this
/// runtime is chosen explicitly (`--runtime jsembedded`).
fn js_runtime() -> Runtime {
    let node = nodejs_runtime(NODEJS_VERSIONS[0]);
    let id = "jsembedded";
    Runtime {
        language: Language::Js,
        version: "embedded".to_owned(),
        version_name: id.to_owned(),
        dep_file: node.dep_file,
        suffix: node.suffix,
        image: image_for(id),
        runtime_env: node.runtime_env,
        install: node.install,
        compile: None,
    }
}

/// The native ABI version the `native` runtime speaks (`native1`).
pub const NATIVE_ABI_VERSION: &str = "1";

/// Shared objects built against `loaders/native/include/fnhost_native.h`: no dependency file
/// and no build phase (the `.so` is built by the user's own toolchain), suffix `.so`.
fn native_runtime() -> Runtime {
    let id = format!("native{NATIVE_ABI_VERSION}");
    Runtime {
        language: Language::Native,
        version: NATIVE_ABI_VERSION.to_owned(),
        version_name: id.clone(),
        dep_file: String::new(),
        suffix: ".so".to_owned(),
        image: image_for(&id),
        runtime_env: Vec::new(),
        install: None,
        compile: None,
    }
}

/// The fnhost Wasm ABI version the `wasm` runtime speaks (`wasm1`); the same runtime serves
/// wasi:http 0.2 components.
pub const WASM_ABI_VERSION: &str = "1";

/// WebAssembly files (`.wasm`), compiled by fnhost itself at load (and cached next to the
/// file): no dependency file and no build phase (the guest is built by the user's toolchain).
fn wasm_runtime() -> Runtime {
    let id = format!("wasm{WASM_ABI_VERSION}");
    Runtime {
        language: Language::Wasm,
        version: WASM_ABI_VERSION.to_owned(),
        version_name: id.clone(),
        dep_file: String::new(),
        suffix: ".wasm".to_owned(),
        image: image_for(&id),
        runtime_env: Vec::new(),
        install: None,
        compile: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_python_runtimes() {
        let cat = Catalogue::builtin();
        for v in PYTHON_VERSIONS {
            let rt = cat.get(&format!("python{v}")).expect("runtime present");
            assert_eq!(rt.dep_file, "requirements.txt");
            assert_eq!(rt.suffix, ".py");
            assert!(
                rt.install
                    .as_ref()
                    .is_some_and(|p| p.command.contains("--prefix"))
            );
        }
        assert!(cat.get("python2.7").is_none());
    }

    #[test]
    fn suffix_inference_prefers_the_default_python() {
        let cat = Catalogue::builtin();
        assert_eq!(
            cat.for_suffix(".py").map(Runtime::id).as_deref(),
            Some(DEFAULT_PYTHON)
        );
        assert!(cat.for_suffix(".rs").is_none());
    }
}
