//! fnhost's runtime catalogue and configuration: the one place every knob is read.
//!
//! This crate is a leaf: it depends on nothing else in the workspace, so the proxy, the
//! local runner, the reconciler and the image generator all share one source of truth.
//!
//! # Layout
//!
//! - [`catalogue`]: the runtimes fnhost serves (Python, Node.js, Go, Ruby, Java, C#, JavaScript,
//!   WebAssembly, native) with their install/compile phases, dependency file and file suffix.
//! - [`runtime_images`]: reads and writes the upstream Kubeless `runtime-images` JSON shape,
//!   so an existing `kubeless-config` ConfigMap keeps working.
//! - [`env`]: the [`env::Env`] trait through which the process environment is read, so tests
//!   inject a map instead of mutating the real environment.
//! - [`settings`]: every key the proxy reads (Kubeless `FUNC_*`, `MOD_NAME`, fnhost's own
//!   `FNHOST_*`), resolved with one precedence rule (flag, then environment, then default),
//!   with all problems collected before failing.
//! - [`unknown_keys`]: what an unknown `FNHOST_*` variable means (a typo, a Kubernetes
//!   service link, or someone else's variable).
//! - [`expand`]: Kubernetes-style `$(VAR)` expansion used for runtime-phase environment values.
//! - [`images`]: the runtime images' Dockerfiles, generated from the catalogue.
#![deny(missing_docs)]

pub mod catalogue;
pub mod env;
pub mod expand;
pub mod images;
pub mod runtime_images;
pub mod settings;
pub mod unknown_keys;

pub use catalogue::{Catalogue, Language, Phase, Runtime};
pub use env::{Env, MapEnv, ProcessEnv};
pub use settings::{ConfigError, Mode, Overrides, Settings};
