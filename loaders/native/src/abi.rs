//! The C ABI of `include/fnhost_native.h`, mirrored with `#[repr(C)]`, and the callbacks
//! through which a function builds its response. This module and [`crate::library`] hold all
//! of the crate's `unsafe`.
#![allow(unsafe_code, reason = "the FFI boundary of the native ABI")]

use std::marker::PhantomData;

/// What a function built through the callbacks (the loader API's shared type).
pub use fnhost_loader_api::BuiltResponse as Built;

/// `FNHOST_ABI_VERSION`.
pub const ABI_VERSION: u32 = 1;

/// `fnhost_str`: borrowed bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawStr<'a> {
    ptr: *const u8,
    len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> RawStr<'a> {
    /// Borrows `bytes` for the duration of a call.
    pub fn new(bytes: &'a [u8]) -> RawStr<'a> {
        RawStr {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            _borrow: PhantomData,
        }
    }
}

/// `fnhost_header`.
#[repr(C)]
pub struct RawHeader<'a> {
    /// Lower-case name.
    pub name: RawStr<'a>,
    /// Value.
    pub value: RawStr<'a>,
}

/// `fnhost_request`: every field borrows from the [`crate::call::Call`] it was built from.
#[repr(C)]
pub struct RawRequest<'a> {
    pub(crate) method: RawStr<'a>,
    pub(crate) path: RawStr<'a>,
    pub(crate) query: RawStr<'a>,
    pub(crate) headers: *const RawHeader<'a>,
    pub(crate) headers_len: usize,
    pub(crate) body: RawStr<'a>,
    pub(crate) event_id: RawStr<'a>,
    pub(crate) event_type: RawStr<'a>,
    pub(crate) event_time: RawStr<'a>,
    pub(crate) event_namespace: RawStr<'a>,
    pub(crate) function_name: RawStr<'a>,
    pub(crate) runtime: RawStr<'a>,
    pub(crate) memory_limit: RawStr<'a>,
    pub(crate) timeout_seconds: f64,
}

/// `fnhost_host`: the callback table.
#[repr(C)]
pub struct HostApi {
    set_status: extern "C" fn(*mut Built, u16),
    add_header: extern "C" fn(*mut Built, *const u8, usize, *const u8, usize),
    write_body: extern "C" fn(*mut Built, *const u8, usize),
    set_error: extern "C" fn(*mut Built, *const u8, usize),
}

/// The one callback table, shared by every call.
pub static HOST_API: HostApi = HostApi {
    set_status,
    add_header,
    write_body,
    set_error,
};

/// The handler's signature.
pub type HandlerFn = unsafe extern "C" fn(*const RawRequest<'_>, *mut Built, *const HostApi) -> i32;
/// `fnhost_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `fnhost_init`.
pub type InitFn = unsafe extern "C" fn() -> i32;

/// Copies `len` bytes at `ptr`; empty for a null pointer.
///
/// # Safety
/// `ptr` must be null or point at `len` readable bytes.
unsafe fn copy_in(ptr: *const u8, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: the caller guarantees `len` readable bytes at a non-null `ptr`.
    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
}

/// Runs `f` on the response behind `response`, ignoring a null pointer.
fn with_built(response: *mut Built, f: impl FnOnce(&mut Built)) {
    // SAFETY: fnhost passes a pointer to a live `Built` that only this call uses; the function
    // may only pass that pointer back while the call runs (the ABI's contract). Null is ignored.
    if let Some(built) = unsafe { response.as_mut() } {
        f(built);
    }
}

extern "C" fn set_status(response: *mut Built, status: u16) {
    with_built(response, |b| b.status = Some(u32::from(status)));
}

extern "C" fn add_header(
    response: *mut Built,
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
) {
    // SAFETY: the ABI requires `name`/`value` to point at that many readable bytes.
    let (name, value) = unsafe { (copy_in(name, name_len), copy_in(value, value_len)) };
    with_built(response, |b| b.headers.push((name, value)));
}

extern "C" fn write_body(response: *mut Built, data: *const u8, len: usize) {
    // SAFETY: the ABI requires `data` to point at `len` readable bytes.
    let data = unsafe { copy_in(data, len) };
    with_built(response, |b| b.body.extend_from_slice(&data));
}

extern "C" fn set_error(response: *mut Built, message: *const u8, len: usize) {
    // SAFETY: the ABI requires `message` to point at `len` readable bytes.
    let message = unsafe { copy_in(message, len) };
    with_built(response, |b| {
        b.error = Some(String::from_utf8_lossy(&message).into_owned())
    });
}

/// Calls `handler` with `request`, returning its status code and what it built.
pub fn call(handler: HandlerFn, request: &RawRequest<'_>) -> (i32, Built) {
    let mut built = Built::default();
    // SAFETY: `handler` was resolved from a library whose `fnhost_abi_version` matched
    // ABI_VERSION, so it has the ABI's signature; `request` and its borrows, `built` and
    // `HOST_API` all outlive the call, and the library stays loaded while handlers run.
    let code = unsafe { handler(request, &mut built, &HOST_API) };
    (code, built)
}
