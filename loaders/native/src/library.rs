//! Opening a function's shared object and checking it speaks this ABI.
#![allow(unsafe_code, reason = "dlopen and symbol lookup")]

use std::path::Path;
use std::sync::Arc;

use fnhost_loader_api::{FunctionSpec, LoadError};
use libloading::Library;

use crate::abi::{ABI_VERSION, AbiVersionFn, HandlerFn, InitFn};

/// A loaded function library and its handler.
pub struct Loaded {
    /// Kept open for as long as the handler may be called: every calling thread holds a
    /// clone, so a thread stuck in an abandoned call never runs unmapped code.
    pub library: Arc<Library>,
    /// The handler symbol.
    pub handler: HandlerFn,
}

/// `<dir>/<module>.so`.
pub fn library_path(spec: &FunctionSpec) -> std::path::PathBuf {
    spec.dir.join(format!("{}.so", spec.module))
}

fn load_error(spec: &FunctionSpec, detail: String) -> LoadError {
    LoadError::ImportFailed {
        module: spec.module.clone(),
        handler: spec.handler.clone(),
        detail,
    }
}

unsafe extern "C" {
    /// The C library's standard output stream (glibc and musl export it by this name).
    static mut stdout: *mut libc::FILE;
}

/// Makes C's `stdout` line-buffered, once, before any function library is loaded: a
/// function's `printf` then reaches the container log line by line, as Python's `print`
/// does with `PYTHONUNBUFFERED`, instead of in 4 KiB blocks when stdout is a pipe.
fn line_buffer_c_stdout() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `stdout` is the C library's own stream, valid for the life of the process.
        // fnhost itself writes through Rust's std, never through C stdio, and no function
        // library is loaded yet, so nothing has used the stream: setvbuf's precondition
        // (called before any other operation on the stream) holds. A null buffer lets the C
        // library allocate its own.
        unsafe {
            libc::setvbuf(stdout, std::ptr::null_mut(), libc::_IOLBF, 0);
        }
    });
}

/// Opens the library, checks `fnhost_abi_version`, runs `fnhost_init` and resolves the handler.
pub fn open(spec: &FunctionSpec) -> Result<Loaded, LoadError> {
    let path = library_path(spec);
    if !path.is_file() {
        return Err(LoadError::ModuleNotFound {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!("{} does not exist", path.display()),
        });
    }
    line_buffer_c_stdout();
    // SAFETY: loading a library runs its initialisers; loading the user's function is the
    // purpose of this loader, and the library is trusted like any function code.
    let library = unsafe { Library::new(&path) }
        .map_err(|e| load_error(spec, format!("cannot load {}: {e}", path.display())))?;
    check_version(spec, &library, &path)?;
    run_init(spec, &library)?;
    let symbol = format!("{}\0", spec.handler);
    // SAFETY: the ABI version matched, so an exported handler has the `HandlerFn` signature.
    let handler: HandlerFn = unsafe { library.get::<HandlerFn>(symbol.as_bytes()) }
        .map(|s| *s)
        .map_err(|_| LoadError::HandlerNotFound {
            module: spec.module.clone(),
            handler: spec.handler.clone(),
            detail: format!("{} exports no symbol {:?}", path.display(), spec.handler),
        })?;
    Ok(Loaded {
        library: Arc::new(library),
        handler,
    })
}

fn check_version(spec: &FunctionSpec, library: &Library, path: &Path) -> Result<(), LoadError> {
    // SAFETY: `fnhost_abi_version` is declared by the ABI as `uint32_t (void)`.
    let version_fn =
        unsafe { library.get::<AbiVersionFn>(b"fnhost_abi_version\0") }.map_err(|_| {
            load_error(
                spec,
                format!(
                    "{} does not export fnhost_abi_version: is it built against fnhost_native.h?",
                    path.display()
                ),
            )
        })?;
    // SAFETY: as above; the function takes no arguments and has no preconditions.
    let version = unsafe { version_fn() };
    if version != ABI_VERSION {
        return Err(load_error(
            spec,
            format!(
                "{} speaks native ABI {version}; this fnhost speaks {ABI_VERSION}",
                path.display()
            ),
        ));
    }
    Ok(())
}

fn run_init(spec: &FunctionSpec, library: &Library) -> Result<(), LoadError> {
    // SAFETY: `fnhost_init` is declared by the ABI as `int32_t (void)`; it is optional.
    let Ok(init) = (unsafe { library.get::<InitFn>(b"fnhost_init\0") }) else {
        return Ok(());
    };
    // SAFETY: as above; called once, before any handler call.
    let code = unsafe { init() };
    if code == 0 {
        Ok(())
    } else {
        Err(load_error(spec, format!("fnhost_init returned {code}")))
    }
}
