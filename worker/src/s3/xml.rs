//! The three S3 XML documents this client reads: `ListBucketResult` (ListObjectsV2),
//! `LocationConstraint` and `Error`.
//!
//! The documents are flattened into leaf elements (`Contents/Key` = `text`) by a small walker on
//! top of quick-xml. Anything unexpected — bad UTF-8, mismatched tags, unknown entities, nesting
//! deeper than [`MAX_DEPTH`], a missing or unparsable field — is an [`XmlError`], never a panic.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest element nesting accepted (S3 documents use four levels).
pub const MAX_DEPTH: usize = 16;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

fn err(message: impl Into<String>) -> XmlError {
    XmlError(message.into())
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    /// The key, decoded when the listing was URL-encoded.
    pub key: String,
    /// `LastModified` as seconds since the epoch, the value of Python's
    /// `datetime.timestamp()` for the same instant (microsecond resolution).
    pub last_modified: f64,
    pub size: u64,
    /// The ETag without quotes (`""` when absent).
    pub etag: String,
}

/// One page of ListObjectsV2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
}

/// Walks a document, calling `visit(path, text)` when an element closes, with the text it
/// directly holds (`""` for an empty element). `path` is the stack of local names from the root
/// to that element.
fn walk(xml: &[u8], mut visit: impl FnMut(&[String], String)) -> Result<(), XmlError> {
    let text = std::str::from_utf8(xml).map_err(|e| err(format!("document is not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut content = String::new();
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(format!("XML error at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(start) => {
                if path.is_empty() && saw_root {
                    return Err(err("more than one root element"));
                }
                if path.len() >= MAX_DEPTH {
                    return Err(err(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                saw_root = true;
                path.push(start.local_name().as_ref().to_owned());
                content.clear();
            }
            Event::Empty(start) => {
                if path.is_empty() && saw_root {
                    return Err(err("more than one root element"));
                }
                saw_root = true;
                path.push(start.local_name().as_ref().to_owned());
                visit(&path, String::new());
                path.pop();
            }
            Event::End(end) => {
                let name = end.local_name();
                let name: &str = name.as_ref();
                if path.last().map(String::as_str) != Some(name) {
                    return Err(err(format!("closing tag {name:?} does not match")));
                }
                visit(&path, std::mem::take(&mut content));
                path.pop();
            }
            Event::Text(t) => content.push_str(&t.xml10_content()),
            Event::CData(c) => content.push_str(c.as_ref()),
            Event::GeneralRef(r) => {
                let raw: &str = r.as_ref();
                let entity = format!("&{raw};");
                let resolved = quick_xml::escape::unescape(&entity)
                    .map_err(|e| err(format!("entity {entity:?}: {e}")))?;
                content.push_str(&resolved);
            }
            Event::Eof => {
                if !path.is_empty() {
                    return Err(err("document ends inside an element"));
                }
                if !saw_root {
                    return Err(err("empty document"));
                }
                return Ok(());
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn is(path: &[String], expected: &[&str]) -> bool {
    path.len() == expected.len() && path.iter().zip(expected).all(|(a, b)| a == b)
}

/// Parses a ListObjectsV2 response.
pub fn parse_list_objects_v2(xml: &[u8]) -> Result<ListPage, XmlError> {
    #[derive(Default)]
    struct Partial {
        key: Option<String>,
        last_modified: Option<String>,
        size: Option<String>,
        etag: Option<String>,
    }
    let mut page = ListPage::default();
    let mut raw: Vec<Partial> = Vec::new();
    let mut current = Partial::default();
    let mut url_encoded = false;
    let mut root_ok = false;
    walk(xml, |path, text| {
        if path.len() == 1 {
            root_ok = path[0] == "ListBucketResult";
        }
        match path.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["ListBucketResult", "IsTruncated"] => page.is_truncated = text.trim() == "true",
            ["ListBucketResult", "NextContinuationToken"] => {
                page.next_continuation_token = Some(text).filter(|t| !t.is_empty())
            }
            ["ListBucketResult", "EncodingType"] => url_encoded = text.trim().eq_ignore_ascii_case("url"),
            ["ListBucketResult", "Contents", "Key"] => current.key = Some(text),
            ["ListBucketResult", "Contents", "LastModified"] => current.last_modified = Some(text),
            ["ListBucketResult", "Contents", "Size"] => current.size = Some(text),
            ["ListBucketResult", "Contents", "ETag"] => current.etag = Some(text),
            ["ListBucketResult", "Contents"] => raw.push(std::mem::take(&mut current)),
            _ => {}
        }
    })?;
    if !root_ok {
        return Err(err("not a ListBucketResult document"));
    }
    for (i, partial) in raw.into_iter().enumerate() {
        let key = partial.key.ok_or_else(|| err(format!("Contents #{i} has no Key")))?;
        let key = if url_encoded { url_decode(&key)? } else { key };
        let size_text = partial.size.ok_or_else(|| err(format!("object {key:?} has no Size")))?;
        let size = size_text
            .trim()
            .parse::<u64>()
            .map_err(|_| err(format!("object {key:?}: bad Size {size_text:?}")))?;
        let modified_text =
            partial.last_modified.ok_or_else(|| err(format!("object {key:?} has no LastModified")))?;
        let last_modified = parse_timestamp(modified_text.trim())
            .ok_or_else(|| err(format!("object {key:?}: bad LastModified {modified_text:?}")))?;
        let etag = partial.etag.unwrap_or_default().trim().trim_matches('"').to_owned();
        page.objects.push(ObjectInfo { key, last_modified, size, etag });
    }
    if page.is_truncated && page.next_continuation_token.is_none() {
        return Err(err("truncated listing without NextContinuationToken"));
    }
    Ok(page)
}

/// `urllib.parse.unquote_plus`, which minio applies to keys of `encoding-type=url` listings:
/// `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn url_decode(text: &str) -> Result<String, XmlError> {
    let spaced = text.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| err(format!("URL-encoded key {text:?} is not UTF-8")))
}

/// An ISO 8601 UTC time (`2024-01-31T12:00:00.123Z`) as Python's `datetime.timestamp()` gives it:
/// whole microseconds divided by 10^6.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let micros = parsed
        .timestamp()
        .checked_mul(1_000_000)?
        .checked_add(i64::from(parsed.timestamp_subsec_micros()))?;
    Some(micros as f64 / 1e6)
}

/// The region of a GetBucketLocation answer: empty = `us-east-1`, `EU` = `eu-west-1`.
pub fn parse_location(xml: &[u8]) -> Result<String, XmlError> {
    let mut region = None;
    walk(xml, |path, text| {
        if is(path, &["LocationConstraint"]) {
            region = Some(text.trim().to_owned());
        }
    })?;
    let region = region.ok_or_else(|| err("not a LocationConstraint document"))?;
    Ok(match region.as_str() {
        "" => "us-east-1".to_owned(),
        "EU" => "eu-west-1".to_owned(),
        _ => region,
    })
}

/// The `Code` and `Message` of an S3 `<Error>` document, if the body is one.
pub fn parse_error(xml: &[u8]) -> Option<(String, String)> {
    let (mut code, mut message) = (None, None);
    walk(xml, |path, text| {
        if is(path, &["Error", "Code"]) {
            code = Some(text);
        } else if is(path, &["Error", "Message"]) {
            message = Some(text);
        }
    })
    .ok()?;
    Some((code?, message.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page as moto 5.2 sends it (`encoding-type=url`, one object, truncated).
    const MOTO_PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><MaxKeys>1</MaxKeys><KeyCount>1</KeyCount><IsTruncated>true</IsTruncated><Contents><Key>dir%20a/caf%C3%A9%2B1.txt</Key><LastModified>2026-12-02T10:11:12.345Z</LastModified><ETag>&quot;5d41402abc4b2a76b9719d911017c592&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents><EncodingType>url</EncodingType><NextContinuationToken>tok/en==</NextContinuationToken></ListBucketResult>"#;

    #[test]
    fn listing_page() {
        let page = parse_list_objects_v2(MOTO_PAGE.as_bytes()).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_continuation_token.as_deref(), Some("tok/en=="));
        let object = &page.objects[0];
        assert_eq!(object.key, "dir a/café+1.txt");
        assert_eq!(object.size, 5);
        assert_eq!(object.etag, "5d41402abc4b2a76b9719d911017c592");
        // Python: datetime(2026,12,2,10,11,12,345000,tzinfo=utc).timestamp()
        assert_eq!(object.last_modified, 1796206272.345);
    }

    #[test]
    fn plain_keys_with_entities_and_empty_listing() {
        let xml = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b&#x20;&lt;c&gt;</Key>\
                   <LastModified>2020-01-01T00:00:00Z</LastModified><Size>0</Size></Contents></ListBucketResult>";
        let page = parse_list_objects_v2(xml.as_bytes()).unwrap();
        assert_eq!(page.objects[0].key, "a&b <c>");
        assert_eq!(page.objects[0].last_modified, 1577836800.0);
        assert_eq!(page.objects[0].etag, "");
        let empty =
            parse_list_objects_v2(b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
                .unwrap();
        assert!(empty.objects.is_empty() && !empty.is_truncated);
    }

    #[test]
    fn hostile_listings_are_errors() {
        let deep =
            format!("<ListBucketResult>{}{}</ListBucketResult>", "<a>".repeat(100), "</a>".repeat(100));
        for xml in [
            "",
            "<ListBucketResult>",
            "<ListBucketResult></Other>",
            "<Other/>",
            "<ListBucketResult/><ListBucketResult/>",
            "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size><LastModified>2020-01-01T00:00:00Z</LastModified></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>&bogus;</Key></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>&#0;</Key></Contents></ListBucketResult>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
            "<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>%FF</Key><Size>1</Size><LastModified>2020-01-01T00:00:00Z</LastModified></Contents></ListBucketResult>",
            deep.as_str(),
        ] {
            assert!(parse_list_objects_v2(xml.as_bytes()).is_err(), "{xml}");
        }
        assert!(parse_list_objects_v2(b"<ListBucketResult>\xff</ListBucketResult>").is_err());
        // Arbitrary bytes never panic.
        let mut seed = 0x2545F4914F6CDD1Du64;
        for len in 0..2000 {
            let mut bytes: Vec<u8> = MOTO_PAGE.as_bytes().to_vec();
            for _ in 0..(len % 7 + 1) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % bytes.len();
                bytes[at] = (seed >> 32) as u8;
            }
            bytes.truncate(bytes.len() - len % bytes.len());
            let _ = parse_list_objects_v2(&bytes);
            let _ = parse_error(&bytes);
            let _ = parse_location(&bytes);
        }
    }

    #[test]
    fn locations_and_errors() {
        let ns = r#"<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#;
        assert_eq!(parse_location(format!("{ns}</LocationConstraint>").as_bytes()).unwrap(), "us-east-1");
        assert_eq!(parse_location(b"<LocationConstraint/>").unwrap(), "us-east-1");
        assert_eq!(parse_location(format!("{ns}EU</LocationConstraint>").as_bytes()).unwrap(), "eu-west-1");
        assert_eq!(
            parse_location(format!("{ns}ap-south-1</LocationConstraint>").as_bytes()).unwrap(),
            "ap-south-1"
        );
        assert!(parse_location(b"<Error/>").is_err());
        let error = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><RequestId>1</RequestId></Error>";
        assert_eq!(
            parse_error(error.as_bytes()),
            Some((
                "SignatureDoesNotMatch".into(),
                "The request signature we calculated does not match".into()
            ))
        );
        assert_eq!(parse_error(b"<html>502</html>"), None);
    }
}
