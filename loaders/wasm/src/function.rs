//! A loaded Wasm function: at most `FNHOST_THREADS` calls at once (one pool slot each), each
//! trapping at its deadline's epoch tick; a call's future owns its slot and store, so it
//! frees them however it ends (the proxy drops it at the deadline).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fnhost_loader_api::{
    Call, Counted, EngineStats, Function, FunctionSpec, Invocation, InvokeError, Response, Stop,
};
use tokio::sync::Semaphore;

use crate::abi::AbiGuest;
use crate::http::HttpGuest;

/// The two kinds of guest.
pub enum Guest {
    /// A wasi:http component.
    Http(HttpGuest),
    /// A core module with fnhost Wasm ABI handlers.
    Abi(AbiGuest),
}

impl Guest {
    async fn call(&self, invocation: Invocation) -> Result<Response, InvokeError> {
        match self {
            Guest::Http(guest) => guest.call(invocation).await,
            Guest::Abi(guest) => guest.call(invocation).await,
        }
    }
}

/// Calls waiting for a slot and calls running.
#[derive(Debug, Default)]
struct Load {
    queued: AtomicUsize,
    running: AtomicUsize,
}

/// A function served by wasmtime.
pub struct WasmFunction {
    guest: Arc<Guest>,
    slots: Arc<Semaphore>,
    load: Arc<Load>,
    timeout: std::time::Duration,
    instances: u32,
}

impl WasmFunction {
    /// Serves `guest` with `instances` calls at once.
    pub fn new(guest: Guest, spec: &FunctionSpec, instances: u32) -> Self {
        WasmFunction {
            guest: Arc::new(guest),
            slots: Arc::new(Semaphore::new(instances as usize)),
            load: Arc::default(),
            timeout: spec.timeout,
            instances,
        }
    }

    /// `wasi:http component` or `fnhost Wasm ABI 1 module`, for logs.
    pub fn kind_name(&self) -> &'static str {
        match *self.guest {
            Guest::Http(_) => "a wasi:http component",
            Guest::Abi(_) => "an fnhost Wasm ABI 1 module",
        }
    }
}

impl Function for WasmFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        let (guest, slots, load) = (self.guest.clone(), self.slots.clone(), self.load.clone());
        let timeout = self.timeout;
        // The epoch deadline stops a guest running wasm code exactly on time; a guest waiting
        // in a host call (a WASI sleep) or for a slot is stopped by the proxy dropping this
        // future at the deadline. Everything the call holds (its slot, its store) is owned by
        // the future, so dropping it at any point gives them back.
        let answer = async move {
            let queued = Counted::new(&load.queued);
            let slot = slots
                .acquire_owned()
                .await
                .map_err(|_| InvokeError::Unavailable("the function is closed".to_owned()))?;
            drop(queued);
            if !invocation.start.begin() {
                return Err(InvokeError::ClientGone);
            }
            let _running = Counted::new(&load.running);
            let outcome = guest.call(invocation).await;
            drop(slot);
            outcome.map_err(|e| match e {
                InvokeError::Timeout(_) => InvokeError::Timeout(timeout),
                other => other,
            })
        };
        Call::new(Box::pin(answer), Stop::by_dropping_the_answer())
    }

    fn describe(&self) -> String {
        format!(
            "wasmtime ({}, {} instances)",
            self.kind_name(),
            self.instances
        )
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            queued: self.load.queued.load(Ordering::Relaxed),
            running: self.load.running.load(Ordering::Relaxed),
        }
    }
}
