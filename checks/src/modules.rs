//! Which top-level modules of a crate refer to which (`crate::name` in code, comments and
//! doc comments left out), and the circles among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// For each top-level module of the crate in `src`, the other top-level modules it refers to.
pub fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in crate::repo::rust_files(src) {
        let Some(module) = top_module(src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let targets = edges.entry(module.clone()).or_default();
        for line in text.lines().map(str::trim_start) {
            if line.starts_with("//") {
                continue;
            }
            for target in referenced_modules(line) {
                if target != module {
                    targets.insert(target);
                }
            }
        }
    }
    edges
}

/// `interpreter` for `src/interpreter.rs` and `src/interpreter/x.rs`; `None` for the crate
/// root (`lib.rs`, `main.rs`) and binaries, which may use anything.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

/// The top-level modules named after `crate::` on a line, in `use crate::{a, b::c}` too.
fn referenced_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                found.push(first_segment(item.trim()));
            }
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The strongly connected groups of more than one module (each a circle), sorted.
pub fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let nodes: Vec<&String> = graph.keys().collect();
    let reaches = |from: &str, to: &String| reachable(graph, from).contains(to);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut groups = Vec::new();
    for node in &nodes {
        if seen.contains(*node) {
            continue;
        }
        let group: BTreeSet<String> = nodes
            .iter()
            .filter(|other| reaches(node, other) && reaches(other, node))
            .map(|n| (*n).clone())
            .collect();
        seen.extend(group.iter().cloned());
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(next) = stack.pop() {
        for target in graph.get(&next).into_iter().flatten() {
            if found.insert(target.clone()) {
                stack.push(target.clone());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_from_paths_and_groups() {
        assert_eq!(
            referenced_modules("use crate::{call::Loaded, function::{Shared, X}, self};"),
            ["call", "function"]
        );
        assert_eq!(
            referenced_modules("let x = crate::signal::wake(slot); crate::pool::Slot"),
            ["signal", "pool"]
        );
    }

    #[test]
    fn circles_are_found() {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut edge = |a: &str, b: &str| {
            g.entry(a.to_owned()).or_default().insert(b.to_owned());
            g.entry(b.to_owned()).or_default();
        };
        edge("a", "b");
        edge("b", "c");
        edge("c", "a");
        edge("c", "d");
        let found = circles(&g);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), 3);
    }
}
