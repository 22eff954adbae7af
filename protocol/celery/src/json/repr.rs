//! Python `repr()` of a [`PyValue`], and Celery's `saferepr` (used for `argsrepr`,
//! `kwargsrepr` and event fields).
//!
//! The two differ: `repr` escapes strings (`'a\nb'`, `"it's"`), while Celery's `saferepr`
//! always uses single quotes, only escapes `'` as `\'`, renders containers deeper than
//! `maxlevels` (3) as `{...}` / `[...]`, and truncates once `maxlen` characters have been
//! produced, closing the open brackets after a `, ...` marker. Messages we emit must carry
//! the same `argsrepr` as Python's, so `saferepr` follows Celery's token-stream algorithm
//! (`celery.utils.saferepr`) step by step.

use super::number::float_repr;
use super::string::PyStr;
use super::value::{PyDict, PyValue};

/// Python's `repr(value)` for the JSON data model (`None`, `True`, `1`, `0.1`, `'s'`, `[...]`,
/// `{...}`).
///
/// String escaping follows CPython: the quote is `'` unless the text contains `'` and no `"`;
/// `\\`, the quote, `\t`, `\n`, `\r` are escaped; other non-printable characters become `\xhh`,
/// `\uhhhh` or `\Uhhhhhhhh`, with "printable" taken from CPython 3.11's Unicode 14 table.
pub fn py_repr(value: &PyValue) -> PyStr {
    let mut out = Vec::new();
    repr_into(&mut out, value);
    PyStr::from_code_points(out).unwrap_or_default()
}

fn push_ascii(out: &mut Vec<u32>, s: &str) {
    out.extend(s.chars().map(|c| c as u32));
}

fn repr_into(out: &mut Vec<u32>, value: &PyValue) {
    match value {
        PyValue::Null => push_ascii(out, "None"),
        PyValue::Bool(true) => push_ascii(out, "True"),
        PyValue::Bool(false) => push_ascii(out, "False"),
        PyValue::Int(i) => push_ascii(out, &i.to_string()),
        PyValue::BigInt(b) => push_ascii(out, b.as_str()),
        PyValue::Float(f) => push_ascii(out, &float_repr(*f)),
        PyValue::Str(s) => repr_str_into(out, s),
        PyValue::List(items) => {
            out.push('[' as u32);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    push_ascii(out, ", ");
                }
                repr_into(out, item);
            }
            out.push(']' as u32);
        }
        PyValue::Dict(d) => {
            out.push('{' as u32);
            for (i, (k, v)) in d.iter().enumerate() {
                if i > 0 {
                    push_ascii(out, ", ");
                }
                repr_str_into(out, k);
                push_ascii(out, ": ");
                repr_into(out, v);
            }
            out.push('}' as u32);
        }
    }
}

/// Python's `repr(str)`.
pub fn repr_str(s: &PyStr) -> PyStr {
    let mut out = Vec::new();
    repr_str_into(&mut out, s);
    PyStr::from_code_points(out).unwrap_or_default()
}

fn repr_str_into(out: &mut Vec<u32>, s: &PyStr) {
    let mut has_single = false;
    let mut has_double = false;
    for cp in s.code_points() {
        has_single |= cp == '\'' as u32;
        has_double |= cp == '"' as u32;
    }
    let quote = if has_single && !has_double { '"' as u32 } else { '\'' as u32 };
    out.push(quote);
    for cp in s.code_points() {
        if cp == quote || cp == '\\' as u32 {
            out.push('\\' as u32);
            out.push(cp);
        } else if cp == '\t' as u32 {
            push_ascii(out, "\\t");
        } else if cp == '\n' as u32 {
            push_ascii(out, "\\n");
        } else if cp == '\r' as u32 {
            push_ascii(out, "\\r");
        } else if cp < 0x20 || cp == 0x7F {
            push_ascii(out, &format!("\\x{cp:02x}"));
        } else if cp < 0x7F || is_printable(cp) {
            out.push(cp);
        } else if cp <= 0xFF {
            push_ascii(out, &format!("\\x{cp:02x}"));
        } else if cp <= 0xFFFF {
            push_ascii(out, &format!("\\u{cp:04x}"));
        } else {
            push_ascii(out, &format!("\\U{cp:08x}"));
        }
    }
    out.push(quote);
}

/// `str.isprintable()` for one code point (CPython 3.11's Unicode table).
fn is_printable(cp: u32) -> bool {
    let table = &super::printable_table::NON_PRINTABLE;
    // The ranges are sorted and disjoint: find the last range starting at or before `cp`.
    let i = table.partition_point(|&(lo, _)| lo <= cp);
    !(i > 0 && cp <= table[i - 1].1)
}

/// Celery's `argsrepr`/`kwargsrepr` size limit (`amqp.argsrepr_maxsize`).
pub const ARGSREPR_MAXSIZE: usize = 1024;

/// Celery's default `maxlevels` for `saferepr`.
pub const SAFEREPR_MAXLEVELS: usize = 3;

/// How the top-level sequence of task args is written: Python callers pass either a tuple
/// (`apply_async(args=(x,))`, giving `"(x,)"`) or a list (`send_task(args=[x])`, `"[x]"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArgsStyle {
    /// `(a, b)`, and `(a,)` for one element.
    #[default]
    Tuple,
    /// `[a, b]`.
    List,
}

/// `celery.utils.saferepr.saferepr(value, maxlen, maxlevels=3)`.
pub fn saferepr(value: &PyValue, maxlen: Option<usize>) -> PyStr {
    let mut r = SafeRepr::new(maxlen);
    r.run(vec![Item::Value(value)]);
    r.finish()
}

/// `saferepr(args, maxlen)` where `args` is a Python tuple or list of the given elements.
pub fn saferepr_args(args: &[PyValue], style: ArgsStyle, maxlen: Option<usize>) -> PyStr {
    let mut r = SafeRepr::new(maxlen);
    r.run(vec![Item::Seq(args, style)]);
    r.finish()
}

/// One element of the token stream: literals, dict keys, and values not yet expanded.
#[derive(Clone, Copy)]
enum Item<'a> {
    /// Text; `truncate` literals (separators) are dropped when closing after truncation.
    Lit {
        text: &'static str,
        truncate: bool,
        direction: i32,
    },
    Key(&'a PyStr),
    Value(&'a PyValue),
    /// The top-level args sequence.
    Seq(&'a [PyValue], ArgsStyle),
}

const LIT_KVSEP: Item<'static> = Item::Lit { text: ": ", truncate: true, direction: 0 };
const LIT_SEP: Item<'static> = Item::Lit { text: ", ", truncate: true, direction: 0 };

struct SafeRepr {
    maxlen: Option<i64>,
    level: i64,
    out: Vec<u32>,
}

impl SafeRepr {
    fn new(maxlen: Option<usize>) -> Self {
        SafeRepr { maxlen: maxlen.map(|m| m as i64), level: 0, out: Vec::new() }
    }

    fn finish(self) -> PyStr {
        PyStr::from_code_points(self.out).unwrap_or_default()
    }

    fn emit(&mut self, text: &[u32]) {
        self.out.extend_from_slice(text);
        if let Some(m) = &mut self.maxlen {
            *m -= text.len() as i64;
        }
    }

    /// Expands a container into its items (start literal, elements with separators, end).
    fn expand<'a>(value: &Item<'a>) -> Option<Vec<Item<'a>>> {
        let (start, end, elements): (&'static str, &'static str, Vec<Item<'a>>) = match value {
            Item::Value(PyValue::List(l)) => ("[", "]", Self::seq_items(l)),
            Item::Value(PyValue::Dict(d)) => ("{", "}", Self::dict_items(d)),
            Item::Seq(l, ArgsStyle::List) => ("[", "]", Self::seq_items(l)),
            Item::Seq(l, ArgsStyle::Tuple) => {
                ("(", if l.len() == 1 { ",)" } else { ")" }, Self::seq_items(l))
            }
            _ => return None,
        };
        let mut items = Vec::with_capacity(elements.len() + 2);
        items.push(Item::Lit { text: start, truncate: false, direction: 1 });
        items.extend(elements);
        items.push(Item::Lit { text: end, truncate: false, direction: -1 });
        Some(items)
    }

    fn seq_items(l: &[PyValue]) -> Vec<Item<'_>> {
        let mut v = Vec::with_capacity(l.len() * 2);
        for (i, e) in l.iter().enumerate() {
            if i > 0 {
                v.push(LIT_SEP);
            }
            v.push(Item::Value(e));
        }
        v
    }

    fn dict_items(d: &PyDict) -> Vec<Item<'_>> {
        let mut v = Vec::with_capacity(d.len() * 4);
        for (i, (k, val)) in d.iter().enumerate() {
            if i > 0 {
                v.push(LIT_SEP);
            }
            v.push(Item::Key(k));
            v.push(LIT_KVSEP);
            v.push(Item::Value(val));
        }
        v
    }

    /// Runs the stream. `stack` holds pending items in reverse order (next item last).
    fn run(&mut self, initial: Vec<Item<'_>>) {
        let mut stack: Vec<Item<'_>> = initial.into_iter().rev().collect();
        while let Some(item) = stack.pop() {
            // Turn the item into a token (text to emit), expanding containers in place.
            let token: Vec<u32> = match item {
                Item::Lit { text, direction, .. } => {
                    self.level += i64::from(direction);
                    text.chars().map(|c| c as u32).collect()
                }
                Item::Key(k) => {
                    // Celery renders keys with a nested saferepr sharing the remaining maxlen.
                    if self.check_exhausted(&mut stack) {
                        return;
                    }
                    let m = self.maxlen.map(|m| m.max(0) as usize);
                    let key = quoted(k, m);
                    self.emit(&key);
                    continue;
                }
                Item::Value(v) if !matches!(v, PyValue::List(_) | PyValue::Dict(_)) => {
                    if self.check_exhausted(&mut stack) {
                        return;
                    }
                    let m = self.maxlen.map(|m| m.max(0) as usize);
                    let text = match v {
                        PyValue::Str(s) => quoted(s, m),
                        other => truncate(&scalar_str(other), m),
                    };
                    self.emit(&text);
                    continue;
                }
                container => {
                    let Some(items) = Self::expand(&container) else { continue };
                    let depth_limited = self.level >= SAFEREPR_MAXLEVELS as i64;
                    if depth_limited {
                        // `{...}`: start text, "...", end text, as one plain token.
                        let (Item::Lit { text: s, .. }, Some(Item::Lit { text: e, .. })) =
                            (items[0], items.last().copied())
                        else {
                            continue;
                        };
                        if self.check_exhausted(&mut stack) {
                            return;
                        }
                        let m = self.maxlen.map(|m| m.max(0) as usize);
                        let text: Vec<u32> = format!("{s}...{e}").chars().map(|c| c as u32).collect();
                        let text = truncate(&text, m);
                        self.emit(&text);
                        continue;
                    }
                    stack.extend(items.into_iter().rev());
                    continue;
                }
            };
            // Literal tokens also go through the exhaustion check (the token is then lost, as
            // in Celery).
            if self.check_exhausted(&mut stack) {
                return;
            }
            self.emit(&token);
        }
    }

    /// When `maxlen` is used up: write `, ...` and the closing brackets still pending.
    fn check_exhausted(&mut self, stack: &mut Vec<Item<'_>>) -> bool {
        match self.maxlen {
            Some(m) if m <= 0 => {
                self.out.extend(", ...".chars().map(|c| c as u32));
                while let Some(item) = stack.pop() {
                    if let Item::Lit { text, truncate: false, .. } = item {
                        self.out.extend(text.chars().map(|c| c as u32));
                    }
                }
                true
            }
            _ => false,
        }
    }
}

/// `str(x)` for the non-string scalars as Celery's saferepr prints them.
fn scalar_str(v: &PyValue) -> Vec<u32> {
    let s = match v {
        PyValue::Null => "None".to_owned(),
        PyValue::Bool(true) => "True".to_owned(),
        PyValue::Bool(false) => "False".to_owned(),
        PyValue::Int(i) => i.to_string(),
        PyValue::BigInt(b) => b.as_str().to_owned(),
        PyValue::Float(f) => float_repr(*f),
        _ => String::new(),
    };
    s.chars().map(|c| c as u32).collect()
}

/// `celery.utils.text.truncate(s, maxlen)`: if `len(s) >= maxlen`, cut to `maxlen`, drop the
/// last partial word (`rsplit(' ', 1)[0]`) and append `...`. `maxlen` of 0/None disables it.
fn truncate(s: &[u32], maxlen: Option<usize>) -> Vec<u32> {
    match maxlen {
        Some(m) if m > 0 && s.len() >= m => {
            let cut = &s[..m];
            let kept = match cut.iter().rposition(|&c| c == ' ' as u32) {
                Some(i) => &cut[..i],
                None => cut,
            };
            let mut v = kept.to_vec();
            v.extend("...".chars().map(|c| c as u32));
            v
        }
        _ => s.to_vec(),
    }
}

/// `_format_chars`: `'` + truncate(s) with `'` replaced by `\'` + `'`.
fn quoted(s: &PyStr, maxlen: Option<usize>) -> Vec<u32> {
    let points: Vec<u32> = s.code_points().collect();
    let t = truncate(&points, maxlen);
    let mut out = Vec::with_capacity(t.len() + 2);
    out.push('\'' as u32);
    for cp in t {
        if cp == '\'' as u32 {
            out.push('\\' as u32);
        }
        out.push(cp);
    }
    out.push('\'' as u32);
    out
}
