//! Round trips against the real CPython in the project venv (json, kombu.utils.json, repr and
//! celery's saferepr):
//!
//! * Python -> Rust: Python `json.dumps`/kombu `dumps` tricky values; parsing and re-emitting
//!   them here must give the identical bytes.
//! * Rust -> Python: values built and serialised here must load in Python and dump back to the
//!   same bytes, and Python's `repr()` / celery `saferepr()` of the loaded value must equal ours.

use std::io::Write;
use std::process::{Command, Stdio};

use celery_proto::json::{self, ArgsStyle, PyDict, PyStr, PyValue};

/// Runs `script` in the venv Python with `input` on stdin and returns stdout.
fn run_python(script: &str, input: &str) -> String {
    let python = test_support::venv_python();
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python output");
    writer.join().expect("writer thread").expect("write to python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("python printed ASCII JSON")
}

const PYTHON_EMITS: &str = r#"
import json, os, sys, uuid, datetime, decimal, math, random
from kombu.utils.json import dumps as kdumps
values = [
    os.fsdecode(b"caf\xe9.txt"),
    os.fsdecode(b"/src/\xff\xfe/dir/\xed\xa0\x80x"),
    "\ud800", "\udfff", "\ud83d\ude00", "a\ud83d" + "b",
    "".join(chr(c) for c in range(0, 0x250)),
    "\u2028\u2029\ufeff\uffff\U0010ffff\U0001f600",
    float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 0.1, 1e16, 1e-7, 1e15, 1e-4, 1e-5,
    5e-324, 1.7976931348623157e308, 2.0**53, 2.0**53 + 2, 123456.789e-20, 1/3,
    2**64, -2**64, 2**63, -2**63, -2**63 - 1, 10**300, -(10**4000),
    True, False, None, [], {}, [[[]]], {"": {"": []}},
    {"b": 1, "a": [1.5, "x", None], "\u00e9": {"\udce9": True}},
    {"__type__": "datetime", "__value__": "2024-01-02T03:04:05+00:00"},
    list(range(-3, 3)),
]
random.seed(7)
values.append([random.random() * 10 ** random.randint(-30, 30) for _ in range(300)])
values.append([random.uniform(-1e6, 1e6) for _ in range(300)])
values.append([struct_free for struct_free in (random.getrandbits(64) - 2**63 for _ in range(100))])
for v in values:
    print(json.dumps(v))
kombu_values = [
    {"when": datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=datetime.timezone.utc)},
    {"when": datetime.datetime(2024, 1, 2, 3, 4, 5)},
    datetime.date(2024, 2, 29), datetime.time(3, 4, 5, 6),
    decimal.Decimal("3.14159265358979323846264338327950288"),
    uuid.UUID("6f1c0000-0000-4000-8000-000000000001"),
    b"plain bytes", b"\xff\x00binary",
]
for v in kombu_values:
    print(kdumps(v))
"#;

#[test]
fn python_output_reemits_identically() {
    let out = run_python(PYTHON_EMITS, "");
    let mut n = 0;
    for line in out.lines() {
        let value = json::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line:.200}: {e}"));
        assert_eq!(value.to_json(), line);
        n += 1;
    }
    assert_eq!(n, 53, "one line per value");
}

const PYTHON_ECHOES: &str = r#"
import json, sys
from celery.utils.saferepr import saferepr
for line in sys.stdin:
    v = json.loads(line)
    report = {
        "dumps": json.dumps(v),
        "repr": repr(v),
        "saferepr": saferepr(v, 1024),
        "saferepr_tuple": saferepr(tuple(v), 1024) if isinstance(v, list) else None,
    }
    print(json.dumps(report))
"#;

fn rust_values() -> Vec<PyValue> {
    let mut values = vec![
        PyValue::Str(PyStr::from_fs_bytes(b"caf\xe9.txt")),
        PyValue::Str(PyStr::from_fs_bytes(b"\x80\xff/\xc3\xa9/\xed\xbf\xbf")),
        PyValue::from("tab\t nl\n quote' dq\" back\\ del\x7f nbsp\u{a0} zw\u{200b} e\u{e9} \u{1f600}"),
        PyValue::from("it's"),
        PyValue::Float(f64::NAN),
        PyValue::Float(f64::INFINITY),
        PyValue::Float(-0.0),
        PyValue::Float(0.1),
        PyValue::Float(1e16),
        PyValue::Float(1e-7),
        PyValue::BigInt(json::BigInt::parse("-123456789012345678901234567890").unwrap()),
        PyValue::Int(i64::MIN),
        PyValue::List(vec![PyValue::Null, PyValue::Bool(true), PyValue::Bool(false)]),
    ];
    // Python's repr escapes by Unicode category: sample the whole code space.
    values.push(PyValue::Str(PyStr::from_code_points((0..0x11_0000).step_by(97)).unwrap()));
    values.push(PyValue::Str(PyStr::from_code_points((0..0x3400).chain(0xFFF0..0x10100)).unwrap()));
    // Deep and long structures exercise saferepr's maxlevels and truncation.
    let mut nested = PyValue::Int(1);
    for i in 0..6 {
        let mut d = PyDict::new();
        d.insert(format!("level{i}"), nested);
        d.insert("sib", vec![PyValue::Int(i), PyValue::from("x y z")]);
        nested = PyValue::Dict(d);
    }
    values.push(PyValue::List(vec![nested.clone(), nested]));
    values.push(PyValue::List((0..400).map(|i| PyValue::from(format!("item {i}"))).collect()));
    values.push(PyValue::List(vec![PyValue::from("w ".repeat(700)), PyValue::Int(3)]));
    values.push(PyValue::List(vec![PyValue::from("nospaces".repeat(200))]));
    let mut big_dict = PyDict::new();
    for i in 0..200 {
        big_dict.insert(format!("key with spaces {i}"), PyValue::Float(i as f64 / 7.0));
    }
    values.push(PyValue::Dict(big_dict));
    // Floats: random bit patterns cover every exponent range.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut floats = Vec::new();
    while floats.len() < 3000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let f = f64::from_bits(state);
        if f.is_finite() {
            floats.push(PyValue::Float(f));
        }
    }
    values.push(PyValue::List(floats));
    // Values whose exact decimal expansion is short enough to produce rounding ties at 16-17
    // significant digits (Python rounds those half to even).
    let ties: Vec<PyValue> = (0..4000u32)
        .flat_map(|i| {
            let i = f64::from(i);
            [
                1.5e14 + i * 0.03125 * 3.0,
                2.0f64.powi(60) + i * 256.0 * 5.0,
                9.007199254740993e15 + i * 2.0,
                (1u64 << 55) as f64 + i * 8.0 * 7.0,
            ]
        })
        .map(PyValue::Float)
        .collect();
    values.push(PyValue::List(ties));
    values
}

#[test]
fn rust_output_loads_in_python_identically() {
    let values = rust_values();
    let input: String = values.iter().map(|v| v.to_json() + "\n").collect();
    let out = run_python(PYTHON_ECHOES, &input);
    let reports: Vec<&str> = out.lines().collect();
    assert_eq!(reports.len(), values.len());
    for (value, report) in values.iter().zip(reports) {
        let report = json::parse(report.as_bytes()).expect("python report");
        let report = report.as_dict().expect("report object");
        let field = |k: &str| report.get(k).and_then(PyValue::as_py_str).cloned();
        let ours = value.to_json();
        assert_eq!(field("dumps").unwrap().as_str(), Some(ours.as_str()), "json.dumps(json.loads(ours))");
        assert_eq!(field("repr").unwrap(), json::py_repr(value), "repr of {:.200}", ours);
        assert_eq!(
            field("saferepr").unwrap(),
            json::saferepr(value, Some(1024)),
            "saferepr of {:.200}",
            ours
        );
        if let Some(items) = value.as_list() {
            assert_eq!(
                field("saferepr_tuple").unwrap(),
                json::saferepr_args(items, ArgsStyle::Tuple, Some(1024)),
                "saferepr(tuple) of {:.200}",
                ours
            );
        }
    }
}

const KOMBU_MARKERS: &str = r#"
import datetime, decimal, uuid
from kombu.utils.json import dumps
utc = datetime.timezone.utc
for v in [
    datetime.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=utc),
    datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))),
    datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.date(2024, 2, 29),
    datetime.time(3, 4, 5, 6),
    decimal.Decimal("-3.14159265358979323846264338327950288E+5"),
    uuid.UUID("6f1c0000-0000-4000-8000-000000000001"),
    b"plain bytes",
    b"\xff\x00binary",
]:
    print(dumps(v))
"#;

#[test]
fn kombu_markers_decode_and_reencode_identically() {
    use celery_proto::json::Marker;
    let out = run_python(KOMBU_MARKERS, "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 9);
    let mut decoded = Vec::new();
    for line in &lines {
        let v = json::parse(line.as_bytes()).unwrap();
        let marker = Marker::from_value(&v).expect("marker shape").unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(marker.to_value().to_json(), *line);
        decoded.push(marker);
    }
    assert!(matches!(&decoded[0], Marker::DateTime(dt) if dt.timestamp_micros() == 1_704_164_645_000_678));
    assert!(matches!(&decoded[2], Marker::NaiveDateTime(_)));
    assert!(matches!(&decoded[7], Marker::Bytes(b) if b == b"plain bytes"));
    assert!(matches!(&decoded[8], Marker::Bytes(b) if b == b"\xff\x00binary"));
}

const KOMBU_LOADS: &str = r#"
import sys
from kombu.utils.json import loads
for line in sys.stdin:
    try:
        print(repr(loads(line)))
    except Exception as e:
        print("ERROR", type(e).__name__)
"#;

#[test]
fn markers_built_here_load_in_kombu() {
    use celery_proto::json::Marker;
    use chrono::TimeZone;
    let at = chrono::FixedOffset::east_opt(3600).unwrap().with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap();
    let values = [
        Marker::DateTime(at).to_value(),
        Marker::Date(chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()).to_value(),
        Marker::time(chrono::NaiveTime::from_hms_micro_opt(3, 4, 5, 6).unwrap()).to_value(),
        Marker::Decimal("1.10".into()).to_value(),
        Marker::Uuid(uuid::Uuid::parse_str("6f1c0000-0000-4000-8000-000000000001").unwrap()).to_value(),
        Marker::Bytes(b"caf\xe9".to_vec()).to_value(),
        // What the builders refuse: kombu cannot load it either.
        PyValue::Dict(celery_proto::pydict! {"__type__" => "nope", "__value__" => 1}),
    ];
    for v in &values[..6] {
        json::check_markers(v).unwrap();
    }
    assert!(json::check_markers(&values[6]).is_err());
    let input: String = values.iter().map(|v| v.to_json() + "\n").collect();
    let out = run_python(KOMBU_LOADS, &input);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(seconds=3600)))",
            "datetime.date(2024, 2, 29)",
            "datetime.time(3, 4, 5, 6)",
            "Decimal('1.10')",
            "UUID('6f1c0000-0000-4000-8000-000000000001')",
            "b'caf\\xe9'",
            "ERROR ValueError",
        ]
    );
}
