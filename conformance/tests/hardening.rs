//! Hardening: the real binary against hostile clients, with what it costs measured from
//! `/proc` (memory, not time: no timing thresholds here). Each test states a bound that
//! the defect it guards against broke by far.
#![allow(
    clippy::expect_used,
    reason = "a test harness: a broken setup should stop the run loudly"
)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use fnhost_conformance::fixture::Fixture;
use fnhost_conformance::http;
use fnhost_conformance::root;
use fnhost_conformance::run::{Booted, Suite, boot};

const MIB: u64 = 1024 * 1024;

fn boot_python(fixture: &str, env: &[(&str, &str)]) -> (Booted, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("cache folder");
    let suite = Suite {
        cache_dir: cache.path().to_path_buf(),
    };
    let fixture = Fixture::load(&root().join("fixtures"), "python", fixture)
        .expect("the fixture exists")
        .expect("the fixture is valid");
    // One process, so that `/proc/PID` is the server's own (not a supervisor's).
    let env: BTreeMap<String, String> = env
        .iter()
        .chain(&[("FNHOST_SUPERVISE", "false")])
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let booted = boot(&fixture, &env, &suite).expect("fnhost starts");
    (booted, cache)
}

/// The peak resident memory so far, in bytes.
fn peak(booted: &Booted) -> u64 {
    booted.fnhost.status_kib("VmHWM").expect("VmHWM") * 1024
}

fn status_of(response: &[u8]) -> u16 {
    http::parse(response, false).map_or(0, |r| r.status)
}

/// Sends a POST whose body goes one byte per write (one TCP segment each: no Nagle), and
/// returns the response's status.
fn trickle(addr: SocketAddr, body_len: usize) -> u16 {
    let mut stream = http::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: text/plain\r\n\
         Content-Length: {body_len}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    for _ in 0..body_len {
        if stream.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    status_of(&response)
}

/// Fifty clients each trickle a 4,000-byte body one byte per segment. Each piece hyper hands
/// over is a slice of a read buffer; kept until the body was complete, they once cost about
/// 4,000 times the body (RSS +800 MiB for these 200 KB). Memory held for a body must be in
/// proportion to its bytes.
#[test]
fn a_trickled_body_costs_memory_in_proportion_to_its_bytes() {
    let (booted, _cache) = boot_python("helloget", &[]);
    let addr = booted.addr;
    let warm = http::send(addr, &fnhost_conformance::case::Request::get("/")).expect("warm-up");
    assert_eq!(warm.status, 200);
    let before = peak(&booted);
    let (clients, body_len) = (50, 4000);
    let statuses: Vec<u16> = (0..clients)
        .map(|_| std::thread::spawn(move || trickle(addr, body_len)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("client thread"))
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "statuses: {statuses:?}");
    let grown = peak(&booted).saturating_sub(before);
    eprintln!(
        "trickled bodies: {clients} x {body_len} bytes, one per segment: peak RSS grew by {:.1} MiB",
        grown as f64 / MIB as f64
    );
    assert!(
        grown < 32 * MIB,
        "peak RSS grew by {} MiB for {} KB of bodies",
        grown / MIB,
        clients * body_len / 1000
    );
}

/// One large body is held about once by fnhost, plus the copy a Python function gets as
/// `event['data']`: no third copy from joining the pieces (a 99 MiB body once peaked at
/// about 3 times its size).
#[test]
fn a_large_body_is_held_once_plus_the_functions_copy() {
    let (booted, _cache) = boot_python("helloget", &[]);
    let warm =
        http::send(booted.addr, &fnhost_conformance::case::Request::get("/")).expect("warm-up");
    assert_eq!(warm.status, 200);
    let before = peak(&booted);
    // The largest body the default FUNC_MEMFILE_MAX (100 MiB) lets through, give or take.
    let size = 99 * MIB;
    let mut stream: TcpStream = http::connect(booted.addr).expect("connect");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {size}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..size / MIB {
        stream.write_all(&chunk).expect("body");
    }
    let response = http::read_to_end(&mut stream).expect("response");
    assert_eq!(status_of(&response), 200);
    let grown = peak(&booted).saturating_sub(before);
    let ratio = grown as f64 / size as f64;
    eprintln!("a 99 MiB body to a Python function: peak RSS grew by {ratio:.2} times its size");
    assert!(
        ratio < 2.25,
        "peak RSS grew by {ratio:.2} times the body's size (fnhost's copy and Python's)"
    );
}
