//! Python's text forms of numbers and times, where a value written by Rust must be the one Python
//! would write (Redis values read by Python peers, `irods_sync list` output).
//!
//! * [`float_repr`]: `repr(float)` / `str(float)` — how redis-py stores `time.time()` and how the
//!   reference writes `sync_time:/` values (re-exported from `celery_proto::json`).
//! * [`parse_float`]: `float(bytes)` for values read back.
//! * [`timedelta_from_seconds`] / [`format_timedelta`]: `str(datetime.timedelta(milliseconds=x*1000))`.
//! * [`utc_iso_millis`]: `datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")`.
//!
//! `json.dumps` itself and `datetime.isoformat()` of Celery's timestamps are celery-proto's
//! (`celery_proto::json::to_json_string`, `celery_proto::message::isoformat_utc`); this module
//! keeps only the forms celery-proto has no use for.

/// `repr(float)`: celery-proto's, the one every Python-facing number in this workspace uses.
pub use celery_proto::json::float_repr;

/// Python's `float(value)` for the forms Redis values take: surrounding whitespace allowed,
/// `inf`/`nan` accepted, underscores between digits accepted.
pub fn parse_float(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let cleaned: String;
    let candidate = if trimmed.contains('_') {
        let bytes = trimmed.as_bytes();
        let ok = bytes.iter().enumerate().all(|(i, &b)| {
            b != b'_'
                || (i > 0
                    && i + 1 < bytes.len()
                    && bytes[i - 1].is_ascii_digit()
                    && bytes[i + 1].is_ascii_digit())
        });
        if !ok {
            return None;
        }
        cleaned = trimmed.replace('_', "");
        cleaned.as_str()
    } else {
        trimmed
    };
    let lower = candidate.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return candidate.parse::<f64>().ok().or_else(|| {
            let negative = lower.starts_with('-');
            let value = if unsigned == "nan" { f64::NAN } else { f64::INFINITY };
            Some(if negative { -value } else { value })
        });
    }
    // Rust accepts "inf"/"nan" spellings Python rejects ("infinity" is accepted by both); all other
    // syntax (digits, '.', exponent) is the same.
    if candidate.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    candidate.parse::<f64>().ok()
}

/// A Python `timedelta`, normalised as Python does: `0 <= seconds < 86400`, `0 <= micros < 10^6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeDelta {
    pub days: i64,
    pub seconds: i64,
    pub microseconds: i64,
}

impl TimeDelta {
    pub fn from_microseconds(total: i128) -> Self {
        let per_day = 86_400_000_000i128;
        let days = total.div_euclid(per_day);
        let rest = total.rem_euclid(per_day);
        Self {
            days: days as i64,
            seconds: (rest / 1_000_000) as i64,
            microseconds: (rest % 1_000_000) as i64,
        }
    }
}

/// `timedelta(milliseconds=seconds * 1000)`, reproducing CPython's float accumulation: the
/// integral milliseconds are exact, the fraction is scaled to microseconds and rounded half to
/// even (ties broken on the parity of the running total).
pub fn timedelta_from_seconds(seconds: f64) -> TimeDelta {
    let millis = seconds * 1000.0;
    if !millis.is_finite() {
        return TimeDelta { days: 0, seconds: 0, microseconds: 0 };
    }
    let int_part = millis.trunc();
    let frac = millis - int_part;
    let mut sum: i128 = (int_part as i128) * 1000;
    let mut leftover = 0.0f64;
    if frac != 0.0 {
        let scaled = frac * 1000.0;
        let whole = scaled.trunc();
        sum += whole as i128;
        leftover = scaled - whole;
    }
    if leftover != 0.0 {
        let mut whole = leftover.round();
        if (whole - leftover).abs() == 0.5 {
            // Round half to even, judged on the parity of the total so far.
            let is_odd = (sum & 1) as f64;
            whole = 2.0 * ((leftover + is_odd) * 0.5).round() - is_odd;
        }
        sum += whole as i128;
    }
    TimeDelta::from_microseconds(sum)
}

/// `str(timedelta)`: `[D day[s], ]H:MM:SS[.ffffff]`.
pub fn format_timedelta(delta: TimeDelta) -> String {
    let mut out = String::new();
    if delta.days != 0 {
        let plural = if delta.days.abs() != 1 { "s" } else { "" };
        out.push_str(&format!("{} day{}, ", delta.days, plural));
    }
    let (h, m, s) = (delta.seconds / 3600, (delta.seconds % 3600) / 60, delta.seconds % 60);
    out.push_str(&format!("{h}:{m:02}:{s:02}"));
    if delta.microseconds != 0 {
        out.push_str(&format!(".{:06}", delta.microseconds));
    }
    out
}

/// `datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")`, e.g.
/// `2026-11-22T07:54:22.267+00:00`. The fraction is rounded half to even to microseconds (as
/// CPython does), then truncated to milliseconds.
pub fn utc_iso_millis(timestamp: f64) -> Option<String> {
    if !timestamp.is_finite() {
        return None;
    }
    let mut int_part = timestamp.trunc();
    let mut micros = ((timestamp - int_part) * 1e6).round_ties_even();
    if micros >= 1e6 {
        micros -= 1e6;
        int_part += 1.0;
    } else if micros < 0.0 {
        micros += 1e6;
        int_part -= 1.0;
    }
    let when = chrono::DateTime::from_timestamp(int_part as i64, 0)?;
    Some(format!("{}.{:03}+00:00", when.format("%Y-%m-%dT%H:%M:%S"), (micros as i64) / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python_forms() {
        assert_eq!(float_repr(1795333895.50493), "1795333895.50493");
        assert_eq!(float_repr(1795333895.0), "1795333895.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e16), "1.5e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(-0.0), "-0.0");
        assert_eq!(float_repr(f64::NAN), "nan");
    }

    #[test]
    fn parse_float_accepts_python_forms() {
        assert_eq!(parse_float(" 1.5\n"), Some(1.5));
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("1__0"), None);
        assert_eq!(parse_float("abc"), None);
        assert!(parse_float("-inf").unwrap().is_infinite());
    }

    #[test]
    fn timedelta_strings() {
        assert_eq!(format_timedelta(timedelta_from_seconds(0.0)), "0:00:00");
        assert_eq!(format_timedelta(timedelta_from_seconds(2.628335)), "0:00:02.628335");
        assert_eq!(format_timedelta(timedelta_from_seconds(-0.5)), "-1 day, 23:59:59.500000");
        assert_eq!(format_timedelta(timedelta_from_seconds(90061.0)), "1 day, 1:01:01");
    }

    #[test]
    fn iso_times() {
        assert_eq!(utc_iso_millis(0.0).unwrap(), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(utc_iso_millis(1795333895.50493).unwrap(), "2026-11-22T07:51:35.504+00:00");
    }

    #[test]
    fn json_strings() {
        // `json.dumps(str)` is celery-proto's `to_json_string` (used to be duplicated here).
        use celery_proto::json::{PyStr, PyValue, to_json_string};
        let json_string = |s: &str| to_json_string(&PyValue::str(s));
        let json_string_units = |units: &[u16]| {
            let text = PyStr::from_code_points(units.iter().map(|&u| u32::from(u))).unwrap();
            to_json_string(&PyValue::Str(text))
        };
        assert_eq!(json_string("a\"é\n"), "\"a\\\"\\u00e9\\n\"");
        assert_eq!(json_string_units(&[0x62, 0xDCE1]), "\"b\\udce1\"");
    }
}
