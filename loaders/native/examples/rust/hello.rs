//! A native function in Rust: `fnhost_native.h`'s ABI implemented with `#[repr(C)]` types and
//! no dependencies. Build it as a shared object with
//! `rustc --edition 2024 --crate-type cdylib -O -o libhello_rs.so hello.rs`
//! and serve it with `fnhost run ./libhello_rs.so --handler libhello_rs.hello`.
//! (`loaders/native/tests/loader.rs` builds and calls it.)

#![allow(unsafe_code, reason = "this file is an FFI boundary by definition")]

/// `fnhost_str`.
#[repr(C)]
pub struct Str {
    ptr: *const u8,
    len: usize,
}

impl Str {
    /// The bytes, borrowed for the call.
    fn bytes(&self) -> &[u8] {
        if self.ptr.is_null() {
            return &[];
        }
        // SAFETY: fnhost lends `len` readable bytes at `ptr` for the duration of the call.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// `fnhost_header`.
#[repr(C)]
pub struct Header {
    name: Str,
    value: Str,
}

/// `fnhost_request`.
#[repr(C)]
pub struct Request {
    method: Str,
    path: Str,
    query: Str,
    headers: *const Header,
    headers_len: usize,
    body: Str,
    event_id: Str,
    event_type: Str,
    event_time: Str,
    event_namespace: Str,
    function_name: Str,
    runtime: Str,
    memory_limit: Str,
    timeout_seconds: f64,
}

/// Opaque `fnhost_response`.
#[repr(C)]
pub struct Response {
    _private: [u8; 0],
}

/// `fnhost_host`.
#[repr(C)]
pub struct Host {
    set_status: extern "C" fn(*mut Response, u16),
    add_header: extern "C" fn(*mut Response, *const u8, usize, *const u8, usize),
    write_body: extern "C" fn(*mut Response, *const u8, usize),
    set_error: extern "C" fn(*mut Response, *const u8, usize),
}

#[unsafe(no_mangle)]
pub extern "C" fn fnhost_abi_version() -> u32 {
    1
}

/// Greets whoever the query names (`?name=...`), echoing the method and the event id.
#[unsafe(no_mangle)]
pub extern "C" fn hello(
    request: *const Request,
    response: *mut Response,
    host: *const Host,
) -> i32 {
    // SAFETY: fnhost passes valid pointers to the request and the callback table for the call.
    let (request, host) = unsafe { (&*request, &*host) };
    let query = String::from_utf8_lossy(request.query.bytes()).into_owned();
    let name = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("name="))
        .unwrap_or("world");
    let body = format!(
        "hello {name} from Rust ({} {}, event {})",
        String::from_utf8_lossy(request.method.bytes()),
        String::from_utf8_lossy(request.path.bytes()),
        String::from_utf8_lossy(request.event_id.bytes()),
    );
    let content_type = b"text/plain; charset=utf-8";
    (host.add_header)(
        response,
        b"content-type".as_ptr(),
        12,
        content_type.as_ptr(),
        content_type.len(),
    );
    (host.write_body)(response, body.as_ptr(), body.len());
    0
}
