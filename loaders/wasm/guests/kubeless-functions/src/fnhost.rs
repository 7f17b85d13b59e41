//! Safe Rust bindings of fnhost Wasm ABI 1 (`docs/wasm-abi.md`): the `fnhost` imports, and a
//! reader that turns them into a [`behaviours::Request`]. Copy this file to write a function
//! in Rust; build with `cargo build --target wasm32-wasip1 --release` and `crate-type =
//! ["cdylib"]`.

use behaviours::Request;

/// The ABI version this guest speaks; exported as `fnhost_abi_version`.
pub const ABI_VERSION: i32 = 1;

/// Request fields readable with `request_field`.
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub enum Field {
    Method = 0,
    Path = 1,
    Query = 2,
    Body = 3,
    EventId = 4,
    EventType = 5,
    EventTime = 6,
    EventNamespace = 7,
    FunctionName = 8,
    Runtime = 9,
    MemoryLimit = 10,
    Timeout = 11,
}

#[link(wasm_import_module = "fnhost")]
unsafe extern "C" {
    fn request_field(field: u32, buf: *mut u8, cap: u32) -> i32;
    fn header_count() -> i32;
    fn header_name(index: u32, buf: *mut u8, cap: u32) -> i32;
    fn header_value(index: u32, buf: *mut u8, cap: u32) -> i32;
    fn set_status(status: u32);
    fn add_header(name: *const u8, name_len: u32, value: *const u8, value_len: u32);
    fn write_body(data: *const u8, len: u32);
    fn set_error(message: *const u8, len: u32);
}

/// Reads a value through one of the `(…, buf, cap) -> len` imports: ask for the length with
/// an empty buffer, then read it whole. `None` when the import answers -1.
fn read(get: impl Fn(*mut u8, u32) -> i32) -> Option<Vec<u8>> {
    let len = usize::try_from(get(std::ptr::null_mut(), 0)).ok()?;
    let mut buf = vec![0u8; len];
    let cap = u32::try_from(len).ok()?;
    get(buf.as_mut_ptr(), cap);
    Some(buf)
}

/// One request field (empty when absent).
pub fn field(field: Field) -> Vec<u8> {
    // SAFETY: fnhost writes at most `cap` bytes at `buf`, which `read` owns.
    read(|buf, cap| unsafe { request_field(field as u32, buf, cap) }).unwrap_or_default()
}

/// One request field as text.
pub fn field_text(f: Field) -> String {
    String::from_utf8_lossy(&field(f)).into_owned()
}

/// The request headers, in arrival order.
pub fn headers() -> Vec<(String, Vec<u8>)> {
    // SAFETY: takes no pointers.
    let count = u32::try_from(unsafe { header_count() }).unwrap_or(0);
    (0..count)
        .filter_map(|i| {
            // SAFETY: as in `field`.
            let name = read(|buf, cap| unsafe { header_name(i, buf, cap) })?;
            // SAFETY: as in `field`.
            let value = read(|buf, cap| unsafe { header_value(i, buf, cap) })?;
            Some((String::from_utf8_lossy(&name).into_owned(), value))
        })
        .collect()
}

/// The whole request.
pub fn request() -> Request {
    Request {
        method: field_text(Field::Method),
        path: field_text(Field::Path),
        query: field_text(Field::Query),
        headers: headers(),
        body: field(Field::Body),
        event: [
            field_text(Field::EventId),
            field_text(Field::EventType),
            field_text(Field::EventTime),
            field_text(Field::EventNamespace),
        ],
    }
}

fn len(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX)
}

/// Sends a reply: status, headers, body. Returns 0, the handler's success value.
pub fn reply(reply: &behaviours::Reply) -> i32 {
    // SAFETY: fnhost copies what the pointers lend during each call and keeps nothing.
    unsafe {
        set_status(u32::from(reply.status));
        for (name, value) in &reply.headers {
            add_header(
                name.as_ptr(),
                len(name.as_bytes()),
                value.as_ptr(),
                len(value.as_bytes()),
            );
        }
        write_body(reply.body.as_ptr(), len(&reply.body));
    }
    0
}

/// Reports a failure for fnhost's log. Returns 1, a failing handler's value.
pub fn fail(message: &str) -> i32 {
    // SAFETY: as in `reply`.
    unsafe { set_error(message.as_ptr(), len(message.as_bytes())) };
    1
}
