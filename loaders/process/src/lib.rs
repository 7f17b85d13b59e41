//! The worker-process loader: Node.js, Ruby, Go, Java and C# functions run in long-lived worker
//! processes, each language through a shim in that language that loads the Kubeless function
//! unchanged and speaks fnhost's worker protocol. The protocol, the worker processes and their
//! pool live in `fnhost-workers` (shared with the native loader); this crate holds what is
//! per language: the shims, their environment and the compile phases.
//!
//! # Layout
//!
//! - [`shim`]: what the interpreted languages' loaders share (shim files, environment).
//! - [`build`]: what the compiled languages' compile phases share (errors, toolchain runs).
//! - [`nodejs`]: Node.js functions in workers running fnhost's shim (`shims/nodejs-worker.js`).
//! - [`ruby`]: Ruby functions in workers running fnhost's shim (`shims/ruby-worker.rb`).
//! - [`golang`]: Go functions, compiled with fnhost's worker shim (`shims/go/`).
//! - [`java`]: Java functions, compiled with fnhost's `io.kubeless` classes (`shims/java/`).
//! - [`dotnet`]: C# functions on Mono, compiled with fnhost's worker (`shims/dotnet/`).

pub mod build;
pub mod dotnet;
pub mod golang;
pub mod java;
pub mod nodejs;
pub mod ruby;
pub mod shim;

pub use build::BuildError;
pub use dotnet::DotnetLoader;
pub use golang::GoLoader;
pub use java::JavaLoader;
pub use nodejs::NodeLoader;
pub use ruby::RubyLoader;
