//! The worker-process loader: functions run in long-lived worker processes that speak fnhost's
//! framed worker protocol (`protocol`, specified in `docs/worker-protocol.md`) over a Unix
//! socket, never over their stdout. A timed-out call's worker is killed and replaced; a
//! crashed worker fails its call with a clear 500 and is replaced; the proxy keeps serving.
//!
//! # Layout
//!
//! - [`protocol`]: frames and their JSON headers.
//! - [`worker`]: one worker process and the task routing its results.
//! - [`pool`]: the worker slots, leases, replacement with backoff.
//! - [`function`]: [`ProcessFunction`], the [`fnhost_loader_api::Function`] over a pool.
//! - [`shim`]: what the interpreted languages' loaders share (shim files, environment).
//! - [`build`]: what the compiled languages' compile phases share (errors, toolchain runs).
//! - [`nodejs`]: Node.js functions in workers running fnhost's shim (`shims/nodejs-worker.js`).
//! - [`ruby`]: Ruby functions in workers running fnhost's shim (`shims/ruby-worker.rb`).
//! - [`golang`]: Go functions, compiled with fnhost's worker shim (`shims/go/`).
//! - [`java`]: Java functions, compiled with fnhost's `io.kubeless` classes (`shims/java/`).
//! - [`dotnet`]: C# functions on Mono, compiled with fnhost's worker (`shims/dotnet/`).

pub mod build;
pub mod dotnet;
pub mod function;
pub mod golang;
pub mod java;
pub mod nodejs;
pub mod pool;
pub mod protocol;
pub mod ruby;
pub mod shim;
pub mod worker;

pub use build::BuildError;
pub use dotnet::DotnetLoader;
pub use function::ProcessFunction;
pub use golang::GoLoader;
pub use java::JavaLoader;
pub use nodejs::NodeLoader;
pub use ruby::RubyLoader;
pub use worker::WorkerCommand;
