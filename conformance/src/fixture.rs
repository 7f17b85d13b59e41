//! Fixtures: one folder per (runtime, function), with a `fixture.toml`:
//!
//! ```toml
//! handler = "helloget.foo"     # module.function, as `kubeless function deploy --handler`
//! runtime = "python3.11"       # FUNC_RUNTIME
//! deps = "requirements.txt"    # optional dependency file (installed by `fnhost run --deps`)
//! build = "cc -shared ..."      # optional build command, run in the function folder
//! files_from = "nodejs/helloget" # optional: another fixture whose files this one uses too
//! file = "helloget.py"           # optional, local mode: the function file among namesakes
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A fixture's description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// `module.function`.
    pub handler: String,
    /// Runtime id.
    pub runtime: String,
    /// Dependency file in the fixture folder.
    #[serde(default)]
    pub deps: Option<String>,
    /// A shell command run in the copied function folder before fnhost starts (the
    /// runtime's compile step, e.g. `cc` for native functions). `$FNHOST_NATIVE_INCLUDE`
    /// names the folder of `fnhost_native.h`, `$FNHOST_FIXTURES` the fixtures folder (for
    /// sources several fixtures share), `$FNHOST_BIN` the fnhost binary under test (for
    /// `fnhost build go`), `$FNHOST_WASM_GUESTS` the Wasm test guests (`build.sh`).
    #[serde(default)]
    pub build: Option<String>,
    /// Another fixture (`<runtime>/<name>`) whose files are copied first: the same function
    /// source served by another runtime (the embedded JavaScript engine runs the Node.js
    /// fixtures unchanged).
    #[serde(default)]
    pub files_from: Option<String>,
    /// Local mode: the function file, where the folder holds other files of the same name
    /// with other suffixes (otherwise the one file named after the module).
    #[serde(default)]
    pub file: Option<String>,
    /// The folder it was read from.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Fixture {
    /// Reads `fixtures/<runtime>/<name>/fixture.toml`; `None` if the folder does not exist.
    pub fn load(fixtures: &Path, runtime: &str, name: &str) -> Option<Result<Fixture, String>> {
        let dir = fixtures.join(runtime).join(name);
        if !dir.is_dir() {
            return None;
        }
        let file = dir.join("fixture.toml");
        Some(
            std::fs::read_to_string(&file)
                .map_err(|e| format!("{}: {e}", file.display()))
                .and_then(|text| {
                    toml::from_str::<Fixture>(&text).map_err(|e| format!("{}: {e}", file.display()))
                })
                .map(|mut f| {
                    f.dir = dir;
                    f
                }),
        )
    }

    /// (module, function) of the handler.
    pub fn split_handler(&self) -> Result<(&str, &str), String> {
        self.handler
            .split_once('.')
            .ok_or_else(|| format!("fixture handler {:?} must be module.function", self.handler))
    }

    /// Runs the fixture's build command (if any) in `dir`.
    pub fn build_in(&self, dir: &Path) -> Result<(), String> {
        let Some(command) = &self.build else {
            return Ok(());
        };
        let include = crate::root().join("../loaders/native/include");
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .current_dir(dir)
            .env("FNHOST_NATIVE_INCLUDE", include)
            .env("FNHOST_FIXTURES", crate::root().join("fixtures"))
            .env("FNHOST_BIN", crate::process::binary())
            .env(
                "FNHOST_WASM_GUESTS",
                crate::root().join("../loaders/wasm/guests"),
            )
            .output()
            .map_err(|e| format!("cannot run the build command: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "fixture build `{command}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// Copies the fixture's files (not `fixture.toml`) into `dest`, as the `prepare` init
    /// container copies a function into `/kubeless`.
    pub fn copy_into(&self, dest: &Path) -> Result<(), String> {
        if let Some(other) = &self.files_from {
            let source = crate::root().join("fixtures").join(other);
            copy_dir(&source, dest)
                .map_err(|e| format!("copying fixture {}: {e}", source.display()))?;
        }
        copy_dir(&self.dir, dest)
            .map_err(|e| format!("copying fixture {}: {e}", self.dir.display()))
    }
}

fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "fixture.toml" || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            copy_dir(&path, &dest.join(&name))?;
        } else {
            std::fs::copy(&path, dest.join(&name))?;
        }
    }
    Ok(())
}
