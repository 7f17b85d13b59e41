//! Kubeless-shaped functions for fnhost Wasm ABI 1: one export per conformance fixture
//! handler. Each request runs in a fresh instance, so nothing here keeps state between calls.

mod fnhost;

use behaviours::Outcome;

fn answer(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Reply(reply) => fnhost::reply(&reply),
        Outcome::Fail(message) => fnhost::fail(&message),
    }
}

/// Required by the ABI: the version this module speaks.
#[unsafe(no_mangle)]
pub extern "C" fn fnhost_abi_version() -> i32 {
    fnhost::ABI_VERSION
}

/// helloget.foo
#[unsafe(no_mangle)]
pub extern "C" fn foo() -> i32 {
    fnhost::reply(&behaviours::helloget())
}

/// hellowithdata.handler
#[unsafe(no_mangle)]
pub extern "C" fn handler() -> i32 {
    fnhost::reply(&behaviours::hellowithdata(&fnhost::request()))
}

/// printer.printer
#[unsafe(no_mangle)]
pub extern "C" fn printer() -> i32 {
    fnhost::reply(&behaviours::printer(&fnhost::request()))
}

/// exception.fails
#[unsafe(no_mangle)]
pub extern "C" fn fails() -> i32 {
    answer(behaviours::exception())
}

/// exception.trap: a Rust panic, which aborts the instance (a trap).
#[unsafe(no_mangle)]
pub extern "C" fn trap() -> i32 {
    panic!("conformance boom (a trap)")
}

/// slow.slow
#[unsafe(no_mangle)]
pub extern "C" fn slow() -> i32 {
    fnhost::reply(&behaviours::slow(&fnhost::request()))
}

/// response.response
#[unsafe(no_mangle)]
pub extern "C" fn response() -> i32 {
    fnhost::reply(&behaviours::response(&fnhost::request()))
}

/// abi.abi: the request, event and context as JSON.
#[unsafe(no_mangle)]
pub extern "C" fn abi() -> i32 {
    fnhost::reply(&behaviours::abi(&fnhost::request(), &context()))
}

/// context.contextline: the function's context as one line, the same text in every language.
#[unsafe(no_mangle)]
pub extern "C" fn contextline() -> i32 {
    fnhost::reply(&behaviours::context_line(&context(), "contextline"))
}

/// eventmeta.eventmeta: the event's metadata as one line, the same text in every language.
#[unsafe(no_mangle)]
pub extern "C" fn eventmeta() -> i32 {
    fnhost::reply(&behaviours::event_line(&fnhost::request()))
}

/// The Kubeless context, read through the ABI's fields.
fn context() -> [(&'static str, String); 4] {
    use fnhost::Field;
    [
        ("function-name", fnhost::field_text(Field::FunctionName)),
        ("runtime", fnhost::field_text(Field::Runtime)),
        ("memory-limit", fnhost::field_text(Field::MemoryLimit)),
        ("timeout", fnhost::field_text(Field::Timeout)),
    ]
}
