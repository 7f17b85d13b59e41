//! Kubernetes-style `$(VAR)` expansion, as kubelet applies it to container `env` values.
//!
//! The runtime catalogue writes runtime-phase values such as
//! `PYTHONPATH=$(KUBELESS_INSTALL_VOLUME)/lib/python3.11/site-packages:$(KUBELESS_INSTALL_VOLUME)`;
//! the local runner expands them the same way kubelet does in a pod: `$(NAME)` is replaced
//! when `NAME` is known, kept verbatim otherwise, and `$$` escapes a dollar.

/// Expands `$(NAME)` references in `value` using `lookup`.
pub fn expand(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn vol(name: &str) -> Option<String> {
        (name == "KUBELESS_INSTALL_VOLUME").then(|| "/kubeless".to_owned())
    }

    #[test]
    fn expands_known_names() {
        assert_eq!(
            expand(
                "$(KUBELESS_INSTALL_VOLUME)/lib:$(KUBELESS_INSTALL_VOLUME)",
                vol
            ),
            "/kubeless/lib:/kubeless"
        );
    }

    #[test]
    fn keeps_unknown_names_and_escapes() {
        assert_eq!(expand("$(NOPE)/x", vol), "$(NOPE)/x");
        assert_eq!(
            expand("$$(KUBELESS_INSTALL_VOLUME)", vol),
            "$(KUBELESS_INSTALL_VOLUME)"
        );
        assert_eq!(expand("a$b", vol), "a$b");
        assert_eq!(expand("unclosed $(X", vol), "unclosed $(X");
    }
}
