//! The [`Engine`] on QuickJS-ng through `rquickjs`: a `Runtime` and a full `Context` per
//! isolate; the interrupt handler stops a script once the call's [`Deadline`] has passed
//! (QuickJS polls it every few thousand bytecodes, so `while (true) {}` stops too).

use std::io::Write;
use std::sync::Arc;

use rquickjs::{Context, Ctx, Function, Object, Runtime};

use crate::engine::{Deadline, Engine, EngineError};

/// QuickJS-ng: one runtime and its context.
pub struct QuickJs {
    runtime: Runtime,
    context: Context,
    deadline: Arc<Deadline>,
}

impl Engine for QuickJs {
    const NAME: &'static str = "quickjs";

    fn new(memory_limit: Option<usize>, deadline: Arc<Deadline>) -> Result<Self, EngineError> {
        let broken = |e: rquickjs::Error| EngineError::Broken(e.to_string());
        let runtime = Runtime::new().map_err(broken)?;
        if let Some(limit) = memory_limit {
            runtime.set_memory_limit(limit);
        }
        runtime.set_max_stack_size(1024 * 1024);
        let check = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || check.expired())));
        let context = Context::full(&runtime).map_err(broken)?;
        context.with(|ctx| install_host(&ctx)).map_err(broken)?;
        Ok(QuickJs {
            runtime,
            context,
            deadline,
        })
    }

    fn eval(&mut self, _name: &str, source: &str) -> Result<(), EngineError> {
        let deadline = &self.deadline;
        self.context.with(|ctx| {
            ctx.eval::<(), _>(source)
                .map_err(|e| thrown(&ctx, &e, deadline))
        })
    }

    fn call(&mut self, function: &str, text: &str, now_ms: f64) -> Result<String, EngineError> {
        let deadline = &self.deadline;
        self.context.with(|ctx| {
            let f: Function = ctx
                .globals()
                .get(function)
                .map_err(|e| thrown(&ctx, &e, deadline))?;
            f.call::<_, String>((text, now_ms))
                .map_err(|e| thrown(&ctx, &e, deadline))
        })
    }

    fn run_jobs(&mut self) -> Result<bool, EngineError> {
        let mut ran = false;
        loop {
            match self.runtime.execute_pending_job() {
                Ok(true) => ran = true,
                Ok(false) => return Ok(ran),
                Err(_) if self.deadline.expired() => return Err(EngineError::Interrupted),
                // A job that threw has already rejected its promise; `runtime.js` settles the
                // call from the rejection. Keep running the rest.
                Err(_) => ran = true,
            }
        }
    }
}

/// `__fnhost_host.readFile(path)` (a string, or `undefined` when it cannot be read) and
/// `__fnhost_host.print(stream, text)` (1 stdout, 2 stderr; written at once).
fn install_host(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    let host = Object::new(ctx.clone())?;
    host.set(
        "readFile",
        Function::new(ctx.clone(), |path: String| {
            std::fs::read_to_string(path).ok()
        })?,
    )?;
    host.set(
        "print",
        Function::new(ctx.clone(), |stream: i32, text: String| {
            let _ = if stream == 2 {
                std::io::stderr().lock().write_all(text.as_bytes())
            } else {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            };
        })?,
    )?;
    ctx.globals().set("__fnhost_host", host)
}

/// The pending exception as text (message and stack), or [`EngineError::Interrupted`] when
/// the deadline stopped the script.
fn thrown(ctx: &Ctx<'_>, error: &rquickjs::Error, deadline: &Deadline) -> EngineError {
    if !matches!(error, rquickjs::Error::Exception) {
        return EngineError::Broken(error.to_string());
    }
    let value = ctx.catch();
    if deadline.expired() {
        return EngineError::Interrupted;
    }
    let text = value
        .as_object()
        .map(|o| {
            let message: String = o.get("message").unwrap_or_default();
            let stack: String = o.get("stack").unwrap_or_default();
            format!("{message}\n{stack}")
        })
        .or_else(|| value.as_string().and_then(|s| s.to_string().ok()))
        .unwrap_or_else(|| format!("{value:?}"));
    EngineError::Threw(text.trim().to_owned())
}
