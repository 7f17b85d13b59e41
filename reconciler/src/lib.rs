//! `fnhost-reconciler`: the cluster side of fnhost. It watches `kubeless.io/v1beta1` Function
//! objects (as `kubeless function deploy` writes them) and keeps a ConfigMap, a Deployment on
//! the fnhost runtime image, a Service and an autoscaler in sync with each
//! (`kubeless-contract.md` §6).
//!
//! # Layout
//!
//! - [`crd`]: the custom resource types; the CRD manifests are generated from them.
//! - [`content`]: content types and the shell steps of the `prepare`/`install` init containers.
//! - [`objects`]: pure functions from a Function to the JSON of its child objects.

pub mod content;
pub mod crd;
pub mod objects;
