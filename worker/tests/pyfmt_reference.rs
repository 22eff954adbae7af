//! `pyfmt` against Python itself on many values: `repr(float)`, `float(text)`,
//! `str(timedelta(milliseconds=x * 1000))` and the UTC ISO form `asdict()` prints.

mod common;

use common::Lcg;
use irods_ingest::pyfmt;

const SCRIPT: &str = r#"
import datetime, json, struct, sys
out = []
for bits in json.load(sys.stdin):
    x = struct.unpack('<d', struct.pack('<Q', bits))[0]
    row = {'repr': repr(x), 'float_of_repr': struct.unpack('<Q', struct.pack('<d', float(repr(x))))[0]}
    try:
        row['timedelta'] = str(datetime.timedelta(milliseconds=x * 1000))
    except OverflowError:
        row['timedelta'] = None
    try:
        row['iso'] = datetime.datetime.fromtimestamp(x, tz=datetime.timezone.utc).isoformat(timespec='milliseconds')
    except (OverflowError, ValueError, OSError):
        row['iso'] = None
    out.append(row)
print(json.dumps(out))
"#;

#[test]
fn python_text_forms_match_on_many_values() {
    let mut values: Vec<f64> = vec![
        0.0,
        -0.0,
        1.0,
        0.1,
        1e-4,
        1e-5,
        1e15,
        1e16,
        1.5e16,
        123456789.12345679,
        1795333895.50493,
        1795333895.0,
        1795333899.123456,
        2.628335,
        0.0005,
        0.0015,
        0.0025,
        -0.5,
        -1.0000005,
        86399.9999996,
        86400.0,
        90061.25,
        1e-7,
        5e-324,
        1.7976931348623157e308,
        3600.0 * 24.0 * 365.0 * 100.0,
    ];
    let mut rng = Lcg::new(42);
    for _ in 0..400 {
        // Times around now with microsecond or finer fractions, durations, and odd magnitudes.
        let base = 1.7e9 + (rng.next() % 100_000_000) as f64;
        values.push(base + (rng.next() % 1_000_000) as f64 / 1e6);
        values.push((rng.next() % 10_000_000) as f64 / 1e3 + (rng.next() % 1000) as f64 * 1e-9);
        values.push(f64::from_bits(rng.next() << 31 | rng.next()));
    }
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    let bits: Vec<u64> = values.iter().map(|v| v.to_bits()).collect();
    let input = serde_json::to_string(&bits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fmt.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = std::process::Command::new(test_support::venv_python())
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(output.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), values.len());
    assert!(values.len() > 1000);
    for (x, row) in values.iter().zip(&rows) {
        let repr = pyfmt::float_repr(*x);
        assert_eq!(repr, row["repr"].as_str().unwrap(), "repr of {x:e}");
        assert_eq!(
            pyfmt::parse_float(&repr).unwrap().to_bits(),
            row["float_of_repr"].as_u64().unwrap(),
            "float({repr})"
        );
        if let Some(want) = row["timedelta"].as_str() {
            assert_eq!(
                pyfmt::format_timedelta(pyfmt::timedelta_from_seconds(*x)),
                want,
                "timedelta of {repr}"
            );
        }
        if let Some(want) = row["iso"].as_str() {
            assert_eq!(pyfmt::utc_iso_millis(*x).as_deref(), Some(want), "iso of {repr}");
        }
    }
}
