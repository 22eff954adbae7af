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
/// Python prints the shortest digit string that round-trips (nearest to the exact value, ties
/// to even, where Rust's `{:e}` may round a tie up), in
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
    let (neg, digits, exp) = shortest_digits(f);
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

/// The shortest digit string that reads back as `f`, choosing — like Python's dtoa — the one
/// nearest to the exact binary value when several of that length round-trip (ties to even).
/// Returns (negative, digits, decimal exponent of the first digit).
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let neg = f.is_sign_negative();
    let a = f.abs();
    // `{:e}` gives shortest round-trip digits: "1.2345e-7", "1e16", "0e0".
    let (digits, exp) = split_sci(&format!("{a:e}"));
    if a == 0.0 || digits.len() < 2 {
        return (neg, digits, exp);
    }
    let n = digits.len();
    // Correctly rounded digits well past the shortest length show which n-digit neighbour is
    // nearest to the exact value.
    let (wide, wide_exp) = split_sci(&format!("{a:.prec$e}", prec = n + 24));
    if wide_exp != exp || wide.len() <= n {
        return (neg, digits, exp);
    }
    let tail = &wide[n..];
    let head = &wide[..n];
    let first = tail.as_bytes()[0];
    let rest_zero = tail[1..].bytes().all(|b| b == b'0');
    let round_up = if first > b'5' || (first == b'5' && !rest_zero) {
        true
    } else if first < b'5' {
        false
    } else {
        // Possibly an exact tie; decide with the exact expansion (every f64 has one of at most
        // 767 significant digits).
        let (exact, _) = split_sci(&format!("{a:.1100e}"));
        let exact_tail = exact.get(n..).unwrap_or("");
        let beyond_half = exact_tail.get(1..).is_some_and(|t| t.bytes().any(|b| b != b'0'));
        if beyond_half {
            true
        } else {
            // Ties to even.
            (head.as_bytes()[n - 1] - b'0') % 2 == 1
        }
    };
    let (nearest, nearest_exp) = if round_up { increment(head, exp) } else { (head.to_owned(), exp) };
    if nearest == digits && nearest_exp == exp {
        return (neg, digits, exp);
    }
    let candidate = format!("{}.{}e{}", &nearest[..1], &nearest[1..], nearest_exp);
    if candidate.parse::<f64>().ok() == Some(a) {
        let trimmed = nearest.trim_end_matches('0');
        let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
        (neg, trimmed.to_owned(), nearest_exp)
    } else {
        (neg, digits, exp)
    }
}

/// Splits Rust's `{:e}` output ("1.25e-7") into digits without the point ("125") and exponent.
fn split_sci(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Adds one unit in the last place to a digit string, carrying into the exponent on overflow.
fn increment(digits: &str, exp: i32) -> (String, i32) {
    let mut bytes = digits.as_bytes().to_vec();
    for i in (0..bytes.len()).rev() {
        if bytes[i] == b'9' {
            bytes[i] = b'0';
        } else {
            bytes[i] += 1;
            return (String::from_utf8(bytes).unwrap_or_default(), exp);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 1);
    out.push('1');
    out.push_str(&"0".repeat(bytes.len() - 1));
    (out, exp + 1)
}
