//! AWS Signature Version 4 for S3 requests without a body (GET, HEAD).
//!
//! The signature covers the method, the encoded path, the sorted query, the listed headers and
//! the payload hash; the secret never leaves [`Credentials`] (its `Debug` prints a placeholder).
//! The canonical forms follow the S3 flavour of SigV4: the path is encoded once and not
//! normalised (`a//b` and `./` stay as they are).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use ring::{digest, hmac};

/// SHA-256 of the empty payload, the `x-amz-content-sha256` of every request this client sends.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials { access_key: access_key.into(), secret_key: secret_key.into() }
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// RFC 3986 unreserved characters stay; everything else is `%XX` (uppercase hex).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// The same, keeping `/` (object keys in paths).
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// SigV4's `UriEncode`: each byte outside `A-Za-z0-9-._~` as `%XX`; `/` kept when `keep_slash`.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let set = if keep_slash { UNRESERVED_AND_SLASH } else { UNRESERVED };
    utf8_percent_encode(text, set).to_string()
}

/// The canonical query string (sorted by encoded name, then value), which is also sent as is.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    encoded.sort();
    encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// One request to sign.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent: already [`uri_encode`]d.
    pub encoded_path: &'a str,
    /// The query as sent: [`canonical_query`]'s output.
    pub canonical_query: &'a str,
    /// Every header to sign, `host` included (names in any case).
    pub headers: &'a [(String, String)],
    pub payload_sha256: &'a str,
    /// `x-amz-date`: `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    pub region: &'a str,
}

impl Request<'_> {
    /// The `CanonicalRequest` string of the SigV4 specification.
    pub fn canonical_request(&self) -> String {
        let (canonical_headers, signed_headers) = self.canonical_headers();
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.encoded_path,
            self.canonical_query,
            canonical_headers,
            signed_headers,
            self.payload_sha256
        )
    }

    /// `name:value\n` lines sorted by lowercase name, and the `;`-joined names.
    fn canonical_headers(&self) -> (String, String) {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                (name.to_ascii_lowercase(), value)
            })
            .collect();
        headers.sort();
        let lines: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let names = headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
        (lines, names)
    }

    fn scope(&self) -> String {
        let date = self.amz_date.get(..8).unwrap_or(self.amz_date);
        format!("{date}/{}/s3/aws4_request", self.region)
    }

    /// The `StringToSign`.
    pub fn string_to_sign(&self) -> String {
        let hashed = hex(digest::digest(&digest::SHA256, self.canonical_request().as_bytes()).as_ref());
        format!("AWS4-HMAC-SHA256\n{}\n{}\n{hashed}", self.amz_date, self.scope())
    }

    /// The hex signature.
    pub fn signature(&self, credentials: &Credentials) -> String {
        let date = self.amz_date.get(..8).unwrap_or(self.amz_date);
        let mut key = format!("AWS4{}", credentials.secret_key).into_bytes();
        for part in [date, self.region, "s3", "aws4_request"] {
            key = sign(&key, part.as_bytes());
        }
        hex(&sign(&key, self.string_to_sign().as_bytes()))
    }

    /// The `Authorization` header value.
    pub fn authorization(&self, credentials: &Credentials) -> String {
        let (_, signed_headers) = self.canonical_headers();
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_headers}, Signature={}",
            credentials.access_key,
            self.scope(),
            self.signature(credentials)
        )
    }
}

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_credentials() -> Credentials {
        // The example key pair of the AWS SigV4 documentation.
        Credentials::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    }

    fn headers(host: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![
            ("Host".to_owned(), host.to_owned()),
            ("x-amz-content-sha256".to_owned(), EMPTY_PAYLOAD_SHA256.to_owned()),
            ("x-amz-date".to_owned(), "20130524T000000Z".to_owned()),
        ];
        h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        h
    }

    /// The "GET Object" example of the S3 SigV4 documentation (also what botocore computes).
    #[test]
    fn aws_get_object_example() {
        let headers = headers("examplebucket.s3.amazonaws.com", &[("Range", "bytes=0-9")]);
        let request = Request {
            method: "GET",
            encoded_path: "/test.txt",
            canonical_query: "",
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            request.signature(&example_credentials()),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            request.authorization(&example_credentials()),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// The "GET Bucket (List Objects)" example: a query string, sorted.
    #[test]
    fn aws_list_objects_example() {
        let headers = headers("examplebucket.s3.amazonaws.com", &[]);
        let query = canonical_query(&[("prefix".into(), "J".into()), ("max-keys".into(), "2".into())]);
        assert_eq!(query, "max-keys=2&prefix=J");
        let request = Request {
            method: "GET",
            encoded_path: "/",
            canonical_query: &query,
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            request.signature(&example_credentials()),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    /// Path-style, a port in `host`, a key needing encoding and an encoded query value; the
    /// expected signature was computed by botocore's `S3SigV4Auth` for the same request.
    #[test]
    fn path_style_with_encoded_key_matches_botocore() {
        let headers = headers("127.0.0.1:19000", &[]);
        let path = format!("/my-bucket/{}", uri_encode("dir a/k+ey~é.txt", true));
        assert_eq!(path, "/my-bucket/dir%20a/k%2Bey~%C3%A9.txt");
        let query = canonical_query(&[("prefix".into(), "a/b".into()), ("list-type".into(), "2".into())]);
        assert_eq!(query, "list-type=2&prefix=a%2Fb");
        let request = Request {
            method: "GET",
            encoded_path: &path,
            canonical_query: &query,
            headers: &headers,
            payload_sha256: EMPTY_PAYLOAD_SHA256,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            request.signature(&example_credentials()),
            "79ac43fbb075979b663ef765b81c933d737297cbedcb89867e5b195a6289b153"
        );
    }

    #[test]
    fn secret_is_not_in_debug_output() {
        let text = format!("{:?}", example_credentials());
        assert!(text.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(!text.contains("EXAMPLEKEY"));
    }
}
