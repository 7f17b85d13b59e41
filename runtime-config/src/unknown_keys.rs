//! Which `FNHOST_*` variables fnhost does not know, and what that means.
//!
//! A pod's environment holds more than fnhost's settings: Kubernetes injects service links for
//! every Service of the namespace (a Service `fnhost-api` becomes `FNHOST_API_SERVICE_HOST`,
//! `FNHOST_API_PORT_8080_TCP_ADDR`, ...), and users add their own variables. So an unknown
//! `FNHOST_*` key is only an error when it is almost certainly a typo of a real setting (at
//! most two edits away from one, like `FNHOST_THREDS`); a service link is ignored; anything else
//! is a warning in the startup log.

/// What to do about one unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not one of ours to judge (a Kubernetes service link).
    Ignore,
    /// Almost certainly a misspelt setting: refuse to start, naming the setting meant.
    Typo {
        /// The known key it is closest to.
        meant: &'static str,
    },
    /// Unknown, but not close to any setting: start, and say so in the log.
    Warn,
}

/// Judges `key`, a variable starting with `FNHOST_` that is not in `known`.
pub fn judge(key: &str, known: &[&'static str]) -> Verdict {
    if is_service_link(key) {
        return Verdict::Ignore;
    }
    let closest = known
        .iter()
        .filter(|k| k.starts_with("FNHOST_"))
        .map(|k| (edit_distance(key, k), *k))
        .min();
    match closest {
        Some((distance, meant)) if distance <= 2 => Verdict::Typo { meant },
        _ => Verdict::Warn,
    }
}

/// `true` for the variables kubelet writes for a Service (`<NAME>_SERVICE_HOST`,
/// `<NAME>_SERVICE_PORT[_<PORT NAME>]`, `<NAME>_PORT`, `<NAME>_PORT_<N>_<PROTO>[_ADDR|_PORT|_PROTO]`).
pub fn is_service_link(key: &str) -> bool {
    if key.ends_with("_SERVICE_HOST") || key.ends_with("_SERVICE_PORT") {
        return true;
    }
    if key.contains("_SERVICE_PORT_") || key.ends_with("_PORT") {
        return true;
    }
    let parts: Vec<&str> = key.split('_').collect();
    parts.windows(3).any(|w| {
        w[0] == "PORT"
            && !w[1].is_empty()
            && w[1].bytes().all(|b| b.is_ascii_digit())
            && matches!(w[2], "TCP" | "UDP" | "SCTP")
    })
}

/// Levenshtein distance between two ASCII keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "FNHOST_THREADS",
        "FNHOST_WORKERS",
        "FNHOST_LOG",
        "FUNC_PORT",
    ];

    #[test]
    fn typos_of_settings_are_caught() {
        assert_eq!(
            judge("FNHOST_THREDS", KNOWN),
            Verdict::Typo {
                meant: "FNHOST_THREADS"
            }
        );
        assert_eq!(
            judge("FNHOST_WORKER", KNOWN),
            Verdict::Typo {
                meant: "FNHOST_WORKERS"
            }
        );
    }

    #[test]
    fn service_links_are_not_ours() {
        for key in [
            "FNHOST_SERVICE_HOST",
            "FNHOST_SERVICE_PORT",
            "FNHOST_SERVICE_PORT_HTTP_FUNCTION_PORT",
            "FNHOST_PORT",
            "FNHOST_PORT_8080_TCP",
            "FNHOST_PORT_8080_TCP_ADDR",
            "FNHOST_PORT_8080_TCP_PORT",
            "FNHOST_PORT_8080_TCP_PROTO",
            "FNHOST_API_PORT_53_UDP_ADDR",
            "FNHOST_RECONCILER_SERVICE_HOST",
        ] {
            assert_eq!(judge(key, KNOWN), Verdict::Ignore, "{key}");
        }
    }

    #[test]
    fn other_unknown_keys_only_warn() {
        assert_eq!(judge("FNHOST_MY_APP_MODE", KNOWN), Verdict::Warn);
        assert_eq!(judge("FNHOST_DEBUG_BUNDLE", KNOWN), Verdict::Warn);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
