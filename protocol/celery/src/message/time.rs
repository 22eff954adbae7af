//! ISO-8601 timestamps as Celery writes and reads them.
//!
//! Writing follows Python's `datetime.isoformat()` for an aware UTC datetime:
//! `2026-11-22T07:48:49.519613+00:00`, where the fraction (always 6 digits) is left out when
//! the microseconds are zero — exactly what Python emits for `eta`, `expires` and `date_done`.
//!
//! Reading is lenient like `dateutil.parser.isoparse` (which Celery uses for `eta`/`expires`):
//! `Z` or `±HH[:MM]` offsets, 1 to 9+ fractional digits (extra precision dropped), `T` or space
//! separator, and no offset meaning UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

/// Python `datetime.isoformat()` of a UTC time: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`.
pub fn isoformat_utc(at: DateTime<Utc>) -> String {
    let micros = at.nanosecond() / 1000 % 1_000_000;
    if micros == 0 {
        at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", at.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// A parsed ISO-8601 date-time, with or without an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoDateTime {
    /// An offset was given (`Z`, `+00:00`, `-0130`, ...).
    Aware(DateTime<FixedOffset>),
    /// No offset.
    Naive(NaiveDateTime),
}

impl IsoDateTime {
    /// The instant, reading a naive time as UTC (Celery's default `timezone`).
    pub fn to_utc(self) -> DateTime<Utc> {
        match self {
            IsoDateTime::Aware(dt) => dt.with_timezone(&Utc),
            IsoDateTime::Naive(dt) => Utc.from_utc_datetime(&dt),
        }
    }
}

/// Parses like `dateutil.parser.isoparse`, returning the instant (naive = UTC).
pub fn parse_iso_lenient(text: &str) -> Option<DateTime<Utc>> {
    parse_python_isoformat(text).map(IsoDateTime::to_utc)
}

/// Parses an ISO-8601 date or date-time (the forms `datetime.isoformat()`, `isoparse` and
/// Python 3.11's `datetime.fromisoformat` accept in practice).
pub fn parse_python_isoformat(text: &str) -> Option<IsoDateTime> {
    let s = text.trim();
    if !s.is_ascii() {
        return None;
    }
    let (date_part, rest) = split_date(s)?;
    let date = parse_date(date_part)?;
    if rest.is_empty() {
        return Some(IsoDateTime::Naive(date.and_time(NaiveTime::MIN)));
    }
    let sep = rest.as_bytes()[0];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let rest = &rest[1..];
    // The offset starts at the first Z/z/+/- after the time.
    let tz_at = rest.find(['Z', 'z', '+', '-']);
    let (time_part, tz_part) = match tz_at {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let time = parse_time(time_part)?;
    let naive = date.and_time(time);
    match tz_part {
        None => Some(IsoDateTime::Naive(naive)),
        Some(tz) => {
            let offset = parse_offset(tz)?;
            let dt = offset.from_local_datetime(&naive).single()?;
            Some(IsoDateTime::Aware(dt))
        }
    }
}

fn split_date(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        Some((&s[..10], &s[10..]))
    } else if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
        Some((&s[..8], &s[8..]))
    } else {
        None
    }
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let (y, m, d) =
        if s.len() == 10 { (&s[0..4], &s[5..7], &s[8..10]) } else { (&s[0..4], &s[4..6], &s[6..8]) };
    NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let (hms, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = if hms.contains(':') {
        hms.split(':').collect()
    } else {
        // Basic format: HH, HHMM, HHMMSS.
        if hms.len() % 2 != 0 || hms.len() > 6 {
            return None;
        }
        (0..hms.len()).step_by(2).map(|i| &hms[i..i + 2]).collect()
    };
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h = num(parts[0])?;
    let m = parts.get(1).map_or(Some(0), |p| num(p))?;
    let sec = parts.get(2).map_or(Some(0), |p| num(p))?;
    let micros = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut digits: String = f.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            num(&digits)?
        }
    };
    // isoparse accepts 24:00 as midnight of the next day; that is rare enough to refuse.
    NaiveTime::from_hms_micro_opt(h, m, sec, micros)
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    if s == "Z" || s == "z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &s[1..];
    let (h, m) = match body.len() {
        2 => (num(body)?, 0),
        4 => (num(&body[..2])?, num(&body[2..])?),
        5 if body.as_bytes()[2] == b':' => (num(&body[..2])?, num(&body[3..])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h as i32 * 3600 + m as i32 * 60))
}
