//! Smoke runs of every scenario against a bench server the test starts,
//! asserting correctness from the JSON line (every event answered, every
//! broadcast delivered), never timing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_liveview-bench");

/// The bench server shared by the tests: its base URL and pid. It exits
/// when the test process ends (its stdin closes).
struct TestServer {
    url: String,
    pid: u32,
    _child: Mutex<(Child, ChildStdin)>,
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut child = Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--print-addr"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the bench server");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the server address");
        let addr = line.trim().to_owned();
        assert!(addr.starts_with("127.0.0.1:"), "server printed {line:?}");
        TestServer {
            url: format!("http://{addr}"),
            pid: child.id(),
            _child: Mutex::new((child, stdin)),
        }
    })
}

/// Runs the tool and returns its exit status, stderr, and the JSON line.
fn run(args: &[&str]) -> (Output, Value) {
    let output = Command::new(BIN)
        .args(args)
        .arg("--no-progress")
        .output()
        .expect("run liveview-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let json: Value = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("no JSON line ({e}); stdout:\n{stdout}\nstderr:\n{stderr}"));
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    (output, json)
}

fn against_server(scenario: &str, args: &[&str]) -> Value {
    let s = server();
    let mut all = vec![scenario, "--url", &s.url];
    all.extend_from_slice(args);
    run(&all).1
}

fn n(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn rtt_every_event_gets_its_reply() {
    let v = against_server("rtt", &["-n", "1", "--events", "200", "--warmup", "10"]);
    assert_eq!(v["scenario"], "rtt");
    assert_eq!(n(&v, "connected"), 1);
    assert_eq!(n(&v, "sent"), 210);
    assert_eq!(n(&v, "received"), n(&v, "sent"));
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert_eq!(n(&v, "measured_events"), 200);
    assert_eq!(v["latency_us"]["count"], 200);
}

#[test]
fn rtt_over_long_poll_every_event_gets_its_reply() {
    let args = [
        "-n",
        "2",
        "--events",
        "100",
        "--warmup",
        "10",
        "--transport",
        "longpoll",
    ];
    let v = against_server("rtt", &args);
    assert_eq!(v["scenario"], "rtt");
    assert_eq!(v["transport"], "longpoll");
    assert_eq!(n(&v, "connected"), 2);
    assert_eq!(n(&v, "sent"), 220);
    assert_eq!(n(&v, "received"), n(&v, "sent"));
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert_eq!(n(&v, "measured_events"), 200);
}

#[test]
fn throughput_every_event_gets_its_reply() {
    let v = against_server(
        "throughput",
        &[
            "-n",
            "10",
            "--duration",
            "1s",
            "--warmup",
            "100ms",
            "--window",
            "2",
        ],
    );
    assert_eq!(n(&v, "connected"), 10);
    assert!(n(&v, "sent") > 0);
    assert_eq!(n(&v, "received"), n(&v, "sent"));
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert!(n(&v, "measured_events") > 0);
}

#[test]
fn paced_throughput_every_event_gets_its_reply() {
    let v = against_server(
        "throughput",
        &[
            "-n",
            "10",
            "--duration",
            "1s",
            "--warmup",
            "100ms",
            "--rate",
            "1000",
        ],
    );
    assert_eq!(v["target_rate"], 1000.0);
    assert!(n(&v, "sent") > 0);
    assert_eq!(n(&v, "received"), n(&v, "sent"));
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert!(v["late"].is_u64(), "{v}");
}

#[test]
fn fanout_every_client_gets_every_broadcast() {
    let v = against_server(
        "fanout",
        &["-n", "50", "--rounds", "3", "--interval", "10ms"],
    );
    assert_eq!(n(&v, "connected"), 50);
    assert_eq!(n(&v, "expected"), 150);
    assert_eq!(n(&v, "delivered"), 150);
    assert_eq!(n(&v, "missing"), 0);
    assert_eq!(n(&v, "duplicates"), 0);
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert_eq!(v["last_us"]["count"], 3);
}

#[test]
fn idle_connections_stay_alive_and_memory_is_read() {
    let s = server();
    let pid = s.pid.to_string();
    let v = against_server(
        "idle",
        &["-n", "200", "--settle", "100ms", "--server-pid", &pid],
    );
    assert_eq!(n(&v, "connected"), 200);
    assert_eq!(n(&v, "alive"), 200);
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert!(n(&v, "rss_before_kib") > 0);
    assert!(n(&v, "rss_idle_kib") > 0);
    assert!(v["bytes_per_idle_connection"].is_number(), "{v}");
}

#[test]
fn http_every_request_gets_its_fragment() {
    let v = against_server("http", &["-n", "2", "--requests", "100", "--warmup", "0"]);
    assert_eq!(n(&v, "connected"), 2);
    assert_eq!(n(&v, "sent"), 200);
    assert_eq!(n(&v, "received"), 200);
    assert_eq!(n(&v, "errors"), 0, "{v}");
}

#[test]
fn storm_resumes_every_session_without_a_lost_or_doubled_frame() {
    let s = server();
    let pid = s.pid.to_string();
    let v = against_server(
        "storm",
        &[
            "-n",
            "50",
            "--groups",
            "5",
            "--before",
            "2",
            "--frames",
            "20",
            "--interval",
            "5ms",
            "--cut",
            "100ms",
            "--server-pid",
            &pid,
            "--room",
            "storm-a",
        ],
    );
    assert_eq!(v["scenario"], "storm");
    assert_eq!(n(&v, "connected"), 50);
    assert_eq!(n(&v, "resumed"), 50, "{v}");
    assert_eq!(n(&v, "refused"), 0, "{v}");
    assert_eq!(n(&v, "lost"), 0, "{v}");
    assert_eq!(n(&v, "duplicated"), 0, "{v}");
    assert_eq!(n(&v, "foreign"), 0, "{v}");
    assert_eq!(n(&v, "errors"), 0, "{v}");
    // Each client saw the 2 frames before the cut, then gets the 20 from
    // it on (replayed or live) and nothing else.
    assert_eq!(n(&v, "frames_after_resume"), 50 * 20, "{v}");
    assert!(n(&v, "parked") >= 50, "{v}");
    assert_eq!(v["resume_us"]["count"], 50);
    assert!(v["bytes_per_parked_session"].is_number(), "{v}");
}

#[test]
fn storm_fails_when_the_replay_buffer_cannot_hold_the_cut() {
    // 300 frames while parked, all before the reconnect: more than the
    // server's replay buffer (256), so the sessions cannot be resumed whole
    // and the tool must say so.
    let s = server();
    let out = Command::new(BIN)
        .args([
            "storm",
            "--url",
            &s.url,
            "-n",
            "10",
            "--groups",
            "2",
            "--before",
            "1",
            "--frames",
            "300",
            "--interval",
            "0ms",
            "--cut",
            "100ms",
            "--replay-only",
            "--room",
            "storm-b",
            "--no-progress",
            "--json-only",
        ])
        .output()
        .expect("run liveview-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(out.status.code(), Some(2), "{v}");
    assert_eq!(n(&v, "resumed"), 0, "{v}");
    assert_eq!(n(&v, "refused"), 10, "{v}");
    assert!(n(&v, "errors") >= 10, "{v}");
}

#[test]
fn spawns_its_own_server_without_url() {
    let (out, v) = run(&["rtt", "-n", "2", "--events", "20", "--warmup", "0"]);
    assert_eq!(v["server_spawned"], true);
    assert_eq!(n(&v, "received"), 40);
    assert_eq!(n(&v, "errors"), 0, "{v}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("latency"), "{table}");

    let (_, idle) = run(&["idle", "-n", "20", "--settle", "50ms"]);
    assert_eq!(n(&idle, "alive"), 20);
    assert!(idle["server_pid"].is_u64(), "{idle}");
    assert!(idle["bytes_per_idle_connection"].is_number(), "{idle}");
}

/// `--nodes 3`: three bench servers on a redis-server of the tool's own
/// (it fails, never skips, when redis-server is missing).
#[test]
fn several_nodes_share_one_redis_and_each_gets_one_message_per_broadcast() {
    let (out, v) = run(&["fanout", "--nodes", "3", "-n", "30", "--rounds", "5"]);
    assert_eq!(n(&v, "nodes"), 3);
    assert_eq!(n(&v, "delivered"), 150);
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert_eq!(v["publishes_per_broadcast"], 1.0, "{v}");
    assert_eq!(v["deliveries_to_nodes_per_broadcast"], 3.0, "{v}");
    let per_node = v["per_node"].as_array().expect("per_node");
    assert_eq!(per_node.len(), 3);
    for node in per_node {
        assert_eq!(node["clients"], 10);
        assert_eq!(node["received_per_broadcast"], 1.0, "{node}");
        assert!(node["rss_kib"].is_u64(), "{node}");
    }
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("node 2"), "{table}");

    let (_, rtt) = run(&[
        "rtt", "--nodes", "2", "-n", "4", "--events", "20", "--warmup", "0",
    ]);
    assert_eq!(n(&rtt, "nodes"), 2);
    assert_eq!(n(&rtt, "received"), 80);
    assert_eq!(n(&rtt, "errors"), 0, "{rtt}");
    assert_eq!(rtt["other_nodes_cpu"].as_array().map(Vec::len), Some(1));
}

/// `--cluster 3`: the nodes on a Redis Cluster of the tool's own (3
/// masters, a replica each): one `SPUBLISH` per broadcast, one delivery
/// per node, nothing left running after.
#[test]
fn several_nodes_share_a_redis_cluster_the_tool_starts() {
    let (_, v) = run(&[
        "fanout",
        "--nodes",
        "2",
        "--cluster",
        "3",
        "-n",
        "20",
        "--rounds",
        "3",
    ]);
    let url = v["redis"].as_str().expect("the redis URL");
    assert!(url.starts_with("redis+cluster://"), "{v}");
    assert_eq!(url.matches(',').count(), 2, "three masters: {url}");
    assert_eq!(n(&v, "delivered"), 60);
    assert_eq!(n(&v, "errors"), 0, "{v}");
    assert_eq!(v["publishes_per_broadcast"], 1.0, "{v}");
    assert_eq!(v["deliveries_to_nodes_per_broadcast"], 2.0, "{v}");
    // Every process of the cluster is gone once the tool exits.
    for host in url.trim_start_matches("redis+cluster://").split(',') {
        assert!(
            std::net::TcpStream::connect(host).is_err(),
            "{host} still answers"
        );
    }
}

#[test]
fn refuses_non_loopback_targets() {
    for url in [
        "http://10.0.0.1:8000",
        "http://192.168.0.2",
        "http://example.com",
    ] {
        let out = Command::new(BIN)
            .args(["rtt", "--url", url, "--no-progress"])
            .output()
            .expect("run liveview-bench");
        assert_eq!(out.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("loopback"), "{url}: {stderr}");
        assert!(out.stdout.is_empty(), "{url}");
    }
}

#[test]
fn help_documents_every_scenario() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["rtt", "throughput", "fanout", "idle", "http", "storm"] {
        assert!(help.contains(word), "{word} missing from --help");
    }
    assert!(!help.contains("serve "), "the serve subcommand is hidden");
}
