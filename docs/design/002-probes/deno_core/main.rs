use deno_core::{v8, JsRuntime, RuntimeOptions};
use std::time::Instant;

fn main() {
    let started = Instant::now();
    let mut rt = JsRuntime::new(RuntimeOptions::default());
    rt.execute_script("<fn>", "globalThis.handler = (s) => 'hello ' + s; globalThis.spin = () => { while (true) {} };").unwrap();
    let get = |rt: &mut JsRuntime, name: &'static str| -> v8::Global<v8::Function> {
        deno_core::scope!(scope, rt);
        let g = scope.get_current_context().global(scope);
        let k = v8::String::new(scope, name).unwrap();
        let v = g.get(scope, k.into()).unwrap();
        v8::Global::new(scope, v8::Local::<v8::Function>::try_from(v).unwrap())
    };
    let f = get(&mut rt, "handler");
    let spin = get(&mut rt, "spin");
    println!("cold start {:?}", started.elapsed());
    let n = 200_000;
    let t = Instant::now();
    let mut last = String::new();
    for _ in 0..n {
        deno_core::scope!(scope, &mut rt);
        let func = v8::Local::new(scope, &f);
        let arg = v8::String::new(scope, "world").unwrap();
        let undef = v8::undefined(scope).into();
        let r = func.call(scope, undef, &[arg.into()]).unwrap();
        last = r.to_rust_string_lossy(scope);
    }
    let el = t.elapsed();
    println!("{last}: {:.0} calls/s", n as f64 / el.as_secs_f64());
    let handle = rt.v8_isolate().thread_safe_handle();
    std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_millis(200)); handle.terminate_execution(); });
    let t = Instant::now();
    {
        deno_core::scope!(scope, &mut rt);
        let func = v8::Local::new(scope, &spin);
        let undef = v8::undefined(scope).into();
        let r = func.call(scope, undef, &[]);
        println!("spin returned {:?} after {:?}", r.is_some(), t.elapsed());
    }
    rt.v8_isolate().thread_safe_handle().cancel_terminate_execution();
    deno_core::scope!(scope, &mut rt);
    let func = v8::Local::new(scope, &f);
    let arg = v8::String::new(scope, "again").unwrap();
    let undef = v8::undefined(scope).into();
    let r = func.call(scope, undef, &[arg.into()]).map(|r| r.to_rust_string_lossy(scope));
    println!("after terminate: {r:?}");
}
