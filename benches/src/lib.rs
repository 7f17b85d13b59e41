//! fnhost's load benchmark driver, as a library the `fnhost-load` binary puts together.
//!
//! A **target** is a real server process (fnhost serving a Python function, the bare hyper
//! ceiling, Granian serving the same function as a WSGI app, ...). For each target the driver
//! measures, in interleaved rounds so that machine noise hits every target alike:
//!
//! - **cold start**: process spawn to the first `200` on `/` ([`probe`]);
//! - **idle RSS**: resident memory of the whole process tree after start ([`procfs`]);
//! - **throughput and latency** under `wrk` with keep-alive connections ([`wrk`]);
//! - **CPU per request**: CPU time of the process tree during the `wrk` run divided by the
//!   requests served; the fairest figure here because the load generator shares the cores.
//!
//! [`measure`] runs one round of one target. [`report`] turns the rounds into medians and a Markdown table. [`calls`] serves the micro
//! benchmarks, which call a loaded function without HTTP.

pub mod args;
pub mod calls;
pub mod measure;
pub mod probe;
pub mod procfs;
pub mod report;
pub mod target;
pub mod wrk;
