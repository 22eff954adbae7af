//! Unit tests for the Python-compatible JSON value. Expected strings are what CPython 3.11's
//! `json.dumps` / `repr` print for the same values (checked against the real interpreter by
//! `tests/golden_python_roundtrip.rs`).

use super::*;

fn roundtrip(text: &str) -> String {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}")).to_json()
}

#[test]
fn python_dumps_output_round_trips_byte_for_byte() {
    for text in [
        r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        r#"[1.5, -0.0, 0.1, 1e+16, 1e-07, 123456789.123, 5e-324, 1.7976931348623157e+308]"#,
        r#"[NaN, Infinity, -Infinity]"#,
        r#"[123456789012345678901234567890, -98765432109876543210, 9223372036854775807, -9223372036854775808]"#,
        r#""caf\udce9.txt""#,
        r#""\ud83d\ude00 \u00e9\u4e2d \u007f \u0000\u001f""#,
        r#""quote\" backslash\\ \n\r\t\b\f /""#,
        r#"{"__type__": "datetime", "__value__": "2024-01-02T03:04:05+00:00"}"#,
        r#"{}"#,
        r#"[]"#,
        r#"[[], {}, [[]], {"": ""}]"#,
    ] {
        assert_eq!(roundtrip(text), text);
    }
}

#[test]
fn non_canonical_input_is_rewritten_as_python_would() {
    // Python's json.loads + json.dumps of the same input.
    assert_eq!(roundtrip(r#" {"a":1,"b" : [1,2] } "#), r#"{"a": 1, "b": [1, 2]}"#);
    assert_eq!(roundtrip(r#""é/€😀""#), r#""\u00e9/\u20ac\ud83d\ude00""#);
    assert_eq!(
        roundtrip(r#"[1E2, 1.50, 0.000001, -0, 1e400, -1e400]"#),
        "[100.0, 1.5, 1e-06, 0, Infinity, -Infinity]"
    );
    assert_eq!(roundtrip(r#"{"a": 1, "b": 2, "a": 3}"#), r#"{"a": 3, "b": 2}"#);
    assert_eq!(roundtrip(r#""\u00E9""#), r#""\u00e9""#);
}

#[test]
#[allow(clippy::excessive_precision)]
fn float_repr_matches_python() {
    let cases: &[(f64, &str)] = &[
        (0.1, "0.1"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1.5e16, "1.5e+16"),
        (1e-7, "1e-07"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (123456789.123, "123456789.123"),
        (1795333845.6545687, "1795333845.6545687"),
        (9999999999999998.0, "9999999999999998.0"),
        (1e22, "1e+22"),
        (1.2345678901234568e-300, "1.2345678901234568e-300"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (2.0f64.powi(60), "1.152921504606847e+18"),
        (0.3, "0.3"),
        (1.0 / 3.0, "0.3333333333333333"),
        (100.0, "100.0"),
        // An exact tie between two 17-digit candidates: Python rounds half to even.
        (154446623768692.125, "154446623768692.12"),
    ];
    for &(f, want) in cases {
        assert_eq!(float_repr(f), want, "{f:e}");
        assert_eq!(parse(want.as_bytes()).unwrap().to_json(), want);
    }
    assert_eq!(float_repr(f64::NAN), "nan");
    assert_eq!(json_float(f64::NAN), "NaN");
    assert_eq!(json_float(f64::NEG_INFINITY), "-Infinity");
}

#[test]
fn lone_surrogates_survive_and_map_to_filesystem_bytes() {
    let v = parse(br#""caf\udce9.txt""#).unwrap();
    let s = v.as_py_str().unwrap();
    assert!(s.has_lone_surrogates());
    assert_eq!(s.as_str(), None);
    assert_eq!(s.char_len(), 8);
    assert_eq!(&*s.to_fs_bytes().unwrap(), b"caf\xe9.txt");
    assert_eq!(s.to_string_lossy(), "caf\u{fffd}.txt");

    let back = PyStr::from_fs_bytes(b"caf\xe9.txt");
    assert_eq!(&back, s);
    assert_eq!(PyValue::Str(back).to_json(), r#""caf\udce9.txt""#);

    // Valid UTF-8 stays plain text.
    let plain = PyStr::from_fs_bytes("café".as_bytes());
    assert_eq!(plain.as_str(), Some("café"));

    // Bytes that look like an encoded surrogate are escaped byte by byte, as surrogateescape does.
    let odd = PyStr::from_fs_bytes(b"a\xed\xa0\x80b\xff");
    assert_eq!(PyValue::Str(odd.clone()).to_json(), r#""a\udced\udca0\udc80b\udcff""#);
    assert_eq!(&*odd.to_fs_bytes().unwrap(), b"a\xed\xa0\x80b\xff");

    // A truncated multi-byte sequence at the end.
    let cut = PyStr::from_fs_bytes(b"x\xe2\x82");
    assert_eq!(PyValue::Str(cut.clone()).to_json(), r#""x\udce2\udc82""#);
    assert_eq!(&*cut.to_fs_bytes().unwrap(), b"x\xe2\x82");

    // Surrogates outside U+DC80..U+DCFF have no byte: os.fsencode raises, so do we.
    let high = parse(br#""a\ud800b""#).unwrap();
    let err = high.as_py_str().unwrap().to_fs_bytes().unwrap_err();
    assert_eq!((err.code_point, err.index), (0xD800, 1));
    let low = parse(br#""\udc41""#).unwrap();
    assert!(low.as_py_str().unwrap().to_fs_bytes().is_err());
}

#[test]
fn surrogate_pairs_combine_only_when_adjacent_escapes() {
    let v = parse(br#""\ud83d\ude00""#).unwrap();
    assert_eq!(v.as_str(), Some("😀"));
    let v = parse(br#""\ud83dx\ude00""#).unwrap();
    assert!(v.as_py_str().unwrap().has_lone_surrogates());
    assert_eq!(v.to_json(), r#""\ud83dx\ude00""#);
    let v = parse(br#""\ude00\ud83d""#).unwrap();
    assert_eq!(v.to_json(), r#""\ude00\ud83d""#);
    assert_eq!(v.as_py_str().unwrap().char_len(), 2);
    // A high surrogate at the very end.
    assert_eq!(roundtrip(r#""abc\ud800""#), r#""abc\ud800""#);
}

#[test]
fn big_ints_keep_their_digits() {
    let v = parse(b"[18446744073709551616, -18446744073709551617, 9223372036854775808]").unwrap();
    let items = v.as_list().unwrap();
    assert!(matches!(&items[0], PyValue::BigInt(b) if b.as_str() == "18446744073709551616"));
    assert_eq!(items[2].as_f64(), Some(9223372036854775808.0));
    assert!(matches!(parse(b"9223372036854775807").unwrap(), PyValue::Int(i64::MAX)));
    let long = "7".repeat(4300);
    assert_eq!(roundtrip(&long), long);
    let too_long = "7".repeat(4301);
    assert!(matches!(parse(too_long.as_bytes()).unwrap_err().kind, JsonErrorKind::IntTooLong(4301)));
}

#[test]
fn object_order_and_access() {
    let mut d = PyDict::new();
    d.insert("z", 1);
    d.insert("a", 2);
    d.insert("z", 3);
    assert_eq!(PyValue::Dict(d.clone()).to_json(), r#"{"z": 3, "a": 2}"#);
    assert_eq!(d.remove("z"), Some(PyValue::Int(3)));
    assert_eq!(d.to_json(), r#"{"a": 2}"#);
    let m = crate::pydict! { "x" => 1, "y" => "two" };
    assert_eq!(m.to_json(), r#"{"x": 1, "y": "two"}"#);
}

#[test]
fn many_duplicate_keys_stay_linear_and_correct() {
    let mut text = String::from("{");
    for i in 0..5000 {
        text.push_str(&format!("\"k{}\": {i}, ", i % 100));
    }
    text.push_str("\"end\": 0}");
    let v = parse(text.as_bytes()).unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.len(), 101);
    assert_eq!(d.get("k0"), Some(&PyValue::Int(4900)));
    assert_eq!(d.keys().next().unwrap(), "k0");
}

#[test]
fn errors_say_what_and_where() {
    let e = parse(b"{\"a\": 1,\n \"b\" 2}").unwrap_err();
    assert_eq!(e.kind, JsonErrorKind::UnexpectedChar('2'));
    assert_eq!((e.line, e.column, e.offset), (2, 6, 14));
    assert_eq!(e.to_string(), "unexpected character '2' at line 2 column 6 (byte 14)");

    let cases: &[(&[u8], JsonErrorKind)] = &[
        (b"", JsonErrorKind::UnexpectedEnd),
        (b"[1,]", JsonErrorKind::UnexpectedChar(']')),
        (b"{1: 2}", JsonErrorKind::KeyNotString),
        (b"\"a\x01\"", JsonErrorKind::ControlCharInString(1)),
        (b"\"\\x41\"", JsonErrorKind::InvalidEscape('x')),
        (b"\"\\u12g4\"", JsonErrorKind::InvalidUnicodeEscape),
        (b"\"\\u12", JsonErrorKind::InvalidUnicodeEscape),
        (b"[1] x", JsonErrorKind::TrailingData),
        (b"01", JsonErrorKind::TrailingData),
        (b"-", JsonErrorKind::InvalidNumber),
        (b"1.", JsonErrorKind::TrailingData),
        (b"nul", JsonErrorKind::UnexpectedChar('n')),
        (b"\"abc", JsonErrorKind::UnexpectedEnd),
        (b"[\"\xff\"]", JsonErrorKind::InvalidUtf8),
        (b"\xef\xbb\xbf[]", JsonErrorKind::ByteOrderMark),
        (b"'a'", JsonErrorKind::UnexpectedChar('\'')),
        (b"nan", JsonErrorKind::UnexpectedChar('n')),
    ];
    for (input, kind) in cases {
        assert_eq!(&parse(input).unwrap_err().kind, kind, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "[".repeat(100_000);
    assert!(matches!(parse(deep.as_bytes()).unwrap_err().kind, JsonErrorKind::TooDeep(512)));
    let ok = format!("{}{}", "[".repeat(512), "]".repeat(512));
    assert!(parse(ok.as_bytes()).is_ok());
    let too = format!("{}{}", "{\"a\": ".repeat(513), "}".repeat(513));
    assert!(matches!(parse(too.as_bytes()).unwrap_err().kind, JsonErrorKind::TooDeep(_)));
    let limits = ParseLimits { max_bytes: 4, ..ParseLimits::default() };
    assert!(matches!(parse_with_limits(b"[1, 2]", limits).unwrap_err().kind, JsonErrorKind::TooLarge(4)));
}

#[test]
fn python_repr() {
    let v = parse(br#"[null, true, false, 1, 1.0, 1e+16, "it's", "a\"b", "both'\"", "tab\tnl\n\u0001\u007f\u00e9\u00a0\u200b\ud800", {"k": [1, {}]}]"#)
        .unwrap();
    assert_eq!(
        py_repr(&v).to_string_lossy(),
        "[None, True, False, 1, 1.0, 1e+16, \"it's\", 'a\"b', 'both\\'\"', 'tab\\tnl\\n\\x01\\x7fé\\xa0\\u200b\\ud800', {'k': [1, {}]}]"
    );
    assert_eq!(py_repr(&PyValue::Float(f64::NAN)).to_string_lossy(), "nan");
    assert_eq!(py_repr(&PyValue::Float(f64::NEG_INFINITY)).to_string_lossy(), "-inf");
}

#[test]
fn celery_saferepr() {
    let args = parse(br#"[{"a": 1}]"#).unwrap();
    let args = args.as_list().unwrap();
    assert_eq!(saferepr_args(args, ArgsStyle::List, Some(1024)), "[{'a': 1}]");
    assert_eq!(saferepr_args(args, ArgsStyle::Tuple, Some(1024)), "({'a': 1},)");
    assert_eq!(saferepr_args(&[], ArgsStyle::Tuple, Some(1024)), "()");
    let two = [PyValue::Int(1), PyValue::Null];
    assert_eq!(saferepr_args(&two, ArgsStyle::Tuple, Some(1024)), "(1, None)");
    // saferepr does not escape like repr: only ' gets a backslash; newlines stay raw.
    let s = parse(br#"{"k": "it's\nx", "n": [1, [2, [3, [4]]]], "f": 0.5, "b": true}"#).unwrap();
    assert_eq!(saferepr(&s, Some(1024)), "{'k': 'it\\'s\nx', 'n': [1, [2, [...]]], 'f': 0.5, 'b': True}");
    // Truncation: strings cut at a word boundary, then ", ..." and the pending brackets.
    let long = PyValue::List(vec![PyValue::from("word ".repeat(300)), PyValue::Int(5)]);
    let r = saferepr(&long, Some(1024)).to_string_lossy().into_owned();
    assert!(r.starts_with("['word word"), "{r}");
    assert!(r.ends_with("word...', ...]"), "{r}");
}

#[cfg(unix)]
#[test]
fn paths_convert_like_os_fsencode() {
    use std::os::unix::ffi::OsStrExt;
    let raw = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/src/caf\xe9/x.txt"));
    let s = PyStr::from_path(raw);
    assert_eq!(PyValue::Str(s.clone()).to_json(), r#""/src/caf\udce9/x.txt""#);
    assert_eq!(s.to_path_buf().unwrap(), raw);
}
