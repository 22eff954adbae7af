//! Parsing of one GenQuery condition string such as `= 'x'`, `like 'a%'`, `in ('a','b')` or
//! `between '1' '9'`, following the rules of iRODS's `general_query.cpp`:
//! the operator is the text before the first single quote, the value the text between the first
//! and the last quote (so values may contain quotes), and only a known set of operators passes.

use crate::error::{ApiError, ApiResult, codes};

/// A parsed condition: the comparison and its literal operand(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `=`, `<>`, `!=`, `<`, `<=`, `>`, `>=` (normalised to SQL spelling).
    Compare(&'static str, String),
    Like {
        negated: bool,
        pattern: String,
    },
    In {
        negated: bool,
        values: Vec<String>,
    },
    Between {
        negated: bool,
        low: String,
        high: String,
    },
    /// `begin_of 'x'`: the column is a prefix of x (used for "parent collections of x").
    BeginOf(String),
    /// `parent_of 'x'`: the column is a proper ancestor collection of x.
    ParentOf(String),
}

fn invalid(text: &str) -> ApiError {
    ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("invalid GenQuery condition: {text:?}"))
}

/// Parses a condition string; malformed text gives CAT_INVALID_ARGUMENT.
pub fn parse(text: &str) -> ApiResult<Condition> {
    let trimmed = text.trim();
    let (operator, rest) = match trimmed.find('\'') {
        Some(first) => (trimmed[..first].trim(), &trimmed[first..]),
        None => {
            // No quotes: accept `op value` with a bare value (numbers are often sent this way).
            let split = trimmed.find(|c: char| !"<>=!".contains(c)).unwrap_or(trimmed.len());
            let (op, value) = trimmed.split_at(split);
            if op.is_empty() {
                return Err(invalid(text));
            }
            return Ok(Condition::Compare(compare_op(op).ok_or_else(|| invalid(text))?, value.trim().into()));
        }
    };
    let lower = operator.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words.as_slice() {
        [op] if compare_op(op).is_some() => Ok(Condition::Compare(
            compare_op(op).unwrap_or("="),
            quoted_span(rest).ok_or_else(|| invalid(text))?,
        )),
        ["like"] => {
            Ok(Condition::Like { negated: false, pattern: quoted_span(rest).ok_or_else(|| invalid(text))? })
        }
        ["not", "like"] => {
            Ok(Condition::Like { negated: true, pattern: quoted_span(rest).ok_or_else(|| invalid(text))? })
        }
        ["begin_of"] => Ok(Condition::BeginOf(quoted_span(rest).ok_or_else(|| invalid(text))?)),
        ["parent_of"] => Ok(Condition::ParentOf(quoted_span(rest).ok_or_else(|| invalid(text))?)),
        ["between"] | ["not", "between"] => {
            let values = quoted_list(rest).ok_or_else(|| invalid(text))?;
            let [low, high] = <[String; 2]>::try_from(values).map_err(|_| invalid(text))?;
            Ok(Condition::Between { negated: words.len() == 2, low, high })
        }
        ["in"] | ["not", "in"] => {
            // The operator text ends before the first quote, so it is `in (`.
            Err(invalid(text))
        }
        _ => {
            // `in (` / `not in (`: the parenthesis is part of the text before the first quote.
            let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
            let negated = match compact.as_str() {
                "in(" => false,
                "notin(" => true,
                _ => return Err(invalid(text)),
            };
            let values = quoted_list(rest.trim_end().strip_suffix(')').ok_or_else(|| invalid(text))?)
                .ok_or_else(|| invalid(text))?;
            if values.is_empty() {
                return Err(invalid(text));
            }
            Ok(Condition::In { negated, values })
        }
    }
}

fn compare_op(op: &str) -> Option<&'static str> {
    Some(match op {
        "=" => "=",
        "<>" | "!=" => "<>",
        "<" => "<",
        "<=" => "<=",
        ">" => ">",
        ">=" => ">=",
        _ => return None,
    })
}

/// The text between the first and the last single quote of `rest` (which starts with a quote).
fn quoted_span(rest: &str) -> Option<String> {
    let last = rest.rfind('\'')?;
    if last == 0 {
        return None;
    }
    Some(rest[1..last].to_string())
}

/// A list of quoted strings separated by commas and/or spaces: `'a','b'` or `'1' '9'`.
fn quoted_list(rest: &str) -> Option<Vec<String>> {
    let mut values = Vec::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        while let Some((_, c)) = chars.peek() {
            if c.is_whitespace() || *c == ',' {
                chars.next();
            } else {
                break;
            }
        }
        match chars.next() {
            None => return Some(values),
            Some((start, '\'')) => {
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if c == '\'' {
                        end = Some(i);
                        break;
                    }
                }
                values.push(rest[start + 1..end?].to_string());
            }
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_prc_sends() {
        assert_eq!(parse("= 'x'").unwrap(), Condition::Compare("=", "x".into()));
        assert_eq!(parse("<> '0'").unwrap(), Condition::Compare("<>", "0".into()));
        assert_eq!(parse("= 'it's'").unwrap(), Condition::Compare("=", "it's".into()));
        assert_eq!(parse("like 'a%'").unwrap(), Condition::Like { negated: false, pattern: "a%".into() });
        assert_eq!(parse("not like 'a%'").unwrap(), Condition::Like { negated: true, pattern: "a%".into() });
        assert_eq!(
            parse("in ('a','b')").unwrap(),
            Condition::In { negated: false, values: vec!["a".into(), "b".into()] }
        );
        assert_eq!(
            parse("between '1' '9'").unwrap(),
            Condition::Between { negated: false, low: "1".into(), high: "9".into() }
        );
        assert_eq!(parse(">= 5").unwrap(), Condition::Compare(">=", "5".into()));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "'x'", "drop 'x'", "= '", "between '1'", "in ()", "in ('a'"] {
            assert!(parse(text).is_err(), "{text:?} should be rejected");
        }
    }
}
