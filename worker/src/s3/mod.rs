//! A small S3 client for the S3 source: list a bucket (ListObjectsV2, every page), stat an object
//! (HeadObject) and read it from a byte offset (GetObject with `Range`).
//!
//! It replaces the `minio` client the reference builds from the job's `meta`
//! (`s3_endpoint_domain`, `s3_secure_connection`, `s3_access_key`/`s3_secret_key`,
//! `s3_proxy_url`) and behaves like it where it matters for ingest:
//!
//! * path-style requests (`http[s]://endpoint/bucket/key`), signed with SigV4 ([`sigv4`]) when
//!   keys are given, anonymous otherwise;
//! * the signing region is the bucket's own, asked once per bucket with GetBucketLocation (minio
//!   does the same and ignores `s3_region_name`); if that call is refused the job's
//!   `s3_region_name` is used;
//! * listings are requested URL-encoded and decoded like minio (`unquote_plus`);
//! * idempotent requests are retried on broken connections and 500/502/503/504 (five times, with
//!   0.2 s exponential backoff, minio's urllib3 policy);
//! * an `http://` proxy is supported (absolute-form requests for http endpoints, a CONNECT tunnel
//!   for https); other proxy schemes are refused with a clear error.
//!
//! The secret key is never logged or put into an error message.

pub mod error;
pub mod http;
pub mod sigv4;
pub mod xml;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use error::{Result, S3Error};
pub use http::{Endpoint, Proxy, Timeouts};
pub use sigv4::Credentials;
pub use xml::{ListPage, ObjectInfo};

use crate::meta::Meta;

/// The largest XML document (listing page, error) accepted.
const MAX_XML: usize = 32 << 20;
/// Retries of a transient failure (minio's `Retry(total=5, backoff_factor=0.2)`).
const RETRIES: u32 = 5;

/// Where and how to reach S3.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Endpoint,
    /// `None`: anonymous requests.
    pub credentials: Option<Credentials>,
    pub proxy: Option<Proxy>,
    /// The region used when GetBucketLocation is refused (`s3_region_name`, default `us-east-1`).
    pub fallback_region: String,
    pub timeouts: Timeouts,
}

impl S3Settings {
    /// The settings the reference's tasks give `Minio(...)`, read from the task's meta.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self> {
        let text = |key: &str| -> Result<Option<String>> {
            meta.opt_text(key).map(|v| v.map(str::to_owned)).map_err(|e| S3Error::Config(e.to_string()))
        };
        let domain = text("s3_endpoint_domain")?.unwrap_or_else(|| "s3.amazonaws.com".to_owned());
        // `meta.get("s3_secure_connection", True)`, Python truthiness.
        let secure = match meta.get("s3_secure_connection") {
            None => true,
            Some(_) => meta.truthy("s3_secure_connection"),
        };
        let endpoint = Endpoint::parse(&domain, secure)?;
        let credentials = match (text("s3_access_key")?, text("s3_secret_key")?) {
            (Some(access), Some(secret)) if !access.is_empty() => Some(Credentials::new(access, secret)),
            (Some(access), None) if !access.is_empty() => {
                return Err(S3Error::Config("s3_access_key is set but s3_secret_key is not".into()));
            }
            _ => None,
        };
        let proxy = text("s3_proxy_url")?.filter(|p| !p.is_empty()).map(|p| Proxy::parse(&p)).transpose()?;
        let fallback_region =
            text("s3_region_name")?.filter(|r| !r.is_empty()).unwrap_or_else(|| "us-east-1".to_owned());
        Ok(S3Settings { endpoint, credentials, proxy, fallback_region, timeouts: Timeouts::default() })
    }
}

/// What HeadObject says about an object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectStat {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// `Last-Modified` as seconds since the epoch, when the server sent a readable one.
    pub last_modified: Option<f64>,
}

/// A client for one endpoint. Cheap to build; holds no connection.
#[derive(Debug, Clone)]
pub struct S3Client {
    settings: Arc<S3Settings>,
}

/// Bucket regions learnt with GetBucketLocation, per endpoint and bucket, for the process.
fn region_cache() -> &'static Mutex<HashMap<(String, String), String>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, String), String>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

impl S3Client {
    pub fn new(settings: S3Settings) -> Self {
        S3Client { settings: Arc::new(settings) }
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    fn connector(&self) -> http::Connector {
        http::Connector {
            endpoint: self.settings.endpoint.clone(),
            proxy: self.settings.proxy.clone(),
            timeouts: self.settings.timeouts,
        }
    }

    /// The region requests for `bucket` are signed for.
    pub async fn bucket_region(&self, bucket: &str) -> Result<String> {
        if self.settings.credentials.is_none() {
            return Ok(self.settings.fallback_region.clone());
        }
        let cache_key = (self.settings.endpoint.host_header(), bucket.to_owned());
        if let Some(region) = region_cache().lock().unwrap_or_else(|p| p.into_inner()).get(&cache_key) {
            return Ok(region.clone());
        }
        let query = vec![("location".to_owned(), String::new())];
        // GetBucketLocation itself is always signed for us-east-1.
        let answer = self
            .request("GetBucketLocation", "GET", bucket, None, &query, Vec::new(), "us-east-1", &[200])
            .await;
        let region = match answer {
            Ok(mut response) => {
                let body = response.body.read_to_end(MAX_XML).await?;
                xml::parse_location(&body).map_err(|e| self.malformed(e))?
            }
            Err(e @ S3Error::Service { status: 403 | 405 | 501, .. }) => {
                tracing::debug!(bucket, error = %e, region = %self.settings.fallback_region, "GetBucketLocation refused; using the job's region");
                return Ok(self.settings.fallback_region.clone());
            }
            Err(e) => return Err(e),
        };
        region_cache().lock().unwrap_or_else(|p| p.into_inner()).insert(cache_key, region.clone());
        Ok(region)
    }

    /// One ListObjectsV2 page of the keys starting with `prefix` (no delimiter: the whole tree).
    pub async fn list_objects_page(
        &self,
        bucket: &str,
        prefix: &str,
        continuation_token: Option<&str>,
        max_keys: Option<u32>,
    ) -> Result<ListPage> {
        let region = self.bucket_region(bucket).await?;
        let mut query = vec![
            ("list-type".to_owned(), "2".to_owned()),
            ("prefix".to_owned(), prefix.to_owned()),
            ("encoding-type".to_owned(), "url".to_owned()),
        ];
        if let Some(token) = continuation_token {
            query.push(("continuation-token".to_owned(), token.to_owned()));
        }
        if let Some(max) = max_keys {
            query.push(("max-keys".to_owned(), max.to_string()));
        }
        let mut response =
            self.request("ListObjectsV2", "GET", bucket, None, &query, Vec::new(), &region, &[200]).await?;
        let body = response.body.read_to_end(MAX_XML).await?;
        xml::parse_list_objects_v2(&body).map_err(|e| self.malformed(e))
    }

    /// All objects under `prefix`, page by page.
    pub fn list_objects<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> Listing<'a> {
        Listing { client: self, bucket, prefix, token: None, done: false, max_keys: None }
    }

    /// HeadObject.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectStat> {
        let region = self.bucket_region(bucket).await?;
        let response =
            self.request("HeadObject", "HEAD", bucket, Some(key), &[], Vec::new(), &region, &[200]).await?;
        let size = response
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| self.malformed("HeadObject without a Content-Length"))?;
        Ok(ObjectStat {
            size,
            etag: response.header("etag").unwrap_or_default().trim_matches('"').to_owned(),
            last_modified: response
                .header("last-modified")
                .and_then(|t| chrono::DateTime::parse_from_rfc2822(t).ok())
                .map(|t| t.timestamp() as f64),
        })
    }

    /// GetObject from byte `offset` to the end. `None` when there is nothing at or after `offset`
    /// (the object is not longer than that).
    pub async fn get_object(&self, bucket: &str, key: &str, offset: u64) -> Result<Option<ObjectReader>> {
        let region = self.bucket_region(bucket).await?;
        let headers =
            if offset > 0 { vec![("Range".to_owned(), format!("bytes={offset}-"))] } else { Vec::new() };
        let response = self
            .request("GetObject", "GET", bucket, Some(key), &[], headers, &region, &[200, 206, 416])
            .await?;
        match response.status {
            416 => Ok(None),
            // A server that ignores Range sends everything: skip what was asked to skip.
            200 if offset > 0 => Ok(Some(ObjectReader::new(response, offset))),
            _ => Ok(Some(ObjectReader::new(response, 0))),
        }
    }

    fn malformed(&self, message: impl std::fmt::Display) -> S3Error {
        S3Error::Malformed { peer: self.settings.endpoint.host_header(), message: message.to_string() }
    }

    /// Sends one signed request, retrying transient failures; answers with a status in `ok`, or
    /// the service's error.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        operation: &'static str,
        method: &str,
        bucket: &str,
        key: Option<&str>,
        query: &[(String, String)],
        extra_headers: Vec<(String, String)>,
        region: &str,
        ok: &[u16],
    ) -> Result<http::Response> {
        if bucket.is_empty() {
            return Err(S3Error::Config("empty bucket name".into()));
        }
        let mut path = format!("/{}", sigv4::uri_encode(bucket, false));
        if let Some(key) = key {
            path.push('/');
            path.push_str(&sigv4::uri_encode(key, true));
        }
        let query = sigv4::canonical_query(query);
        let path_and_query = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let resource = match key {
            Some(key) => format!("{bucket}/{key}"),
            None => bucket.to_owned(),
        };
        let connector = self.connector();
        let mut attempt = 0;
        loop {
            let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let mut headers = vec![
                ("Host".to_owned(), self.settings.endpoint.host_header()),
                ("User-Agent".to_owned(), concat!("irods-ingest/", env!("CARGO_PKG_VERSION")).to_owned()),
                ("x-amz-content-sha256".to_owned(), sigv4::EMPTY_PAYLOAD_SHA256.to_owned()),
                ("x-amz-date".to_owned(), amz_date.clone()),
            ];
            headers.extend(extra_headers.iter().cloned());
            if let Some(credentials) = &self.settings.credentials {
                // Everything but the User-Agent is signed.
                let signed: Vec<(String, String)> =
                    headers.iter().filter(|(n, _)| n != "User-Agent").cloned().collect();
                let authorization = sigv4::Request {
                    method,
                    encoded_path: &path,
                    canonical_query: &query,
                    headers: &signed,
                    payload_sha256: sigv4::EMPTY_PAYLOAD_SHA256,
                    amz_date: &amz_date,
                    region,
                }
                .authorization(credentials);
                headers.push(("Authorization".to_owned(), authorization));
            }
            let request = http::Request { method, path_and_query: &path_and_query, headers: &headers };
            let error = match connector.send(&request).await {
                Ok(response) if ok.contains(&response.status) => return Ok(response),
                Ok(mut response) => self.service_error(operation, &resource, &mut response).await,
                Err(e) => e,
            };
            if !error.is_transient() || attempt >= RETRIES {
                return Err(error);
            }
            let backoff = Duration::from_secs_f64(0.2 * f64::from(1u32 << attempt));
            tracing::debug!(operation, resource, attempt, error = %error, "S3 request failed; retrying");
            tokio::time::sleep(backoff).await;
            attempt += 1;
        }
    }

    async fn service_error(
        &self,
        operation: &'static str,
        resource: &str,
        response: &mut http::Response,
    ) -> S3Error {
        let status = response.status;
        let body = response.body.read_to_end(64 << 10).await.unwrap_or_default();
        let (code, message) = xml::parse_error(&body).unwrap_or_else(|| {
            let code = match status {
                301 | 307 => "PermanentRedirect",
                400 => "BadRequest",
                403 => "AccessDenied",
                404 => "NoSuchKey",
                _ => "HTTPError",
            };
            (code.to_owned(), response.reason.clone())
        });
        S3Error::Service { operation, resource: resource.to_owned(), status, code, message }
    }
}

/// The pages of one listing ([`S3Client::list_objects`]).
pub struct Listing<'a> {
    client: &'a S3Client,
    bucket: &'a str,
    prefix: &'a str,
    token: Option<String>,
    done: bool,
    max_keys: Option<u32>,
}

impl Listing<'_> {
    /// Asks for at most `max_keys` keys per page (the server's default is 1000).
    pub fn page_size(mut self, max_keys: u32) -> Self {
        self.max_keys = Some(max_keys);
        self
    }

    /// The next page's objects; `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ObjectInfo>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .list_objects_page(self.bucket, self.prefix, self.token.as_deref(), self.max_keys)
            .await?;
        if page.is_truncated {
            if page.next_continuation_token == self.token {
                return Err(self
                    .client
                    .malformed("ListObjectsV2 returned the same continuation token twice"));
            }
            self.token = page.next_continuation_token;
        } else {
            self.done = true;
        }
        Ok(Some(page.objects))
    }
}

/// The body of a GetObject being read.
pub struct ObjectReader {
    /// Without quotes.
    pub etag: String,
    /// The bytes still to come (`Content-Length`), when announced.
    pub content_length: Option<u64>,
    body: http::Body,
    skip: u64,
}

impl ObjectReader {
    fn new(response: http::Response, skip: u64) -> Self {
        let etag = response.header("etag").unwrap_or_default().trim_matches('"').to_owned();
        let content_length = response
            .header("content-length")
            .and_then(|l| l.parse::<u64>().ok())
            .map(|l| l.saturating_sub(skip));
        ObjectReader { etag, content_length, body: response.body, skip }
    }

    /// The next piece of the object (at most `max` bytes), `None` at its end.
    pub async fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        loop {
            let Some(mut piece) = self.body.next_chunk(max).await? else { return Ok(None) };
            if self.skip == 0 {
                return Ok(Some(piece));
            }
            let drop = (self.skip as usize).min(piece.len());
            piece.drain(..drop);
            self.skip -= drop as u64;
            if !piece.is_empty() {
                return Ok(Some(piece));
            }
        }
    }
}
