//! The task message builder against live Python Celery: the venv's Celery publishes tasks with
//! many option combinations to a private redis-server; for each captured message, building the
//! same task here (same args written independently in Rust, same ids and the values Python
//! generated at random: delivery tag, oid, origin, eta/expires instants) must give identical
//! bytes.

use std::process::Command;

use celery_proto::json::{ArgsStyle, PyDict, PyStr, PyValue};
use celery_proto::message::{Signature, TaskMessage, TaskMessageBuilder, TimeLimit};
use celery_proto::pydict;

const PUBLISH: &str = r#"
import sys, os, datetime
from celery import Celery, signature
import redis

url = sys.argv[1]
app = Celery("probe", broker=url)
utc = datetime.timezone.utc

app.send_task("t.surrogate", task_id="case-surrogate", queue="path",
              args=[os.fsdecode(b"/src/caf\xe9.txt")])
app.send_task("t.tuple", task_id="case-tuple", queue="file", priority=7,
              time_limit=7200, soft_time_limit=3600,
              args=({"a": 1, "nested": {"x": {"y": {"z": 1}}}},),
              kwargs={"k": [1.5, None, True], "it's": "q'uote"})
app.send_task("t.relative", task_id="case-relative", queue="restart", countdown=30, expires=120)
app.send_task("t.absolute", task_id="case-absolute", queue="path",
              eta=datetime.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=utc),
              expires=datetime.datetime(2031, 5, 6, 8, 0, 0, tzinfo=utc))
app.send_task("t.workflow", task_id="case-workflow", queue="path", root_id="root-1",
              parent_id="parent-1", group_id="group-1", group_index=3, shadow="shown",
              retries=2, ignore_result=True, args=[1, 2])
app.send_task("t.canvas", task_id="case-canvas", queue="path", args=[],
              link=signature("cb.task", args=(1,), queue="x"),
              link_error=signature("eb.task", kwargs={"why": "x"}),
              chain=[dict(signature("c2.task", args=("a",))), dict(signature("c1.task"))])
app.send_task("t.numbers", task_id="case-numbers", queue="file",
              args=[float("nan"), float("inf"), -0.0, 0.1, 1e16, 2**70, -(2**63) - 1, "x " * 600])
app.send_task("t.bigkw", task_id="case-bigkw", queue="file",
              kwargs={f"key{i}": i / 7 for i in range(120)})

r = redis.Redis.from_url(url)
for key in sorted(r.keys("*")):
    if key.startswith(b"_kombu"):
        continue
    for item in r.lrange(key, 0, -1):
        print(key.hex(), item.hex())
"#;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn sig(task: &str, args: Vec<PyValue>, kwargs: PyDict, options: PyDict) -> Signature {
    Signature::new(task, args, kwargs, options)
}

/// The task-specific inputs, written independently of the captured bytes.
fn inputs_for(id: &str, b: TaskMessageBuilder) -> TaskMessageBuilder {
    match id {
        "case-surrogate" => {
            b.args(vec![PyValue::Str(PyStr::from_fs_bytes(b"/src/caf\xe9.txt"))]).args_style(ArgsStyle::List)
        }
        "case-tuple" => b
            .args(vec![PyValue::Dict(pydict! {
                "a" => 1,
                "nested" => pydict! {"x" => pydict! {"y" => pydict! {"z" => 1}}},
            })])
            .args_style(ArgsStyle::Tuple)
            .kwargs(pydict! {
                "k" => vec![PyValue::Float(1.5), PyValue::Null, PyValue::Bool(true)],
                "it's" => "q'uote",
            })
            .priority(7)
            .time_limit(TimeLimit::secs(Some(7200), Some(3600))),
        "case-relative" | "case-absolute" => b,
        "case-workflow" => b
            .args(vec![PyValue::Int(1), PyValue::Int(2)])
            .args_style(ArgsStyle::List)
            .root_id("root-1")
            .parent_id("parent-1")
            .group("group-1", Some(3))
            .shadow("shown")
            .retries(2)
            .ignore_result(true),
        "case-canvas" => b
            .args_style(ArgsStyle::List)
            .callbacks(vec![sig("cb.task", vec![PyValue::Int(1)], PyDict::new(), pydict! {"queue" => "x"})])
            .errbacks(vec![sig("eb.task", vec![], pydict! {"why" => "x"}, PyDict::new())])
            .chain(vec![
                sig("c2.task", vec![PyValue::from("a")], PyDict::new(), PyDict::new()),
                sig("c1.task", vec![], PyDict::new(), PyDict::new()),
            ]),
        "case-numbers" => b
            .args(vec![
                PyValue::Float(f64::NAN),
                PyValue::Float(f64::INFINITY),
                PyValue::Float(-0.0),
                PyValue::Float(0.1),
                PyValue::Float(1e16),
                PyValue::BigInt(celery_proto::json::BigInt::parse("1180591620717411303424").unwrap()),
                PyValue::BigInt(celery_proto::json::BigInt::parse("-9223372036854775809").unwrap()),
                PyValue::from("x ".repeat(600)),
            ])
            .args_style(ArgsStyle::List),
        "case-bigkw" => {
            b.kwargs((0..120).map(|i| (format!("key{i}"), PyValue::Float(f64::from(i) / 7.0))).collect())
        }
        other => panic!("unexpected task id {other}"),
    }
}

#[test]
fn builder_matches_live_python_celery() {
    let redis = test_support::RedisServer::start();
    let out = Command::new(test_support::venv_python())
        .arg("-c")
        .arg(PUBLISH)
        .arg(redis.url(3))
        .output()
        .expect("run python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let (key, value) = line.split_once(' ').unwrap();
        let (key, value) = (unhex(key), unhex(value));
        let captured = TaskMessage::decode(&value).unwrap_or_else(|e| panic!("{line}: {e}"));
        let id = captured.id().to_owned();
        // The list the message landed in follows kombu's priority steps.
        let queue = captured.queue().to_owned();
        let expected_key = match captured.envelope.priority() {
            0..=2 => queue.clone().into_bytes(),
            p => [queue.as_bytes(), b"\x06\x16", (p / 3 * 3).to_string().as_bytes()].concat(),
        };
        assert_eq!(key, expected_key, "{id}");

        // What Python generated at random or from its clock.
        let h = &captured.headers;
        let p = &captured.properties;
        let mut b = TaskMessageBuilder::new(h.task.clone(), queue)
            .id(id.clone())
            .origin(h.origin.clone().unwrap())
            .reply_to(p.reply_to.clone().unwrap())
            .delivery_tag(p.delivery_tag.clone());
        if id == "case-relative" {
            // countdown=30, expires=120 relative to one clock reading.
            let eta = h.eta.as_ref().unwrap().at;
            let expires = h.expires.as_ref().unwrap().at;
            b = b
                .eta(eta)
                .now(expires - chrono::Duration::seconds(120))
                .expires_in(std::time::Duration::from_secs(120));
        } else if id == "case-absolute" {
            let exp_ms: i64 = p.expiration.as_deref().unwrap().parse().unwrap();
            let expires = h.expires.as_ref().unwrap().at;
            // Python measured `expires - now` at publish; reproduce that clock reading.
            let now = expires - chrono::Duration::milliseconds(exp_ms) - chrono::Duration::microseconds(500);
            b = b.eta(h.eta.as_ref().unwrap().at).expires(expires).now(now);
        }
        let built = inputs_for(&id, b).build().unwrap();
        assert_eq!(String::from_utf8_lossy(&built.to_bytes()), String::from_utf8_lossy(&value), "{id}");
        seen.push(id);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "case-absolute",
            "case-bigkw",
            "case-canvas",
            "case-numbers",
            "case-relative",
            "case-surrogate",
            "case-tuple",
            "case-workflow"
        ]
    );
}

const RESULT_GET: &str = r#"
import sys
from celery import Celery
from celery.result import AsyncResult
import redis

url = sys.argv[1]
app = Celery("probe", broker=url, backend=url)
r = redis.Redis.from_url(url)
for line in sys.stdin:
    task_id, meta = line.rstrip("\n").split("\t", 1)
    r.set("celery-task-meta-" + task_id, meta)
    res = AsyncResult(task_id, app=app)
    try:
        value = res.get(timeout=5)
        print(res.state, repr(value))
    except Exception as e:
        print(res.state, type(e).__module__, type(e).__name__, repr(e.args))
"#;

/// Result metas encoded here are what Python's `AsyncResult.get()` understands.
#[test]
fn result_metas_are_accepted_by_async_result_get() {
    use celery_proto::message::{ExceptionInfo, ResultMeta, TaskState};
    let done = "2026-11-22T07:50:59.967291+00:00".to_owned();
    let mut metas = vec![
        ResultMeta::success(
            "r-success",
            PyValue::Dict(pydict! {
                "path" => PyValue::Str(PyStr::from_fs_bytes(b"/src/caf\xe9")),
                "n" => PyValue::BigInt(celery_proto::json::BigInt::parse("123456789012345678901234567890").unwrap()),
                "f" => PyValue::Float(0.1),
            }),
            done.clone(),
        ),
        ResultMeta::failure(
            "r-builtin",
            &ExceptionInfo::new("builtins", "ValueError", "boom from rust"),
            Some("Traceback (most recent call last):\n  rust\nValueError: boom from rust\n".into()),
            done.clone(),
        ),
        ResultMeta::failure(
            "r-custom",
            &ExceptionInfo::new("irods_ingest.errors", "IrodsError", "CAT_NO_ACCESS_PERMISSION"),
            None,
            done.clone(),
        ),
        ResultMeta::failure(
            "r-celery",
            &ExceptionInfo::new("celery.exceptions", "TimeLimitExceeded", "3600"),
            None,
            done.clone(),
        ),
    ];
    let mut revoked = ResultMeta::failure(
        "r-revoked",
        &ExceptionInfo::new("celery.exceptions", "TaskRevokedError", "revoked"),
        None,
        done,
    );
    revoked.status = TaskState::Revoked;
    metas.push(revoked);

    let input: String = metas.iter().map(|m| format!("{}\t{}\n", m.task_id, m.to_json().unwrap())).collect();
    let redis = test_support::RedisServer::start();
    let mut child = Command::new(test_support::venv_python())
        .arg("-c")
        .arg(RESULT_GET)
        .arg(redis.url(1))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "SUCCESS {'path': '/src/caf\\udce9', 'n': 123456789012345678901234567890, 'f': 0.1}",
            "FAILURE builtins ValueError ('boom from rust',)",
            // An unknown module/class gets a synthetic exception class (placed in
            // celery.exceptions), so Rust-only error types still reach the caller.
            "FAILURE celery.exceptions IrodsError ('CAT_NO_ACCESS_PERMISSION',)",
            // celery.exceptions re-exports billiard's class.
            "FAILURE billiard.exceptions TimeLimitExceeded ('3600',)",
            "REVOKED celery.exceptions TaskRevokedError ('revoked',)",
        ]
    );
}

const BROADCASTS: &str = r#"
import sys, time
from celery import Celery
import redis

url = sys.argv[1]
app = Celery("probe", broker=url)
r = redis.Redis.from_url(url)
sub = r.pubsub()
sub.psubscribe("*")
sub.get_message(timeout=2)
app.control.broadcast("ping", destination=["w1@h", "w2@h"], reply=False)
app.control.broadcast("rate_limit", arguments={"task_name": "t", "rate_limit": "10/m"},
                      pattern="w*", matcher="glob")
app.control.revoke(["a", "b"], terminate=True, signal="SIGKILL")
app.control.broadcast("shutdown", destination=["w1@h"])
app.control.ping(timeout=0.2)
app.control.inspect(timeout=0.2, destination=["w1@h"]).active()
deadline = time.time() + 2
while time.time() < deadline:
    m = sub.get_message(timeout=0.2)
    if m and m["type"] == "pmessage":
        print(m["channel"].hex(), m["data"].hex())
"#;

/// Control requests of every shape Python sends decode and rebuild to the same bytes.
#[test]
fn control_broadcasts_from_python_rebuild_identically() {
    use celery_proto::message::{ControlMessage, Envelope};
    let redis = test_support::RedisServer::start();
    let out = Command::new(test_support::venv_python())
        .arg("-c")
        .arg(BROADCASTS)
        .arg(redis.url(3))
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut methods = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (channel, data) = line.split_once(' ').unwrap();
        assert_eq!(unhex(channel), b"/3.celery.pidbox");
        let data = unhex(data);
        let msg = ControlMessage::decode(&data).unwrap();
        let mut rebuilt = ControlMessage::build(&msg.request, msg.clock.unwrap(), msg.expires);
        rebuilt.set_delivery_tag(Envelope::decode(&data).unwrap().delivery_tag().unwrap());
        assert_eq!(String::from_utf8_lossy(&rebuilt.to_bytes()), String::from_utf8_lossy(&data));
        let r = &msg.request;
        match r.method.as_str() {
            "ping" if r.reply_to.is_none() => {
                assert_eq!(r.destination.as_deref(), Some(&["w1@h".to_owned(), "w2@h".to_owned()][..]));
                assert!(r.is_for_destination("w2@h") && !r.is_for_destination("w3@h"));
            }
            "rate_limit" => {
                assert_eq!((r.pattern.as_deref(), r.matcher.as_deref()), (Some("w*"), Some("glob")));
                assert_eq!(r.arguments.get("rate_limit").and_then(PyValue::as_str), Some("10/m"));
            }
            "revoke" => assert_eq!(r.arguments.get("signal").and_then(PyValue::as_str), Some("SIGKILL")),
            "ping" | "active" => {
                assert!(r.ticket.is_some());
                assert_eq!(r.reply_to.as_ref().unwrap().exchange, "reply.celery.pidbox");
            }
            _ => {}
        }
        methods.push(r.method.clone());
    }
    assert_eq!(methods, ["ping", "rate_limit", "revoke", "shutdown", "ping", "active"]);
}

const EVENTS: &str = r#"
import sys, time
from celery import Celery
import redis

url = sys.argv[1]
app = Celery("probe", broker=url)
r = redis.Redis.from_url(url)
sub = r.pubsub()
sub.psubscribe("*")
sub.get_message(timeout=2)
with app.connection_for_write() as conn:
    d = app.events.Dispatcher(conn, hostname="w@h", buffer_group={"task"}, buffer_limit=2)
    d.send("worker-online", freq=2.0, active=0, processed=0, loadavg=[0.1, 0.2, 0.3],
           sw_ident="py-celery", sw_ver="5.6.3", sw_sys="Linux")
    d.send("task-received", uuid="u1", name="t", args="(1,)", kwargs="{}", root_id="u1",
           parent_id=None, retries=0, eta=None, expires=None)
    d.send("task-succeeded", uuid="u1", result="'caf\udce9'", runtime=0.125)
    d.flush()
    d.close()
deadline = time.time() + 2
while time.time() < deadline:
    m = sub.get_message(timeout=0.2)
    if m and m["type"] == "pmessage":
        print(m["channel"].hex(), m["data"].hex())
"#;

/// Single and batched (`task.multi`) events from Python's dispatcher rebuild identically.
#[test]
fn events_from_python_rebuild_identically() {
    use celery_proto::message::{Envelope, EventMessage};
    let redis = test_support::RedisServer::start();
    let out =
        Command::new(test_support::venv_python()).arg("-c").arg(EVENTS).arg(redis.url(4)).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut keys = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (channel, data) = line.split_once(' ').unwrap();
        let channel = String::from_utf8(unhex(channel)).unwrap();
        let data = unhex(data);
        let ev = EventMessage::decode(&data).unwrap();
        assert_eq!(channel, format!("/4.celeryev/{}", ev.routing_key));
        let rebuilt_message = match &ev.body {
            PyValue::List(_) => {
                EventMessage::multi(ev.hostname.clone(), ev.events().into_iter().cloned().collect())
            }
            _ => EventMessage::single(ev.hostname.clone(), ev.events()[0].clone()).unwrap(),
        };
        let mut rebuilt = rebuilt_message.to_envelope();
        rebuilt.set_delivery_tag(Envelope::decode(&data).unwrap().delivery_tag().unwrap());
        assert_eq!(String::from_utf8_lossy(&rebuilt.to_bytes()), String::from_utf8_lossy(&data));
        keys.push((ev.routing_key.clone(), ev.events().len()));
        if ev.routing_key == "task.multi" && !ev.events().is_empty() {
            let result = ev.events()[1].get("result").and_then(PyValue::as_py_str).unwrap();
            assert_eq!(&*result.to_fs_bytes().unwrap(), b"'caf\xe9'");
        }
    }
    // Closing the dispatcher flushes once more: Python publishes an empty batch too.
    let keys: Vec<(&str, usize)> = keys.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(keys, [("worker.online", 1), ("task.multi", 2), ("task.multi", 0)]);
}
