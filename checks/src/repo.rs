//! The repository's crates and files.

use std::path::{Path, PathBuf};

/// The repository root (the folder above this crate). Cargo's run-time `CARGO_MANIFEST_DIR`
/// wins over the compile-time one: a test binary built in one clone and found fresh by cargo
/// in another (the build folder is shared) must still read the clone it runs for.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// One workspace member: its folder, its package name and its manifest.
#[derive(Debug, Clone)]
pub struct Member {
    /// The folder, relative to the root (`loaders/python`).
    pub dir: String,
    /// The package name (`fnhost-loader-python`).
    pub name: String,
    /// The parsed `Cargo.toml`.
    pub manifest: toml::Table,
}

/// The workspace members of the root `Cargo.toml`.
pub fn members() -> Result<Vec<Member>, String> {
    let root = root();
    let workspace = read_toml(&root.join("Cargo.toml"))?;
    let dirs = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .ok_or("the root Cargo.toml has no workspace.members")?;
    dirs.iter()
        .filter_map(toml::Value::as_str)
        .map(|dir| {
            let manifest = read_toml(&root.join(dir).join("Cargo.toml"))?;
            let name = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(toml::Value::as_str)
                .ok_or(format!("{dir}/Cargo.toml has no package.name"))?
                .to_owned();
            Ok(Member {
                dir: dir.to_owned(),
                name,
                manifest,
            })
        })
        .collect()
}

fn read_toml(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.parse()
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// Every `.rs` file below `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The names of the workspace's dependencies on other members, from a manifest's
/// `[dependencies]` (not dev-dependencies: tests may use anything).
pub fn member_dependencies(member: &Member, all: &[Member]) -> Vec<String> {
    let Some(deps) = member
        .manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
    else {
        return Vec::new();
    };
    deps.keys()
        .filter(|name| all.iter().any(|m| &m.name == *name))
        .cloned()
        .collect()
}
