//! `character_map`: renaming logical paths the way the reference's `char_map_util.translate_path`
//! does (§8.2 of the reference notes), including the collision-avoiding suffix.
//!
//! A handler's `character_map()` returns ordered `(key, value)` pairs. Keys are a single character,
//! a tuple of characters, a compiled regex (`key.sub(value, s)`) or a predicate on one character.
//! Each path element is translated on its own; if any character changed, a suffix is appended so
//! that two names that map to the same text stay distinct: the positions and original characters
//! of the changes (or, when that gets long, a SHA-224 of the element) read as one big-endian number
//! and written in base 62, least significant digit first, after a separator.
//!
//! Difference from the reference, on purpose: the separator and the digit alphabet (the characters
//! the map leaves alone) are computed per map, when the [`CharMap`] is built. The reference keeps
//! them in a process-global that the *first* map a worker process ever sees fixes for good, so one
//! Python worker serving two jobs with different maps names the second job's files after the first
//! job's map. Per map equals what a fresh Python worker does for that job.

use std::sync::Arc;

use sha2::{Digest, Sha224};

/// Characters the reference tries, in order, as the separator before the suffix.
const SEPARATORS: &str = "-~_";
/// The reference's radix alphabet before filtering: `string.digits + string.ascii_letters`.
const RADIX_CHARS: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Change encodings this long or longer are replaced by a SHA-224 digest (its length, 28 bytes).
const MAX_CHANGE_BYTES: usize = 28;

/// Errors while building or applying a character map.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CharMapError {
    #[error("character_map regex {pattern:?} does not compile: {message}")]
    BadRegex { pattern: String, message: String },
    #[error("character_map replacement template {template:?} is invalid: {message}")]
    BadTemplate { template: String, message: String },
    #[error("character_map rule failed: {0}")]
    RuleFailed(String),
    /// The map leaves fewer than two of `0-9a-zA-Z` unchanged. With none the reference raises
    /// `ZeroDivisionError`; with exactly one it loops forever (`divmod(n, 1)` never shrinks `n`).
    #[error("character_map leaves {0} radix characters unchanged; suffixes need at least 2")]
    NoRadixCharacters(usize),
}

/// A rewrite of the whole string, e.g. a Python `re.Pattern.sub` delegated to the handler runtime.
pub type SubstituteFn = dyn Fn(&str) -> Result<String, String> + Send + Sync;
/// A test on one character, e.g. a Python callable key.
pub type PredicateFn = dyn Fn(char) -> Result<bool, String> + Send + Sync;

/// One `(key, value)` pair of a character map, applied in order.
#[derive(Clone)]
pub enum Rule {
    /// A `str` key (one character) or a tuple of characters; `with: None` is a no-op, as the
    /// reference drops `None` values before `str.translate`.
    Replace { chars: Vec<char>, with: Option<String> },
    /// A regex key: `pattern.sub(template, s)`, run with Rust's `regex` crate.
    Regex { regex: regex::Regex, template: Template },
    /// Any whole-string rewrite supplied by the caller (the exact Python `sub` when fidelity to
    /// Python's `re` matters).
    Substitute(Arc<SubstituteFn>),
    /// A callable key: every character for which it returns true becomes `with`.
    Predicate { test: Arc<PredicateFn>, with: String },
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Replace { chars, with } => {
                f.debug_struct("Replace").field("chars", chars).field("with", with).finish()
            }
            Rule::Regex { regex, .. } => f.debug_struct("Regex").field("pattern", &regex.as_str()).finish(),
            Rule::Substitute(_) => f.write_str("Substitute(..)"),
            Rule::Predicate { with, .. } => f.debug_struct("Predicate").field("with", with).finish(),
        }
    }
}

impl Rule {
    pub fn char(key: char, with: impl Into<String>) -> Self {
        Rule::Replace { chars: vec![key], with: Some(with.into()) }
    }

    pub fn chars(keys: impl IntoIterator<Item = char>, with: impl Into<String>) -> Self {
        Rule::Replace { chars: keys.into_iter().collect(), with: Some(with.into()) }
    }

    /// A regex key with a Python `re.sub` replacement template (`\1`, `\g<name>`, `\n`, ...).
    ///
    /// Rust's `regex` differs from Python's `re` in a few places: no look-around or
    /// back-references (compile error here), `$` matches only at the very end, and empty matches
    /// right after a non-empty match are not replaced. Maps of the usual shape
    /// (`[^a-zA-Z0-9]`, Unicode ranges) behave identically.
    pub fn regex(pattern: &str, template: &str) -> Result<Self, CharMapError> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| CharMapError::BadRegex { pattern: pattern.to_owned(), message: e.to_string() })?;
        let template = Template::parse(template, &regex)?;
        Ok(Rule::Regex { regex, template })
    }

    pub fn predicate(
        test: impl Fn(char) -> Result<bool, String> + Send + Sync + 'static,
        with: impl Into<String>,
    ) -> Self {
        Rule::Predicate { test: Arc::new(test), with: with.into() }
    }

    pub fn substitute(rewrite: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static) -> Self {
        Rule::Substitute(Arc::new(rewrite))
    }

    fn apply(&self, s: &str) -> Result<String, CharMapError> {
        match self {
            Rule::Replace { with: None, .. } => Ok(s.to_owned()),
            Rule::Replace { chars, with: Some(with) } => {
                let mut out = String::with_capacity(s.len());
                for c in s.chars() {
                    if chars.contains(&c) {
                        out.push_str(with);
                    } else {
                        out.push(c);
                    }
                }
                Ok(out)
            }
            Rule::Regex { regex, template } => {
                Ok(regex.replace_all(s, |caps: &regex::Captures<'_>| template.expand(caps)).into_owned())
            }
            Rule::Substitute(rewrite) => rewrite(s).map_err(CharMapError::RuleFailed),
            Rule::Predicate { test, with } => {
                let mut out = String::with_capacity(s.len());
                for c in s.chars() {
                    if test(c).map_err(CharMapError::RuleFailed)? {
                        out.push_str(with);
                    } else {
                        out.push(c);
                    }
                }
                Ok(out)
            }
        }
    }
}

/// A Python `re.sub` replacement template, parsed once.
#[derive(Debug, Clone)]
pub struct Template(Vec<Piece>);

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

impl Template {
    fn parse(template: &str, regex: &regex::Regex) -> Result<Self, CharMapError> {
        let bad = |message: &str| CharMapError::BadTemplate {
            template: template.to_owned(),
            message: message.to_owned(),
        };
        let group_count = regex.captures_len();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                text.push(c);
                continue;
            }
            let Some(next) = chars.next() else { return Err(bad("bad escape (end of pattern)")) };
            let group = match next {
                'g' => {
                    if chars.next() != Some('<') {
                        return Err(bad("missing <"));
                    }
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('>') => break,
                            Some(c) => name.push(c),
                            None => return Err(bad("missing >, unterminated name")),
                        }
                    }
                    if let Ok(index) = name.parse::<usize>() {
                        if index >= group_count {
                            return Err(bad("invalid group reference"));
                        }
                        Some(Piece::Group(index))
                    } else if regex.capture_names().flatten().any(|n| n == name) {
                        Some(Piece::Named(name))
                    } else {
                        return Err(bad("unknown group name"));
                    }
                }
                '0' => {
                    // Octal escape: \0 followed by up to two more octal digits.
                    let mut value = 0u32;
                    for _ in 0..2 {
                        match chars.peek() {
                            Some(d @ '0'..='7') => {
                                value = value * 8 + d.to_digit(8).unwrap_or(0);
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                    text.push(char::from_u32(value).unwrap_or('\0'));
                    None
                }
                '1'..='9' => {
                    let mut index = next.to_digit(10).unwrap_or(0) as usize;
                    if let Some(d @ '0'..='9') = chars.peek().copied() {
                        chars.next();
                        index = index * 10 + d.to_digit(10).unwrap_or(0) as usize;
                    }
                    if index >= group_count {
                        return Err(bad("invalid group reference"));
                    }
                    Some(Piece::Group(index))
                }
                'a' => (text.push('\x07'), None).1,
                'b' => (text.push('\x08'), None).1,
                'f' => (text.push('\x0c'), None).1,
                'n' => (text.push('\n'), None).1,
                'r' => (text.push('\r'), None).1,
                't' => (text.push('\t'), None).1,
                'v' => (text.push('\x0b'), None).1,
                '\\' => (text.push('\\'), None).1,
                c if c.is_ascii_alphabetic() => return Err(bad(&format!("bad escape \\{c}"))),
                c => {
                    text.push('\\');
                    text.push(c);
                    None
                }
            };
            if let Some(group) = group {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(group);
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template(pieces))
    }

    fn expand(&self, caps: &regex::Captures<'_>) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
                Piece::Named(name) => out.push_str(caps.name(name).map_or("", |m| m.as_str())),
            }
        }
        out
    }
}

/// An ordered character map with the suffix alphabet it implies.
#[derive(Debug, Clone)]
pub struct CharMap {
    rules: Vec<Rule>,
    separator: Option<char>,
    radix: Vec<char>,
}

impl CharMap {
    /// Builds the map and, like the reference's first use, finds which separator and radix
    /// characters the map leaves unchanged.
    pub fn new(rules: Vec<Rule>) -> Result<Self, CharMapError> {
        let mut map = Self { rules, separator: None, radix: Vec::new() };
        map.separator = map.unchanged_chars(SEPARATORS)?.first().copied();
        map.radix = map.unchanged_chars(RADIX_CHARS)?;
        Ok(map)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The separator written before suffixes (`None` when the map changes all of `-`, `~`, `_`).
    pub fn separator(&self) -> Option<char> {
        self.separator
    }

    /// The digit alphabet of suffixes.
    pub fn radix_chars(&self) -> &[char] {
        &self.radix
    }

    /// `_allowed_in_string`: the characters of `s` that are unchanged at their position after
    /// translating `s` as a whole.
    fn unchanged_chars(&self, s: &str) -> Result<Vec<char>, CharMapError> {
        let translated = self.translate_string(s)?;
        Ok(s.chars().zip(translated.chars()).filter(|(a, b)| a == b).map(|(a, _)| a).collect())
    }

    /// `translate_string`: every rule in order over the whole string.
    pub fn translate_string(&self, s: &str) -> Result<String, CharMapError> {
        let mut current = s.to_owned();
        for rule in &self.rules {
            current = rule.apply(&current)?;
        }
        Ok(current)
    }

    /// `translate_path_element` with the suffix.
    pub fn translate_element(&self, element: &str) -> Result<String, CharMapError> {
        let translated = self.translate_string(element)?;
        let mut changes = Vec::new();
        let mut use_digest = false;
        for (index, (old, new)) in element.chars().zip(translated.chars()).enumerate() {
            if old == new {
                continue;
            }
            // chr(index).encode("utf8") + old.encode("utf8"); an index in the surrogate range
            // would need a name of 55296 characters, which no filesystem allows.
            let position = char::from_u32(index as u32).unwrap_or('\u{FFFD}');
            let mut buf = [0u8; 4];
            changes.extend_from_slice(position.encode_utf8(&mut buf).as_bytes());
            changes.extend_from_slice(old.encode_utf8(&mut buf).as_bytes());
            if changes.len() >= MAX_CHANGE_BYTES {
                use_digest = true;
                break;
            }
        }
        if use_digest {
            changes = Sha224::digest(element.as_bytes()).to_vec();
        }
        let mut out = translated;
        if !changes.is_empty() {
            out.push_str(&self.suffix(&changes)?);
        }
        Ok(out)
    }

    /// `_diffs_encoded_to_suffix`: separator, then the big-endian number in base `len(radix)`,
    /// least significant digit first.
    fn suffix(&self, changes: &[u8]) -> Result<String, CharMapError> {
        let mut out = String::new();
        out.extend(self.separator);
        let mut number: Vec<u8> = changes.iter().copied().skip_while(|&b| b == 0).collect();
        if number.is_empty() {
            return Ok(out);
        }
        let base = self.radix.len() as u32;
        if base < 2 {
            return Err(CharMapError::NoRadixCharacters(self.radix.len()));
        }
        while !number.is_empty() {
            // Long division of the big-endian byte string by `base`.
            let mut remainder = 0u32;
            let mut quotient = Vec::with_capacity(number.len());
            for &byte in &number {
                let value = (remainder << 8) | u32::from(byte);
                let digit = value / base;
                remainder = value % base;
                if !(quotient.is_empty() && digit == 0) {
                    quotient.push(digit as u8);
                }
            }
            out.push(self.radix[remainder as usize]);
            number = quotient;
        }
        Ok(out)
    }

    /// `translate_path`: split on `/`, keep a leading empty element, drop other empty elements,
    /// translate each element, join with `/`.
    pub fn translate_path(&self, path: &str) -> Result<String, CharMapError> {
        let mut elements: Vec<String> = Vec::new();
        for element in path.split('/') {
            if element.is_empty() {
                if elements.is_empty() {
                    elements.push(String::new());
                }
                continue;
            }
            elements.push(self.translate_element(element)?);
        }
        Ok(elements.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_reference_notes() {
        let map = CharMap::new(vec![Rule::regex("[^a-zA-Z0-9]", "_").unwrap()]).unwrap();
        assert_eq!(map.separator(), Some('_'));
        assert_eq!(map.translate_element("we!rd~name.txt").unwrap(), "we_rd_name_txt_yucN8dF");
    }

    #[test]
    fn a_single_radix_character_is_an_error_not_a_hang() {
        let map = CharMap::new(vec![Rule::regex("[a-zA-Z0-9]", "x").unwrap()]).unwrap();
        assert_eq!(map.radix_chars(), &['x']);
        assert_eq!(map.translate_element("ab"), Err(CharMapError::NoRadixCharacters(1)));
        assert_eq!(map.translate_element("x"), Ok("x".to_owned()));
    }

    #[test]
    fn template_group_references() {
        let map = CharMap::new(vec![Rule::regex("(a)(?P<x>b)", r"\2\g<x>\1").unwrap()]).unwrap();
        assert_eq!(map.translate_string("zab").unwrap(), "zbba");
        assert!(Rule::regex("a", r"\q").is_err());
        assert!(Rule::regex("a", r"\3").is_err());
    }
}
