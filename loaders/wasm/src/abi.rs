//! fnhost Wasm ABI 1 (`docs/wasm-abi.md`): core modules with Kubeless-shaped handlers.
//!
//! The module exports `memory`, `fnhost_abi_version() -> i32` (1) and the handler
//! `() -> i32`; it reads the request and builds its answer through the `fnhost` imports,
//! which copy in and out of its memory, so the guest needs no allocator protocol. WASI
//! preview 1 is linked too (stdout, stderr, clocks, random; no files, no network).

use std::sync::Arc;

use fnhost_loader_api::{BuiltResponse, Invocation, InvokeError, Response};
use wasmtime::{Caller, Engine, Extern, ExternType, InstancePre, Linker, Module, ValType};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::engine;

/// The version of the ABI this loader speaks.
pub const ABI_VERSION: i32 = 1;

/// The Kubeless context every call sees (the function's one context, as text).
#[derive(Debug)]
pub struct Context {
    /// `function-name`: the handler's name.
    pub function_name: String,
    /// `FUNC_RUNTIME`.
    pub runtime: String,
    /// `FUNC_MEMORY_LIMIT` as given.
    pub memory_limit: String,
    /// `FUNC_TIMEOUT` in seconds, as text.
    pub timeout: String,
}

/// The store data of one call: WASI, the request, and the answer being built.
pub struct AbiState {
    wasi: WasiP1Ctx,
    call: Call,
}

struct Call {
    invocation: Invocation,
    context: Arc<Context>,
    built: BuiltResponse,
}

fn event(value: &Option<String>) -> &[u8] {
    value.as_deref().unwrap_or("").as_bytes()
}

impl Call {
    /// Field `n` of the ABI's request-field table.
    fn field(&self, n: u32) -> Option<&[u8]> {
        let inv = &self.invocation;
        Some(match n {
            0 => inv.method.as_str().as_bytes(),
            1 => inv.path().as_bytes(),
            2 => inv.query().as_bytes(),
            3 => &inv.body,
            4 => event(&inv.event.id),
            5 => event(&inv.event.event_type),
            6 => event(&inv.event.time),
            7 => event(&inv.event.namespace),
            8 => self.context.function_name.as_bytes(),
            9 => self.context.runtime.as_bytes(),
            10 => self.context.memory_limit.as_bytes(),
            11 => self.context.timeout.as_bytes(),
            _ => return None,
        })
    }

    fn header(&self, index: u32, value: bool) -> Option<&[u8]> {
        let (name, v) = self.invocation.headers.iter().nth(index as usize)?;
        Some(if value {
            v.as_bytes()
        } else {
            name.as_str().as_bytes()
        })
    }
}

/// A pre-linked core module and its handler.
pub struct AbiGuest {
    pre: InstancePre<AbiState>,
    handler: String,
    initialize: bool,
    context: Arc<Context>,
    env: Arc<[(String, String)]>,
}

/// Why a module cannot serve as a Kubeless handler.
#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    /// The handler export is missing or has the wrong type.
    #[error("{0}")]
    Handler(String),
    /// Something else about the module (exports, imports, version).
    #[error("{0}")]
    Module(String),
}

impl AbiGuest {
    /// Links the module; checks its exports before anything runs.
    pub fn link(
        engine: &Engine,
        module: &Module,
        handler: &str,
        context: Arc<Context>,
        env: Arc<[(String, String)]>,
    ) -> Result<AbiGuest, AbiError> {
        check_exports(module, handler)?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut AbiState| &mut s.wasi)
            .and_then(|()| add_fnhost_imports(&mut linker))
            .map_err(|e| AbiError::Module(format!("cannot link fnhost's imports: {e:#}")))?;
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| AbiError::Module(format!("{e:#}")))?;
        Ok(AbiGuest {
            pre,
            handler: handler.to_owned(),
            initialize: module.get_export("_initialize").is_some(),
            context,
            env,
        })
    }

    /// Instantiates the module once and asks its ABI version, before the server is ready.
    pub async fn check(&self, probe: Invocation) -> Result<(), AbiError> {
        let mut store = self.store(probe);
        let instance = self
            .instantiate(&mut store)
            .await
            .map_err(|e| AbiError::Module(format!("{e:#}")))?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, "fnhost_abi_version")
            .map_err(|e| AbiError::Module(format!("{e:#}")))?
            .call_async(&mut store, ())
            .await
            .map_err(|e| AbiError::Module(format!("fnhost_abi_version failed: {e:#}")))?;
        if version != ABI_VERSION {
            return Err(AbiError::Module(format!(
                "the module speaks fnhost Wasm ABI {version}; this fnhost speaks {ABI_VERSION}"
            )));
        }
        Ok(())
    }

    fn store(&self, invocation: Invocation) -> wasmtime::Store<AbiState> {
        let deadline = invocation.deadline;
        let wasi = WasiCtxBuilder::new()
            .inherit_stdout()
            .inherit_stderr()
            .envs(&self.env)
            .build_p1();
        let call = Call {
            invocation,
            context: self.context.clone(),
            built: BuiltResponse::default(),
        };
        engine::store(
            self.pre.module().engine(),
            AbiState { wasi, call },
            deadline,
        )
    }

    async fn instantiate(
        &self,
        store: &mut wasmtime::Store<AbiState>,
    ) -> wasmtime::Result<wasmtime::Instance> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        if self.initialize {
            instance
                .get_typed_func::<(), ()>(&mut *store, "_initialize")?
                .call_async(&mut *store, ())
                .await?;
        }
        Ok(instance)
    }

    /// Runs one call; the caller bounds it by the deadline.
    pub async fn call(&self, invocation: Invocation) -> Result<Response, InvokeError> {
        let mut store = self.store(invocation);
        let code = async {
            let instance = self.instantiate(&mut store).await?;
            let handler = instance.get_typed_func::<(), i32>(&mut store, &self.handler)?;
            handler.call_async(&mut store, ()).await
        }
        .await
        .map_err(|e| crate::guest_error(&e))?;
        store.into_data().call.built.finish(
            &self.context.function_name,
            code,
            "no message (fnhost.set_error)",
        )
    }
}

/// `memory`, `fnhost_abi_version` and the handler must be exported with the ABI's types.
fn check_exports(module: &Module, handler: &str) -> Result<(), AbiError> {
    let func_type = |name: &str| match module.get_export(name) {
        Some(ExternType::Func(f)) => Some(f),
        _ => None,
    };
    let is_void_to_i32 = |f: &wasmtime::FuncType| {
        f.params().len() == 0 && f.results().map(|r| matches!(r, ValType::I32)).eq([true])
    };
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        return Err(AbiError::Module(
            "the module does not export its memory as `memory`".to_owned(),
        ));
    }
    if !func_type("fnhost_abi_version").is_some_and(|f| is_void_to_i32(&f)) {
        return Err(AbiError::Module(
            "the module does not export `fnhost_abi_version: () -> i32`: it is not built for the fnhost Wasm ABI (docs/wasm-abi.md)".to_owned(),
        ));
    }
    match func_type(handler) {
        Some(f) if is_void_to_i32(&f) => Ok(()),
        Some(f) => Err(AbiError::Handler(format!(
            "export {handler} has type {f}, a handler must be () -> i32"
        ))),
        None => {
            let exported: Vec<&str> = module
                .exports()
                .filter(|e| matches!(e.ty(), ExternType::Func(_)))
                .map(|e| e.name())
                .filter(|n| !n.starts_with('_') && *n != "fnhost_abi_version")
                .collect();
            Err(AbiError::Handler(format!(
                "the module exports no function {handler:?} (it exports: {})",
                exported.join(", ")
            )))
        }
    }
}

/// The guest's memory, or a trap naming the import that needed it.
fn memory(caller: &mut Caller<'_, AbiState>, import: &str) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("fnhost.{import}: the module exports no memory"),
    }
}

/// The guest's bytes at `ptr..ptr+len`, or a trap naming the import.
fn guest_range(
    data: &[u8],
    ptr: u32,
    len: u32,
    import: &str,
) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = ptr as usize;
    let end = start.saturating_add(len as usize);
    if end > data.len() {
        wasmtime::bail!(
            "fnhost.{import}: bytes {start}..{end} are outside the module's memory ({} bytes)",
            data.len()
        );
    }
    Ok(start..end)
}

/// Copies `value` (or what fits in `cap`) to the guest; returns its whole length, or -1 when
/// there is no such value.
fn copy_out(
    caller: &mut Caller<'_, AbiState>,
    import: &str,
    buf: u32,
    cap: u32,
    pick: impl Fn(&Call) -> Option<&[u8]>,
) -> wasmtime::Result<i32> {
    let memory = memory(caller, import)?;
    let (data, state) = memory.data_and_store_mut(caller);
    let Some(value) = pick(&state.call) else {
        return Ok(-1);
    };
    let n = value.len().min(cap as usize);
    let range = guest_range(data, buf, u32::try_from(n).unwrap_or(u32::MAX), import)?;
    data[range].copy_from_slice(&value[..n]);
    i32::try_from(value.len())
        .map_err(|_| wasmtime::format_err!("fnhost.{import}: value over 2 GiB"))
}

/// Reads guest bytes for an import that takes `(ptr, len)`.
fn copy_in(
    caller: &mut Caller<'_, AbiState>,
    import: &str,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<Vec<u8>> {
    let memory = memory(caller, import)?;
    let data = memory.data(&*caller);
    let range = guest_range(data, ptr, len, import)?;
    Ok(data[range].to_vec())
}

/// The `fnhost` import module.
fn add_fnhost_imports(linker: &mut Linker<AbiState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "fnhost",
        "request_field",
        |mut c: Caller<'_, AbiState>, field: u32, buf: u32, cap: u32| {
            copy_out(&mut c, "request_field", buf, cap, |call| call.field(field))
        },
    )?;
    linker.func_wrap("fnhost", "header_count", |c: Caller<'_, AbiState>| {
        i32::try_from(c.data().call.invocation.headers.len()).unwrap_or(i32::MAX)
    })?;
    linker.func_wrap(
        "fnhost",
        "header_name",
        |mut c: Caller<'_, AbiState>, index: u32, buf: u32, cap: u32| {
            copy_out(&mut c, "header_name", buf, cap, |call| {
                call.header(index, false)
            })
        },
    )?;
    linker.func_wrap(
        "fnhost",
        "header_value",
        |mut c: Caller<'_, AbiState>, index: u32, buf: u32, cap: u32| {
            copy_out(&mut c, "header_value", buf, cap, |call| {
                call.header(index, true)
            })
        },
    )?;
    linker.func_wrap(
        "fnhost",
        "set_status",
        |mut c: Caller<'_, AbiState>, status: u32| {
            c.data_mut().call.built.status = Some(status);
        },
    )?;
    linker.func_wrap(
        "fnhost",
        "add_header",
        |mut c: Caller<'_, AbiState>, name: u32, name_len: u32, value: u32, value_len: u32| {
            let name = copy_in(&mut c, "add_header", name, name_len)?;
            let value = copy_in(&mut c, "add_header", value, value_len)?;
            c.data_mut().call.built.headers.push((name, value));
            Ok(())
        },
    )?;
    linker.func_wrap(
        "fnhost",
        "write_body",
        |mut c: Caller<'_, AbiState>, ptr: u32, len: u32| {
            let memory = memory(&mut c, "write_body")?;
            let (data, state) = memory.data_and_store_mut(&mut c);
            let range = guest_range(data, ptr, len, "write_body")?;
            state.call.built.body.extend_from_slice(&data[range]);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "fnhost",
        "set_error",
        |mut c: Caller<'_, AbiState>, ptr: u32, len: u32| {
            let message = copy_in(&mut c, "set_error", ptr, len)?;
            c.data_mut().call.built.error = Some(String::from_utf8_lossy(&message).into_owned());
            Ok(())
        },
    )?;
    Ok(())
}
