//! Fixtures: one folder per (runtime, function), with a `fixture.toml`:
//!
//! ```toml
//! handler = "helloget.foo"     # module.function, as `kubeless function deploy --handler`
//! runtime = "python3.11"       # FUNC_RUNTIME
//! deps = "requirements.txt"    # optional dependency file (installed by `fnhost run --deps`)
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

    /// Copies the fixture's files (not `fixture.toml`) into `dest`, as the `prepare` init
    /// container copies a function into `/kubeless`.
    pub fn copy_into(&self, dest: &Path) -> Result<(), String> {
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
