//! Every call's deadline, kept in one place for every engine: the race between the answer
//! and `FUNC_TIMEOUT`, the 408, and the count of calls the engine could not stop.
//!
//! At the deadline the client gets its 408 at once; stopping the call happens after, in a
//! task of its own. An engine that cannot interrupt its call (C code, a Python thread stuck
//! in a system call) gives up its thread and replaces it ([`Stopped::Abandoned`]); such a
//! call is counted here until its code finally returns, and more of them than the function
//! has threads make `/healthz` fail, so that Kubernetes replaces the pod.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use fnhost_loader_api::{Call, InvokeError, InvokeFuture, Response, Stop, Stopped};

/// The calls past their deadline that are still running somewhere.
#[derive(Debug)]
pub struct Overdue {
    abandoned: AtomicUsize,
    tolerated: usize,
}

impl Overdue {
    /// A count that stays healthy up to `tolerated` abandoned calls (the function's threads).
    pub fn new(tolerated: usize) -> Arc<Overdue> {
        Arc::new(Overdue {
            abandoned: AtomicUsize::new(0),
            tolerated: tolerated.max(1),
        })
    }

    /// Calls given up on whose code still runs.
    pub fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// `false` when more calls are abandoned than tolerated.
    pub fn healthy(&self) -> bool {
        self.abandoned() <= self.tolerated
    }

    /// Stops a call past its deadline; an abandoned one is counted until it returns.
    async fn stop(&self, stop: Stop, answer: InvokeFuture) {
        match stop.stop().await {
            Stopped::InPlace => drop(answer),
            Stopped::Abandoned => {
                let abandoned = self.abandoned.fetch_add(1, Ordering::AcqRel) + 1;
                tracing::warn!(
                    abandoned,
                    "a call ran past its deadline and could not be stopped; it is abandoned and \
                     its capacity replaced"
                );
                let _ = answer.await;
                self.abandoned.fetch_sub(1, Ordering::AcqRel);
                tracing::warn!("an abandoned call finally returned");
            }
        }
    }
}

/// The call's answer if it comes by `deadline`; otherwise [`InvokeError::Timeout`] at the
/// deadline, and the engine is asked to stop the call.
pub async fn answer_by(
    call: Call,
    deadline: Instant,
    timeout: Duration,
    overdue: &Arc<Overdue>,
) -> Result<Response, InvokeError> {
    let Call { mut answer, stop } = call;
    tokio::select! {
        biased;
        result = &mut answer => return result,
        () = tokio::time::sleep_until(deadline) => {}
    }
    let overdue = overdue.clone();
    tokio::spawn(async move { overdue.stop(stop, answer).await });
    Err(InvokeError::Timeout(timeout))
}
