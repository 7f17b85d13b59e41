use rquickjs::{Context, Function, Persistent, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let started = Instant::now();
    let rt = Runtime::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    rt.set_interrupt_handler(Some(Box::new(move || flag.load(Ordering::Relaxed))));
    let ctx = Context::full(&rt).unwrap();
    let (f, spin) = ctx.with(|c| {
        c.eval::<(), _>("globalThis.handler = (s) => 'hello ' + s; globalThis.spin = () => { while (true) {} };").unwrap();
        let g = c.globals();
        let f: Function = g.get("handler").unwrap();
        let s: Function = g.get("spin").unwrap();
        (Persistent::save(&c, f), Persistent::save(&c, s))
    });
    println!("cold start {:?}", started.elapsed());
    let n = 200_000;
    let t = Instant::now();
    let mut last = String::new();
    for _ in 0..n {
        last = ctx.with(|c| f.clone().restore(&c).unwrap().call::<_, String>(("world",)).unwrap());
    }
    println!("{last}: {:.0} calls/s", n as f64 / t.elapsed().as_secs_f64());
    let s2 = stop.clone();
    std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_millis(200)); s2.store(true, Ordering::Relaxed); });
    let t = Instant::now();
    let r = ctx.with(|c| { let r = spin.clone().restore(&c).unwrap().call::<_, ()>(()); let e = c.catch(); format!("{r:?} {e:?}") });
    println!("spin: {r} after {:?}", t.elapsed());
    stop.store(false, Ordering::Relaxed);
    let r = ctx.with(|c| f.clone().restore(&c).unwrap().call::<_, String>(("again",)));
    println!("after interrupt: {r:?}");
}
