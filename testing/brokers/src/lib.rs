//! `fnhost-local-brokers`: real brokers as local processes, for the message-trigger benchmark
//! (`benches/`, `trigger-load`) and the real-cluster suite (`cluster-e2e/`), started from the
//! caches the test suite fills: nats-server with JetStream
//! (`scripts/brokers/build-nats-server.sh`), Apache Kafka 4 in KRaft mode from Maven
//! Central's jars (`scripts/brokers/fetch-kafka.sh`), run by the JDK `scripts/setup.sh`
//! installs, and kinesis-local from npm (`scripts/brokers/fetch-kinesis.sh`). Each listens on the address it is given (loopback, or the node's address where
//! pods reach it), keeps its data in a folder of the run and is killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A started process, killed on drop; its output goes to a log file.
pub struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` (in `dir` unless it names its own folder), its stdout and stderr into
    /// `dir/<name>.log`.
    pub fn spawn(name: &str, command: &mut Command, dir: &Path) -> Result<Process, String> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        if command.get_current_dir().is_none() {
            command.current_dir(dir);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Process { child, log })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of its log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port of `ip` that was free a moment ago.
pub fn free_port(ip: IpAddr) -> Result<u16, String> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on {ip}: {e}"))
}

/// Calls `check` every 100 ms until it succeeds or `limit` passes (then its last error).
pub fn wait_for(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(format!("{what}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// nats-server with JetStream on `ip`, storing in `dir/store`; returns it and its address
/// once it greets clients.
pub fn start_nats(binary: &Path, dir: &Path, ip: IpAddr) -> Result<(Process, SocketAddr), String> {
    let port = free_port(ip)?;
    let store = dir.join("store");
    let process = Process::spawn(
        "nats-server",
        Command::new(binary).args(["-js", "-sd"]).arg(&store).args([
            "-a",
            &ip.to_string(),
            "-p",
            &port.to_string(),
        ]),
        dir,
    )?;
    let address = SocketAddr::new(ip, port);
    wait_for("nats-server greets", Duration::from_secs(30), || {
        let stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.starts_with("INFO ") {
            Ok(())
        } else {
            Err(format!("not a NATS greeting: {line:?}"))
        }
    })
    .map_err(|e| format!("{e}\n{}", process.log_tail()))?;
    Ok((process, address))
}

/// Partitions of every Kafka topic of the benchmark.
pub const KAFKA_PARTITIONS: i32 = 3;

/// One Kafka node (broker and controller) on `ip` (its controller on loopback), storing in
/// `dir/data`, formatted and started; its bootstrap address. It answers clients a few seconds
/// later: the caller waits for metadata.
pub fn start_kafka(libs: &Path, dir: &Path, ip: IpAddr) -> Result<(Process, SocketAddr), String> {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let (port, controller) = (free_port(ip)?, free_port(loopback)?);
    let properties = format!(
        "process.roles=broker,controller\nnode.id=1\n\
         controller.quorum.bootstrap.servers=127.0.0.1:{controller}\n\
         listeners=PLAINTEXT://{ip}:{port},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners=PLAINTEXT://{ip}:{port}\n\
         controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
         log.dirs={}\nnum.partitions={KAFKA_PARTITIONS}\n\
         offsets.topic.replication.factor=1\ntransaction.state.log.replication.factor=1\n\
         transaction.state.log.min.isr=1\nshare.coordinator.state.topic.replication.factor=1\n\
         share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n",
        dir.join("data").display()
    );
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("server.properties", &properties)?;
    write(
        "log4j2.properties",
        "status = warn\nappender.out.type = Console\nappender.out.name = STDOUT\n\
         appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = %p %m%n\n\
         rootLogger.level = WARN\nrootLogger.appenderRef.out.ref = STDOUT\n",
    )?;
    let java = |jvm: &[&str], args: &[&str]| {
        let mut command = Command::new("java");
        command
            .args(jvm)
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dir.join("log4j2.properties").display()
            ))
            .args(["-cp", &format!("{}/*", libs.display())])
            .args(args);
        command
    };
    let format = java(
        &[],
        &[
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            "4bHLPwFURqyWdBPJXM59QQ",
            "-c",
            "server.properties",
        ],
    )
    .current_dir(dir)
    .output()
    .map_err(|e| format!("java (scripts/setup.sh installs the JDK): {e}"))?;
    if !format.status.success() {
        return Err(format!(
            "formatting Kafka's store failed: {}",
            String::from_utf8_lossy(&format.stderr)
        ));
    }
    let mut start = java(
        &["-Xms512m", "-Xmx1g"],
        &["kafka.Kafka", "server.properties"],
    );
    let process = Process::spawn("kafka", &mut start, dir)?;
    Ok((process, SocketAddr::new(ip, port)))
}

/// kinesis-local (kinesis-mock, from npm: `scripts/brokers/fetch-kinesis.sh` prints `package`)
/// run by Node.js, its streams kept in `dir/persist`; its plain-HTTP port once it accepts
/// connections. It listens on every address of the machine (it has no setting for one).
pub fn start_kinesis(package: &Path, dir: &Path) -> Result<(Process, u16), String> {
    let any = IpAddr::from([0, 0, 0, 0]);
    let (port, tls_port) = (free_port(any)?, free_port(any)?);
    let mut command = Command::new("node");
    command
        .current_dir(package)
        .arg("main.js")
        .env("KINESIS_MOCK_PLAIN_PORT", port.to_string())
        .env("KINESIS_MOCK_TLS_PORT", tls_port.to_string())
        .env("CREATE_STREAM_DURATION", "0ms")
        .env("LOG_LEVEL", "WARN")
        .env("SHOULD_PERSIST_DATA", "true")
        .env("PERSIST_PATH", dir.join("persist"))
        .env("PERSIST_INTERVAL", "1s");
    // It reads its server.json from the working folder: the package's.
    let process = Process::spawn("kinesis-local", &mut command, dir)?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(
        "kinesis-local accepts connections",
        Duration::from_secs(60),
        || {
            TcpStream::connect(address)
                .map(drop)
                .map_err(|e| e.to_string())
        },
    )
    .map_err(|e| format!("{e}\n{}", process.log_tail()))?;
    Ok((process, port))
}
