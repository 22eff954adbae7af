//! The XML dialect of iRODS packing instructions: a small element tree, a tolerant parser and an
//! encoder with iRODS's own escaping rules.
//!
//! Why not a general XML crate: iRODS "XML" is not quite XML. Peers send control characters raw
//! (python-irodsclient does for object names with non-printable bytes), the server never emits or
//! decodes numeric character references, and fields are routinely omitted. A strict parser would
//! reject real traffic, so this one accepts anything tag-shaped and only fails on input that has no
//! element structure at all. It never panics and bounds its recursion depth.

use crate::error::DecodeError;

/// Deepest element nesting accepted. Real messages nest at most four levels
/// (ModDataObjMeta_PI > DataObjInfo_PI > KeyValPair_PI > keyWord).
pub const MAX_DEPTH: usize = 32;

/// One element of a packing-instruction document: a tag, its decoded text, and child elements.
///
/// Text is kept as raw bytes (entities already decoded) so that nothing a peer sent is lost; the
/// typed message structs convert it to `String`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: Vec<u8>,
    pub children: Vec<Element>,
}

impl Element {
    /// An empty element named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Element { name: name.into(), text: Vec::new(), children: Vec::new() }
    }

    /// A leaf element with text content.
    pub fn leaf(name: impl Into<String>, text: impl Into<Vec<u8>>) -> Self {
        Element { name: name.into(), text: text.into(), children: Vec::new() }
    }

    // ---- building -------------------------------------------------------------------------

    /// Appends `<name>value</name>` for an `int` item.
    pub fn push_int(&mut self, name: &str, value: i32) -> &mut Self {
        self.children.push(Element::leaf(name, value.to_string()));
        self
    }

    /// Appends `<name>value</name>` for a `double` item (which iRODS uses for 64-bit integers).
    pub fn push_long(&mut self, name: &str, value: i64) -> &mut Self {
        self.children.push(Element::leaf(name, value.to_string()));
        self
    }

    /// Appends a `str` item.
    pub fn push_str(&mut self, name: &str, value: &str) -> &mut Self {
        self.children.push(Element::leaf(name, value.as_bytes()));
        self
    }

    /// Appends a `bin` item (standard base64 with padding).
    pub fn push_bin(&mut self, name: &str, value: &[u8]) -> &mut Self {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(value);
        self.children.push(Element::leaf(name, text));
        self
    }

    /// Appends a nested struct.
    pub fn push_child(&mut self, child: Element) -> &mut Self {
        self.children.push(child);
        self
    }

    // ---- reading (tolerant: a missing item yields its default) ----------------------------

    /// First child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`, in document order (repeated items, arrays of structs).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text as a `String`; invalid UTF-8 is replaced (iRODS names are UTF-8 in practice).
    pub fn text_string(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    /// A `str` item; missing means empty.
    pub fn get_str(&self, name: &str) -> String {
        self.child(name).map(Element::text_string).unwrap_or_default()
    }

    /// A `str *` item, where absence (a NULL pointer) is meaningful.
    pub fn get_opt_str(&self, name: &str) -> Option<String> {
        self.child(name).map(Element::text_string)
    }

    /// All repeated `str` items named `name`.
    pub fn get_strs(&self, name: &str) -> Vec<String> {
        self.children_named(name).map(Element::text_string).collect()
    }

    /// An `int` item; missing or empty means 0.
    pub fn get_int(&self, name: &str) -> Result<i32, DecodeError> {
        match self.child(name) {
            Some(el) => parse_number(name, &el.text),
            None => Ok(0),
        }
    }

    /// A `double` (64-bit integer) item; missing or empty means 0.
    pub fn get_long(&self, name: &str) -> Result<i64, DecodeError> {
        match self.child(name) {
            Some(el) => parse_number(name, &el.text),
            None => Ok(0),
        }
    }

    /// All repeated `int` items named `name`.
    pub fn get_ints(&self, name: &str) -> Result<Vec<i32>, DecodeError> {
        self.children_named(name).map(|el| parse_number(name, &el.text)).collect()
    }

    /// A `bin` item decoded from base64; missing means empty.
    pub fn get_bin(&self, name: &str) -> Result<Vec<u8>, DecodeError> {
        match self.child(name) {
            Some(el) => decode_base64(name, &el.text),
            None => Ok(Vec::new()),
        }
    }

    // ---- encoding -------------------------------------------------------------------------

    /// Serializes compactly (no whitespace between tags), as python-irodsclient does.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_xml(&mut out);
        out
    }

    /// Appends the serialization to `out`.
    pub fn write_xml(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        out.extend_from_slice(self.name.as_bytes());
        out.push(b'>');
        escape_into(&self.text, out);
        for child in &self.children {
            child.write_xml(out);
        }
        out.extend_from_slice(b"</");
        out.extend_from_slice(self.name.as_bytes());
        out.push(b'>');
    }
}

fn parse_number<T: std::str::FromStr>(field: &str, text: &[u8]) -> Result<T, DecodeError> {
    let trimmed = trim_ascii(text);
    if trimmed.is_empty() {
        return "0".parse().map_err(|_| DecodeError::BadNumber { field: field.into(), text: String::new() });
    }
    std::str::from_utf8(trimmed).ok().and_then(|s| s.parse().ok()).ok_or_else(|| DecodeError::BadNumber {
        field: field.into(),
        text: String::from_utf8_lossy(text).into(),
    })
}

fn decode_base64(field: &str, text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    use base64::Engine as _;
    // Line breaks are not expected, but some encoders wrap; drop all ASCII whitespace first.
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .map_err(|_| DecodeError::BadBase64 { field: field.into() })
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest
        } else {
            break;
        }
    }
    s
}

/// Escapes text the way an iRODS server >= 4.2.9 does: the five XML entities, nothing else.
/// Control characters go out raw; numeric references are never produced (the server would not
/// decode them).
pub fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            _ => out.push(b),
        }
    }
}

/// Escapes text into a new buffer.
pub fn escape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// Decodes the five named entities plus decimal/hex numeric references. Anything else after `&`
/// is copied verbatim (the server does the same), so decoding never fails.
pub fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'&'
            && let Some((decoded, used)) = decode_entity(&text[i..])
        {
            out.extend_from_slice(&decoded);
            i += used;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

fn decode_entity(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let end = s.iter().take(12).position(|&b| b == b';')?;
    let name = &s[1..end];
    let bytes: Vec<u8> = match name {
        b"amp" => b"&".to_vec(),
        b"lt" => b"<".to_vec(),
        b"gt" => b">".to_vec(),
        b"quot" => b"\"".to_vec(),
        b"apos" => b"'".to_vec(),
        [b'#', b'x' | b'X', hex @ ..] => code_point_utf8(std::str::from_utf8(hex).ok()?, 16)?,
        [b'#', dec @ ..] => code_point_utf8(std::str::from_utf8(dec).ok()?, 10)?,
        _ => return None,
    };
    Some((bytes, end + 1))
}

fn code_point_utf8(digits: &str, radix: u32) -> Option<Vec<u8>> {
    let value = u32::from_str_radix(digits, radix).ok()?;
    let c = char::from_u32(value)?;
    Some(c.to_string().into_bytes())
}

/// Parses one packing-instruction document. Leading whitespace, an `<?xml ...?>` prolog and
/// trailing NULs/whitespace (the server appends a NUL) are skipped; attributes are ignored.
pub fn parse(input: &[u8]) -> Result<Element, DecodeError> {
    let mut parser = Parser { input, pos: 0 };
    parser.skip_prolog();
    let root = parser.element(0)?;
    parser.skip_while(|b| b.is_ascii_whitespace() || b == 0);
    if parser.pos != input.len() {
        return Err(parser.error("data after the root element"));
    }
    Ok(root)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed { offset: self.pos, reason }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.input[self.pos..].starts_with(s)
    }

    fn skip_while(&mut self, pred: impl Fn(u8) -> bool) {
        while let Some(b) = self.peek() {
            if !pred(b) {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_prolog(&mut self) {
        loop {
            self.skip_while(|b| b.is_ascii_whitespace());
            if self.starts_with(b"<?") || self.starts_with(b"<!--") {
                let terminator: &[u8] = if self.starts_with(b"<?") { b"?>" } else { b"-->" };
                match find(&self.input[self.pos..], terminator) {
                    Some(at) => self.pos += at + terminator.len(),
                    None => return,
                }
            } else {
                return;
            }
        }
    }

    /// Reads a tag name up to whitespace, `/` or `>`.
    fn name(&mut self) -> Result<String, DecodeError> {
        let start = self.pos;
        self.skip_while(|b| !(b.is_ascii_whitespace() || b == b'/' || b == b'>' || b == b'<'));
        if self.pos == start {
            return Err(self.error("empty tag name"));
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    /// Parses `<name ...>content</name>` or `<name/>` starting at `<`.
    fn element(&mut self, depth: usize) -> Result<Element, DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("elements nested too deeply"));
        }
        if self.peek() != Some(b'<') {
            return Err(self.error("expected '<'"));
        }
        self.pos += 1;
        let name = self.name()?;
        // Attributes are not part of packing instructions; skip to the end of the start tag.
        let start_tag_end = match self.input[self.pos..].iter().position(|&b| b == b'>') {
            Some(at) => self.pos + at,
            None => return Err(self.error("unterminated start tag")),
        };
        let self_closing = start_tag_end > 0 && self.input[start_tag_end - 1] == b'/';
        self.pos = start_tag_end + 1;
        let mut element = Element::new(name);
        if self_closing {
            return Ok(element);
        }
        let mut raw_text = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("missing end tag"));
            };
            if b != b'<' {
                let start = self.pos;
                self.skip_while(|b| b != b'<');
                raw_text.extend_from_slice(&self.input[start..self.pos]);
                continue;
            }
            if self.starts_with(b"</") {
                self.pos += 2;
                let end_name = self.name()?;
                self.skip_while(|b| b.is_ascii_whitespace());
                if self.peek() != Some(b'>') {
                    return Err(self.error("unterminated end tag"));
                }
                self.pos += 1;
                if end_name != element.name {
                    return Err(self.error("end tag does not match start tag"));
                }
                break;
            }
            if self.starts_with(b"<!--") {
                match find(&self.input[self.pos..], b"-->") {
                    Some(at) => self.pos += at + 3,
                    None => return Err(self.error("unterminated comment")),
                }
                continue;
            }
            let child = self.element(depth + 1)?;
            element.children.push(child);
        }
        // Whitespace between child elements is layout (the server puts newlines there), not text.
        element.text = if element.children.is_empty() { unescape(&raw_text) } else { Vec::new() };
        Ok(element)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compact_and_newline_layouts_identically() {
        let compact = b"<MsgHeader_PI><type>RODS_VERSION</type><msgLen>178</msgLen></MsgHeader_PI>";
        let server = b"<MsgHeader_PI>\n<type>RODS_VERSION</type>\n<msgLen>178</msgLen>\n</MsgHeader_PI>\n\0";
        assert_eq!(parse(compact).unwrap(), parse(server).unwrap());
        assert_eq!(parse(compact).unwrap().get_int("msgLen").unwrap(), 178);
    }

    #[test]
    fn escaping_round_trips_and_never_emits_numeric_references() {
        let original = b"a&b<c>d\"e'f`g\x01\t\r\n";
        let escaped = escape(original);
        assert_eq!(escaped, b"a&amp;b&lt;c&gt;d&quot;e&apos;f`g\x01\t\r\n");
        assert_eq!(unescape(&escaped), original);
    }

    #[test]
    fn unknown_entities_are_kept_verbatim() {
        assert_eq!(unescape(b"x&nbsp;y&"), b"x&nbsp;y&");
        assert_eq!(unescape(b"&#39;&#x9;"), b"'\t");
    }

    #[test]
    fn missing_fields_default() {
        let el = parse(b"<CollInpNew_PI><collName>/z/a</collName></CollInpNew_PI>").unwrap();
        assert_eq!(el.get_int("flags").unwrap(), 0);
        assert_eq!(el.get_str("nothing"), "");
        assert_eq!(el.get_opt_str("nothing"), None);
    }

    #[test]
    fn hostile_inputs_are_errors_not_panics() {
        for input in [&b""[..], b"<", b"<a", b"<a>", b"<a></b>", b"</a>", b"<>", b"<a>x</a>junk", b"<a/><b/>"]
        {
            assert!(parse(input).is_err(), "{:?}", String::from_utf8_lossy(input));
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
