//! The file paths a Markdown page names in backticks.

use std::path::Path;

/// Every backticked token of `page` that names a file or folder of the repository: a path
/// whose first part is a top-level entry of `root`, or a bare file name with one of the
/// repository's extensions. `{a,b}` groups are expanded.
pub fn named_paths(page: &str, root: &Path) -> Vec<String> {
    let top: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for token in page.split('`').skip(1).step_by(2) {
        for path in expand(token) {
            let first = path.split('/').next().unwrap_or("");
            let looks_like_file = !path.contains(' ')
                && [
                    ".rs", ".toml", ".md", ".sh", ".yaml", ".js", ".rb", ".h", ".py",
                ]
                .iter()
                .any(|x| path.ends_with(x));
            if (path.contains('/') && top.iter().any(|t| t == first)) || looks_like_file {
                found.push(path);
            }
        }
    }
    found
}

/// `a/{b,c}.rs` → `a/b.rs`, `a/c.rs`.
fn expand(token: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (token.find('{'), token.find('}')) else {
        return vec![token.to_owned()];
    };
    if close < open {
        return vec![token.to_owned()];
    }
    token[open + 1..close]
        .split(',')
        .map(|part| format!("{}{}{}", &token[..open], part.trim(), &token[close + 1..]))
        .collect()
}

/// `true` when `path` exists under `root`, or ends a path that exists in the repository (the
/// page names files relative to the crate it is describing: `include/fnhost_native.h`).
pub fn exists(path: &str, root: &Path) -> bool {
    let trimmed = path.trim_end_matches('/');
    root.join(trimmed).exists() || path_ending_in(root, trimmed)
}

fn path_ending_in(dir: &Path, tail: &str) -> bool {
    if dir.join(tail).exists() {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        let skip = name == "target" || name == ".git" || name == "node_modules";
        e.path().is_dir() && !skip && path_ending_in(&e.path(), tail)
    })
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn groups_expand() {
        assert_eq!(expand("a/{b,c}.rs"), ["a/b.rs", "a/c.rs"]);
        assert_eq!(expand("plain.md"), ["plain.md"]);
    }
}
