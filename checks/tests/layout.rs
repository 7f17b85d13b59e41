//! The repository's layout rules, checked. Known gaps are listed with their reason and fail
//! the check once they are fixed, so the lists stay true.

use std::collections::BTreeSet;

use fnhost_checks::{modules, paths, repo};

/// Module circles not yet untangled (issue 11: "no module circles"), as `crate: a, b, c`.
const KNOWN_CIRCLES: &[(&str, &str, &str)] = &[];

/// Loader-to-loader dependencies not yet removed, as (dependent, dependency, reason).
const KNOWN_LOADER_DEPENDENCIES: &[(&str, &str, &str)] = &[];

/// The files allowed to opt into `unsafe` (FFI), each with `// SAFETY:` comments.
const UNSAFE_FILES: &[&str] = &[
    "loaders/python/src/async_exc.rs",
    "loaders/python/src/signal.rs",
    "loaders/native/src/abi.rs",
    "loaders/native/src/library.rs",
    "loaders/native/examples/rust/hello.rs",
    "loaders/wasm/src/cache.rs",
];

#[test]
fn architecture_names_only_paths_that_exist() {
    let root = repo::root();
    let page = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let named = paths::named_paths(&page, &root);
    assert!(named.len() > 20, "too few paths found: {named:?}");
    let missing: Vec<&String> = named.iter().filter(|p| !paths::exists(p, &root)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let members = repo::members().expect("workspace");
    let own_lints: Vec<&str> = members
        .iter()
        .filter(|m| {
            let lints = m.manifest.get("lints");
            lints
                .and_then(|l| l.get("workspace"))
                .and_then(toml::Value::as_bool)
                != Some(true)
                || lints
                    .and_then(toml::Value::as_table)
                    .is_some_and(|t| t.len() != 1)
        })
        .map(|m| m.dir.as_str())
        .collect();
    assert!(
        own_lints.is_empty(),
        "crates with their own lint table: {own_lints:?}"
    );
}

#[test]
fn unsafe_code_is_allowed_only_in_the_ffi_files() {
    let root = repo::root();
    let mut offenders = Vec::new();
    for member in repo::members().expect("workspace") {
        for file in repo::rust_files(&root.join(&member.dir)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let relative = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            let opt_in = concat!("allow(", "unsafe_code");
            if text.contains(opt_in) && !UNSAFE_FILES.contains(&relative.as_str()) {
                offenders.push(relative);
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe allowed outside the FFI files: {offenders:?}"
    );
}

#[test]
fn no_module_circles_beyond_the_known_ones() {
    let root = repo::root();
    let mut found: BTreeSet<(String, String)> = BTreeSet::new();
    for member in repo::members().expect("workspace") {
        let graph = modules::graph(&root.join(&member.dir).join("src"));
        for circle in modules::circles(&graph) {
            let names: Vec<String> = circle.into_iter().collect();
            found.insert((member.dir.clone(), names.join(", ")));
        }
    }
    assert_only_known(&found, KNOWN_CIRCLES, "module circles");
}

#[test]
fn no_loader_depends_on_another() {
    let members = repo::members().expect("workspace");
    let is_loader = |name: &str| name.starts_with("fnhost-loader-") && name != "fnhost-loader-api";
    let mut found = BTreeSet::new();
    for member in members.iter().filter(|m| is_loader(&m.name)) {
        for dep in repo::member_dependencies(member, &members) {
            if is_loader(&dep) {
                found.insert((member.name.clone(), dep));
            }
        }
    }
    assert_only_known(
        &found,
        KNOWN_LOADER_DEPENDENCIES,
        "loaders depending on loaders",
    );
}

#[test]
fn no_broker_crate_depends_on_another_and_the_two_cluster_binaries_are_apart() {
    let members = repo::members().expect("workspace");
    let is_broker = |name: &str| name.starts_with("fnhost-trigger-");
    let binaries = ["fnhost-reconciler", "fnhost-dispatcher"];
    let mut found = BTreeSet::new();
    for member in &members {
        for dep in repo::member_dependencies(member, &members) {
            let brokers = is_broker(&member.name) && is_broker(&dep);
            let binaries_meet =
                binaries.contains(&member.name.as_str()) && binaries.contains(&dep.as_str());
            if brokers || binaries_meet {
                found.insert((member.name.clone(), dep));
            }
        }
    }
    assert!(
        found.is_empty(),
        "crates of the same layer depending on each other: {found:?}"
    );
}

/// `found` must be exactly the `known` gaps (pairs of their first two fields): a new one is a
/// regression, and a listed one that is gone must leave the list.
fn assert_only_known(found: &BTreeSet<(String, String)>, known: &[(&str, &str, &str)], what: &str) {
    let known: BTreeSet<(String, String)> = known
        .iter()
        .map(|(a, b, _)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let fixed: Vec<_> = known.difference(found).collect();
    assert!(new.is_empty(), "{what}: {new:?}");
    assert!(
        fixed.is_empty(),
        "{what} listed as known gaps but gone (remove them from the list): {fixed:?}"
    );
}
