//! The runtime images' Dockerfiles, generated from the catalogue so the image a Deployment
//! names, the interpreter fnhost embeds and the install command the init container runs cannot
//! drift apart. `images/<runtime>/Dockerfile` is committed; a test fails when it differs from
//! [`dockerfile`] (run `FNHOST_BLESS=1 cargo test -p fnhost-runtime-config` to rewrite them).
//!
//! Each image is built from the repository root (`docker build -f images/<id>/Dockerfile .`):
//! a build stage compiles `fnhost` with only that runtime's loader, against the image's own
//! interpreter; the runtime stage is the language's slim image plus the binary, `USER 1000`,
//! `CMD ["fnhost"]`. The same image serves the install phase (it has the runtime's package
//! manager), as upstream's Python images did.

use crate::catalogue::{Language, Runtime};

/// The Rust toolchain the images build with (the workspace's `rust-version`).
pub const RUST_VERSION: &str = "1.95";

/// Where the generated Dockerfile of `runtime` lives, relative to the repository root.
pub fn dockerfile_path(runtime: &Runtime) -> String {
    format!("images/{}/Dockerfile", runtime.id())
}

/// The Dockerfile of `runtime`'s image, or `None` for a language fnhost has no loader for yet.
pub fn dockerfile(runtime: &Runtime) -> Option<String> {
    match runtime.language {
        Language::Python => Some(python_dockerfile(runtime)),
        Language::Native => Some(native_dockerfile(runtime)),
        Language::Nodejs => Some(worker_dockerfile(
            runtime,
            &format!(
                "fnhost plus Node.js {}; functions run in Node.js\n# worker processes (the worker shim is embedded in fnhost). Also the install-phase image (npm).",
                runtime.version
            ),
            &format!("node:{}-bookworm-slim", runtime.version),
        )),
        Language::Go => Some(go_dockerfile(runtime)),
        Language::Ruby => Some(worker_dockerfile(
            runtime,
            "fnhost plus Ruby; functions run in Ruby worker\n# processes (the worker shim is embedded in fnhost). Also the install-phase image (bundler).",
            &format!("ruby:{}-slim-bookworm", runtime.version),
        )),
        Language::Java => Some(worker_dockerfile(
            runtime,
            "fnhost plus a JDK and Maven, which the compile phase\n# (`fnhost build java`) uses; functions run in JVM worker processes.",
            &format!("maven:3.9-eclipse-temurin-{}", runtime.version),
        )),
        Language::Js => Some(rust_only_dockerfile(
            runtime,
            &RustOnlyImage {
                about: "fnhost with its embedded JavaScript engine\n# (QuickJS-ng); no Node.js. Dependencies are installed by the nodejs20 image's npm.",
                base: "debian:bookworm-slim",
                extra_copy: "",
                extra_env: "",
            },
        )),
        Language::Wasm => Some(rust_only_dockerfile(
            runtime,
            &RustOnlyImage {
                about: "fnhost with wasmtime: wasi:http components and\n# fnhost Wasm ABI modules, compiled at start and cached in the function volume.",
                base: "debian:bookworm-slim",
                extra_copy: "",
                extra_env: "",
            },
        )),
        Language::Dotnet => Some(worker_dockerfile(
            runtime,
            "fnhost plus Mono (mcs and the runtime), which the\n# compile phase (`fnhost build dotnet`) uses; functions run in Mono worker processes.",
            &format!("mono:{}", runtime.version.trim_start_matches("mono")),
        )),
        Language::Other(_) => None,
    }
}

/// The build stage's `RUN` that compiles `package` with only `feature` and installs `binary` in
/// `/usr/local/bin`. The crate registry and the target folder are BuildKit cache mounts shared by
/// every image (`sharing=locked`: one cargo at a time), so a rebuild compiles only what changed.
/// The image's binary carries no debug information (the workspace's release profile keeps line
/// tables for local profiling; in an image they made the Wasm runtime's binary 151 MB instead
/// of 35 MB, the others 22 MB instead of 5 MB); its symbols stay, so a panic still names its
/// functions.
pub fn cargo_build(package: &str, feature: &str, binary: &str) -> String {
    let features = if feature.is_empty() {
        String::new()
    } else {
        format!(" --no-default-features --features {feature}")
    };
    format!(
        "RUN --mount=type=cache,id=fnhost-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \\
    --mount=type=cache,id=fnhost-cargo-target,target=/src/target,sharing=locked \\
    CARGO_PROFILE_RELEASE_DEBUG=none CARGO_PROFILE_RELEASE_STRIP=debuginfo \\
    cargo build --release --locked -p {package}{features} \\
 && cp target/release/{binary} /usr/local/bin/{binary}
"
    )
}

/// How every runtime stage ends: the pod's defaults, user 1000, `CMD ["fnhost"]`.
const RUNTIME_STAGE_TAIL: &str = "    KUBELESS_INSTALL_VOLUME=/kubeless \\
    FUNC_PORT=8080
USER 1000
WORKDIR /kubeless
EXPOSE 8080
CMD [\"fnhost\"]
";

fn python_dockerfile(runtime: &Runtime) -> String {
    let v = &runtime.version;
    let base = format!("python:{v}-slim-bookworm");
    format!(
        r#"# Generated from the runtime catalogue by runtime-config/src/images.rs: do not edit.
# fnhost runtime image for {id} ({image}).
# Build from the repository root, with BuildKit (the cargo caches are cache mounts):
#   DOCKER_BUILDKIT=1 docker build -f images/{id}/Dockerfile -t {image} .

FROM rust:{RUST_VERSION}-slim-bookworm AS toolchain

# fnhost is built against this image's own libpython, with the Rust toolchain copied in.
FROM {base} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=toolchain /usr/local/rustup /usr/local/rustup
COPY --from=toolchain /usr/local/cargo /usr/local/cargo
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:$PATH \
    PYO3_PYTHON=/usr/local/bin/python{v}
WORKDIR /src
COPY . .
{cargo_build}
FROM {base}
COPY --from=build /usr/local/bin/fnhost /usr/local/bin/fnhost
ENV PYTHONUNBUFFERED=1 \
{tail}"#,
        id = runtime.id(),
        image = runtime.image,
        cargo_build = cargo_build("fnhost-proxy", "python", "fnhost"),
        tail = RUNTIME_STAGE_TAIL,
    )
}

/// A worker language's image: fnhost over the language's own official image.
fn worker_dockerfile(runtime: &Runtime, about: &str, base: &str) -> String {
    rust_only_dockerfile(
        runtime,
        &RustOnlyImage {
            about,
            base,
            extra_copy: "",
            extra_env: "",
        },
    )
}

fn go_dockerfile(runtime: &Runtime) -> String {
    let v = &runtime.version;
    rust_only_dockerfile(
        runtime,
        &RustOnlyImage {
            about: &format!(
                "fnhost plus the Go {v} toolchain, which the compile\n# phase (`fnhost build go`) uses to build the function with fnhost's worker shim."
            ),
            base: &format!("golang:{v}-bookworm"),
            extra_copy: "",
            extra_env: "GOTOOLCHAIN=local \\\n    ",
        },
    )
}

fn native_dockerfile(runtime: &Runtime) -> String {
    rust_only_dockerfile(
        runtime,
        &RustOnlyImage {
            about: "functions are shared objects built against\n# loaders/native/include/fnhost_native.h (copied to /usr/local/include for derived images).",
            base: "debian:bookworm-slim",
            extra_copy: "COPY loaders/native/include/fnhost_native.h /usr/local/include/fnhost_native.h\n",
            extra_env: "",
        },
    )
}

/// What sets apart the images whose fnhost needs nothing but Rust to build.
struct RustOnlyImage<'a> {
    /// The header comment after `<id> (<image>): `.
    about: &'a str,
    /// The runtime stage's base image.
    base: &'a str,
    /// Lines after the binary's COPY.
    extra_copy: &'a str,
    /// Environment before the shared tail.
    extra_env: &'a str,
}

/// A build stage compiling fnhost with only the runtime's loader, and a runtime stage on
/// `image.base` ending like every runtime image.
fn rust_only_dockerfile(runtime: &Runtime, image: &RustOnlyImage<'_>) -> String {
    format!(
        "# Generated from the runtime catalogue by runtime-config/src/images.rs: do not edit.
# fnhost runtime image for {id} ({tag}): {about}
# Build from the repository root, with BuildKit (the cargo caches are cache mounts):
#   DOCKER_BUILDKIT=1 docker build -f images/{id}/Dockerfile -t {tag} .

FROM rust:{RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY . .
{cargo_build}
FROM {base}
COPY --from=build /usr/local/bin/fnhost /usr/local/bin/fnhost
{extra_copy}ENV {extra_env}{tail}",
        id = runtime.id(),
        tag = runtime.image,
        about = image.about,
        cargo_build = cargo_build("fnhost-proxy", runtime.language.id(), "fnhost"),
        base = image.base,
        extra_copy = image.extra_copy,
        extra_env = image.extra_env,
        tail = RUNTIME_STAGE_TAIL.trim_start(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Catalogue, Language};

    fn repository_root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The committed Dockerfiles are what the catalogue generates; `FNHOST_BLESS=1` rewrites them.
    #[test]
    fn committed_dockerfiles_match_the_catalogue() {
        let bless = std::env::var_os("FNHOST_BLESS").is_some();
        let mut stale = Vec::new();
        for runtime in Catalogue::builtin().runtimes() {
            let Some(expected) = dockerfile(runtime) else {
                continue;
            };
            let path = repository_root().join(dockerfile_path(runtime));
            if bless {
                std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
                std::fs::write(&path, &expected).expect("write");
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "stale Dockerfiles {stale:?}: run FNHOST_BLESS=1 cargo test -p fnhost-runtime-config"
        );
    }

    /// What every runtime image must be, read off the Dockerfile text.
    #[test]
    fn images_run_fnhost_as_user_1000_with_only_their_loader() {
        for runtime in Catalogue::builtin().runtimes() {
            let Some(text) = dockerfile(runtime) else {
                continue;
            };
            let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
            assert!(stages >= 2, "{}: multi-stage", runtime.id());
            let last_user = text
                .lines()
                .rev()
                .find(|l| l.starts_with("USER "))
                .expect("USER");
            assert_eq!(last_user, "USER 1000");
            assert_eq!(text.lines().last(), Some(r#"CMD ["fnhost"]"#));
            let loader = runtime.language.id();
            assert!(
                text.contains(&format!("--no-default-features --features {loader}")),
                "only this runtime's loader"
            );
        }
    }

    /// Python images embed their own interpreter and also serve the install phase.
    #[test]
    fn python_images_embed_the_catalogue_interpreter() {
        for runtime in Catalogue::builtin()
            .runtimes()
            .iter()
            .filter(|r| r.language == Language::Python)
        {
            let text = dockerfile(runtime).expect("a Dockerfile");
            assert!(text.contains(&format!(
                "PYO3_PYTHON=/usr/local/bin/python{}",
                runtime.version
            )));
            let install = runtime.install.as_ref().expect("install phase");
            assert_eq!(
                install.image, runtime.image,
                "the runtime image also serves the install phase"
            );
            assert!(
                install
                    .command
                    .starts_with(&format!("python{} -m pip", runtime.version))
            );
        }
    }
}
