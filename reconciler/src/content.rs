//! A Function's source: its `function-content-type`, the file name it gets in the pod, and
//! the shell steps of the `prepare` and `install` init containers (`kubeless-contract.md`
//! §6.3–§6.4), built here as plain strings so they can be tested without a cluster.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Where the content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `spec.function` is the file itself.
    Text,
    /// `spec.function` is the file, base64-encoded.
    Base64,
    /// `spec.function` is an `http(s)://` URL to fetch.
    Url,
}

/// How the content is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// A single file.
    None,
    /// A zip archive, unpacked into the install volume.
    Zip,
    /// A compressed tar (gz, bz2, xz), unpacked into the install volume.
    CompressedTar,
}

/// A parsed `function-content-type`, e.g. `base64+zip+deps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType {
    /// Where the content comes from.
    pub source: Source,
    /// How it is packed.
    pub archive: Archive,
    /// The archive carries the dependency file itself (`+deps`).
    pub bundled_deps: bool,
}

/// A Function whose content cannot be prepared; the message is shown in its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// Unknown content type.
    #[error(
        "unsupported function-content-type {0:?} (expected text, base64 or url, optionally +zip or +compressedtar, optionally +deps)"
    )]
    ContentType(String),
    /// Bad checksum.
    #[error("unsupported checksum {0:?} (expected sha256:<64 hex digits>)")]
    Checksum(String),
    /// A URL that is not http(s) or cannot be quoted for the shell.
    #[error(
        "invalid function URL {0:?} (expected an http:// or https:// URL without quotes or spaces)"
    )]
    Url(String),
    /// A file name that cannot be used in the pod.
    #[error("invalid file name {0:?} (handler module names must be plain file names)")]
    FileName(String),
}

impl Default for ContentType {
    fn default() -> Self {
        ContentType {
            source: Source::Text,
            archive: Archive::None,
            bundled_deps: false,
        }
    }
}

impl FromStr for ContentType {
    type Err = ContentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Ok(ContentType::default());
        }
        let bad = || ContentError::ContentType(text.to_owned());
        let mut parts = text.split('+');
        let source = match parts.next() {
            Some("text") => Source::Text,
            Some("base64") => Source::Base64,
            Some("url") => Source::Url,
            _ => return Err(bad()),
        };
        let mut content = ContentType {
            source,
            ..ContentType::default()
        };
        for part in parts {
            match part {
                "zip" if content.archive == Archive::None => content.archive = Archive::Zip,
                "compressedtar" if content.archive == Archive::None => {
                    content.archive = Archive::CompressedTar
                }
                "deps" if !content.bundled_deps => content.bundled_deps = true,
                _ => return Err(bad()),
            }
        }
        Ok(content)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.source {
            Source::Text => "text",
            Source::Base64 => "base64",
            Source::Url => "url",
        })?;
        match self.archive {
            Archive::None => {}
            Archive::Zip => f.write_str("+zip")?,
            Archive::CompressedTar => f.write_str("+compressedtar")?,
        }
        if self.bundled_deps {
            f.write_str("+deps")?;
        }
        Ok(())
    }
}

/// The mount point of the install volume in every container.
pub const INSTALL_VOLUME: &str = "/kubeless";
/// Where the ConfigMap is mounted in the `prepare` container.
pub const SOURCE_MOUNT: &str = "/src";

/// The file name of the function in the ConfigMap and the pod: `<module><suffix>` for a single
/// file, just `<module>` for an archive (upstream's rule).
pub fn file_name(module: &str, suffix: &str, content: ContentType) -> Result<String, ContentError> {
    if module.is_empty()
        || !module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ContentError::FileName(module.to_owned()));
    }
    Ok(match content.archive {
        Archive::None => format!("{module}{suffix}"),
        Archive::Zip | Archive::CompressedTar => module.to_owned(),
    })
}

/// What the `prepare` step needs to know.
#[derive(Debug, Clone)]
pub struct PrepareInput<'a> {
    /// The content type.
    pub content: ContentType,
    /// The file name (see [`file_name`]).
    pub file_name: &'a str,
    /// `spec.function` (the URL for [`Source::Url`]).
    pub function: &'a str,
    /// `spec.checksum`, possibly empty.
    pub checksum: &'a str,
    /// The runtime's dependency file name, when it has one.
    pub dep_file: Option<&'a str>,
}

/// The shell script of the `prepare` init container (run as `sh -c`).
pub fn prepare_script(input: &PrepareInput<'_>) -> Result<String, ContentError> {
    let mut steps = Vec::new();
    let mut source = format!("{SOURCE_MOUNT}/{}", input.file_name);
    match input.content.source {
        Source::Text => {}
        Source::Base64 => {
            steps.push(format!("base64 -d < {source} > /tmp/func.decoded"));
            source = "/tmp/func.decoded".to_owned();
        }
        Source::Url => {
            let url = checked_url(input.function)?;
            steps.push(format!(
                "curl '{url}' -L --silent --fail --output /tmp/func.fromurl"
            ));
            source = "/tmp/func.fromurl".to_owned();
        }
    }
    if let Some(hex) = checksum_hex(input.checksum)? {
        steps.push(format!(
            "echo '{hex}  {source}' > /tmp/func.sha256 && sha256sum -c /tmp/func.sha256"
        ));
    }
    steps.push(match input.content.archive {
        Archive::Zip => format!("unzip -o {source} -d {INSTALL_VOLUME}"),
        Archive::CompressedTar => format!("tar xf {source} -C {INSTALL_VOLUME}"),
        Archive::None => format!("cp {source} {INSTALL_VOLUME}/{}", input.file_name),
    });
    if let Some(dep_file) = input.dep_file.filter(|d| !d.is_empty())
        && !input.content.bundled_deps
    {
        // An empty dependency file is not copied: Node.js refuses to load any module beside
        // an empty `package.json` (upstream copied it; fnhost's pods showed the failure).
        steps.push(format!(
            "if [ -s {SOURCE_MOUNT}/{dep_file} ]; then cp {SOURCE_MOUNT}/{dep_file} {INSTALL_VOLUME}; fi"
        ));
    }
    Ok(steps.join(" && "))
}

/// The shell script of the `install` init container: the runtime's install command, after a
/// check that the dependency file is the one in the Function (when it came from `spec.deps`).
pub fn install_script(command: &str, deps: &str, dep_file: &str) -> String {
    if deps.is_empty() {
        return command.to_owned();
    }
    let hex = sha256_hex(deps.as_bytes());
    format!(
        "echo '{hex}  {INSTALL_VOLUME}/{dep_file}' > /tmp/deps.sha256 && sha256sum -c /tmp/deps.sha256 && {command}"
    )
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn checksum_hex(checksum: &str) -> Result<Option<&str>, ContentError> {
    if checksum.is_empty() {
        return Ok(None);
    }
    match checksum.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(Some(hex))
        }
        _ => Err(ContentError::Checksum(checksum.to_owned())),
    }
}

fn checked_url(url: &str) -> Result<&str, ContentError> {
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    let quotable = !url
        .chars()
        .any(|c| c == '\'' || c.is_whitespace() || c.is_control());
    if scheme_ok && quotable {
        Ok(url)
    } else {
        Err(ContentError::Url(url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "d2519be2e7f6a9e35e1b2d3c4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6";

    #[test]
    fn content_types_parse_and_print_back() {
        for text in [
            "text",
            "base64",
            "url",
            "base64+zip",
            "url+compressedtar",
            "base64+zip+deps",
            "url+deps",
        ] {
            let parsed: ContentType = text.parse().expect(text);
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!("".parse::<ContentType>(), Ok(ContentType::default()));
        for bad in ["zip", "text+zip+zip", "base64+rar", "TEXT", "text+"] {
            assert!(bad.parse::<ContentType>().is_err(), "{bad}");
        }
    }

    #[test]
    fn text_python_matches_upstream() {
        let content = ContentType::default();
        let file = file_name("helloget", ".py", content).expect("name");
        let script = prepare_script(&PrepareInput {
            content,
            file_name: &file,
            function: "def foo(...)",
            checksum: &format!("sha256:{HEX}"),
            dep_file: Some("requirements.txt"),
        })
        .expect("script");
        assert_eq!(
            script,
            format!(
                "echo '{HEX}  /src/helloget.py' > /tmp/func.sha256 && sha256sum -c /tmp/func.sha256 && \
                 cp /src/helloget.py /kubeless/helloget.py && \
                 if [ -s /src/requirements.txt ]; then cp /src/requirements.txt /kubeless; fi"
            )
        );
    }

    #[test]
    fn base64_zip_with_bundled_deps_unpacks_and_skips_the_deps_copy() {
        let content: ContentType = "base64+zip+deps".parse().expect("parses");
        let file = file_name("hellowithdeps", ".py", content).expect("name");
        assert_eq!(file, "hellowithdeps");
        let script = prepare_script(&PrepareInput {
            content,
            file_name: &file,
            function: "UEsDB...",
            checksum: "",
            dep_file: Some("requirements.txt"),
        })
        .expect("script");
        assert_eq!(
            script,
            "base64 -d < /src/hellowithdeps > /tmp/func.decoded && unzip -o /tmp/func.decoded -d /kubeless"
        );
    }

    #[test]
    fn urls_are_fetched_and_must_be_safe_to_quote() {
        let content: ContentType = "url+compressedtar".parse().expect("parses");
        let input = |url| PrepareInput {
            content,
            file_name: "f",
            function: url,
            checksum: "",
            dep_file: None,
        };
        let script = prepare_script(&input("https://example.com/f.tgz")).expect("script");
        assert!(
            script.starts_with("curl 'https://example.com/f.tgz' -L"),
            "{script}"
        );
        assert!(
            script.ends_with("tar xf /tmp/func.fromurl -C /kubeless"),
            "{script}"
        );
        for bad in ["ftp://x/f", "https://x/'; rm -rf /", "https://x/a b"] {
            assert!(
                matches!(prepare_script(&input(bad)), Err(ContentError::Url(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn checksums_other_than_sha256_are_refused() {
        let input = PrepareInput {
            content: ContentType::default(),
            file_name: "f.py",
            function: "x",
            checksum: "md5:abc",
            dep_file: None,
        };
        assert!(matches!(
            prepare_script(&input),
            Err(ContentError::Checksum(_))
        ));
    }

    #[test]
    fn install_checks_the_deps_hash_first() {
        let script = install_script(
            "pip install -r $KUBELESS_DEPS_FILE",
            "bs4\n",
            "requirements.txt",
        );
        let hex = sha256_hex(b"bs4\n");
        assert_eq!(
            script,
            format!(
                "echo '{hex}  /kubeless/requirements.txt' > /tmp/deps.sha256 && sha256sum -c /tmp/deps.sha256 && pip install -r $KUBELESS_DEPS_FILE"
            )
        );
        assert_eq!(install_script("cmd", "", "requirements.txt"), "cmd");
    }

    #[test]
    fn module_names_cannot_escape_the_volume() {
        assert!(file_name("../etc/passwd", ".py", ContentType::default()).is_err());
        assert!(file_name("a b", ".py", ContentType::default()).is_err());
        assert!(file_name("", ".py", ContentType::default()).is_err());
    }
}
