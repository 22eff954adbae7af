//! Python numbers: unbounded ints kept as digits, and `repr(float)`.

use std::fmt;

/// An int outside the `i64` range, kept as its canonical decimal digits (optional `-`, no
/// leading zeros), exactly as Python's `str(int)` prints it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Box<str>);

impl BigInt {
    /// Parses canonical decimal digits (`-?[1-9][0-9]*` or `0`). Leading zeros and `-0` are
    /// normalised like Python's `int()` does.
    pub fn parse(text: &str) -> Option<BigInt> {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Some(BigInt("0".into()));
        }
        let canonical = if neg { format!("-{digits}") } else { digits.to_owned() };
        Some(BigInt(canonical.into_boxed_str()))
    }

    pub(crate) fn from_u64(v: u64) -> BigInt {
        BigInt(v.to_string().into_boxed_str())
    }

    /// The decimal digits (with sign).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as `i128`, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({})", self.0)
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Python's `repr(float)` for finite values; `nan`, `inf`, `-inf` otherwise.
///
/// Python prints the shortest digit string that round-trips (same as Rust's `{:e}`), in
/// positional notation when the decimal exponent `e` (value = d.ddd × 10^e) satisfies
/// `-4 <= e < 16`, else in scientific notation with at least two exponent digits and a sign
/// (`1e+16`, `1e-05`). Positional output always has a fractional part (`1.0`).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".to_owned() } else { "-inf".to_owned() };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e16", "0e0".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    }
    out
}
