//! `fnhost-dispatcher`: runs the message triggers (`docs/design/004-message-triggers.md`).
//! For every (trigger, selected function) pair it runs one consumer of the trigger's broker
//! and delivers each message to the function through `fnhost-delivery`, at least once.
//!
//! # Layout
//!
//! - [`options`]: fnhost's per-trigger options, read from the trigger's annotations.
//! - [`plan`]: which pairs the triggers and functions make (pure).
//! - [`routes`]: triggers and function URLs from a file, to run without Kubernetes.
//! - [`cluster`]: triggers, Functions and Secrets from the Kubernetes API, watched.
//! - [`checkpoints`]: Kinesis checkpoints in a ConfigMap, in a cluster.
//! - [`supervisor`]: keeps one task per pair running, restarts it after a failure, and
//!   replaces it when its trigger or function changes.
//! - [`manifest`]: its RBAC and Deployment (`manifests/message-triggers.yaml`).
//! - [`observe`]: `/metrics`, `/healthz` and `/readyz`.
//! - [`settings`]: the command line and the environment, read in one place.

pub mod checkpoints;
pub mod cluster;
pub mod manifest;
pub mod observe;
pub mod options;
pub mod plan;
pub mod routes;
pub mod settings;
pub mod supervisor;
