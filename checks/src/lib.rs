//! Checks of the repository itself, run as tests (`checks/tests/layout.rs`): what a reviewer
//! would otherwise have to remember.
//!
//! # Layout
//!
//! - [`repo`]: finding the repository's crates and source files.
//! - [`modules`]: the `crate::` references between a crate's top-level modules, and the
//!   circles among them.
//! - [`paths`]: the file paths a Markdown page names.

pub mod modules;
pub mod paths;
pub mod repo;
