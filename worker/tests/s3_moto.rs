//! The S3 client (`irods_ingest::s3`) against a real `moto_server` on loopback, with moto's SigV4
//! verification switched on: listings over several pages (default and small page sizes) compared
//! with what the reference's minio client lists, ranged reads, HeadObject, wrong keys, an HTTP
//! proxy, and HTTPS with a private CA.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use irods_ingest::s3::{Credentials, Endpoint, ObjectInfo, Proxy, S3Client, S3Error, S3Settings, Timeouts};
use test_support::{ChildGuard, free_port, venv_bin, wait_until};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BUCKET: &str = "ingest-test";
/// More than one default page (1000 keys).
const BULK: usize = 1005;

struct Moto {
    _server: ChildGuard,
    endpoint: String,
    access_key: String,
    secret_key: String,
    /// (key, size, mtime) as minio lists them.
    minio_listing: Vec<(String, u64, f64)>,
}

/// Starts moto on a free loopback port (with `tls` = (cert, key) over HTTPS) and fills it.
fn start_moto(dir: &Path, tls: Option<(&Path, &Path)>) -> Moto {
    let port = free_port();
    let mut cmd = Command::new(venv_bin("moto_server"));
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((cert, key)) = tls {
        cmd.arg("-c").arg(cert).arg("-k").arg(key);
    }
    let log = std::fs::File::create(dir.join(format!("moto-{port}.log"))).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("starting moto_server");
    let server = ChildGuard::new("moto_server", child);
    assert!(
        wait_until(Duration::from_secs(60), || TcpStream::connect(("127.0.0.1", port)).is_ok()),
        "moto_server did not listen on {port}"
    );
    let endpoint = format!("127.0.0.1:{port}");
    if tls.is_some() {
        // The setup script speaks plain HTTP; the TLS server is only used for one request.
        return Moto {
            _server: server,
            endpoint,
            access_key: String::new(),
            secret_key: String::new(),
            minio_listing: vec![],
        };
    }
    let (ok, out, err) = common::run_python(
        &[common::python_script("s3_moto_setup.py").to_str().unwrap(), &endpoint, BUCKET, &BULK.to_string()],
        &[],
    );
    assert!(ok, "setup failed: {err}");
    let setup: serde_json::Value = serde_json::from_str(out.trim()).expect("setup prints JSON");
    let minio_listing = setup["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o[0].as_str().unwrap().to_owned(), o[1].as_u64().unwrap(), o[2].as_f64().unwrap()))
        .collect();
    Moto {
        _server: server,
        endpoint,
        access_key: setup["access_key"].as_str().unwrap().to_owned(),
        secret_key: setup["secret_key"].as_str().unwrap().to_owned(),
        minio_listing,
    }
}

fn client(endpoint: &str, access: &str, secret: &str, proxy: Option<Proxy>) -> S3Client {
    S3Client::new(S3Settings {
        endpoint: Endpoint::parse(endpoint, false).unwrap(),
        credentials: Some(Credentials::new(access, secret)),
        proxy,
        fallback_region: "us-east-1".into(),
        timeouts: Timeouts { connect: Duration::from_secs(10), io: Duration::from_secs(60) },
    })
}

async fn list_all(client: &S3Client, prefix: &str, page_size: Option<u32>) -> (Vec<ObjectInfo>, usize) {
    let mut listing = client.list_objects(BUCKET, prefix);
    if let Some(size) = page_size {
        listing = listing.page_size(size);
    }
    let (mut all, mut pages) = (Vec::new(), 0);
    while let Some(page) = listing.next_page().await.expect("listing") {
        pages += 1;
        all.extend(page);
    }
    (all, pages)
}

async fn read_all(client: &S3Client, key: &str, offset: u64) -> Option<Vec<u8>> {
    let mut reader = client.get_object(BUCKET, key, offset).await.expect("get_object")?;
    let mut data = Vec::new();
    while let Some(piece) = reader.next_chunk(1 << 20).await.expect("reading the body") {
        data.extend_from_slice(&piece);
    }
    Some(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_moto() {
    let dir = tempfile::tempdir().unwrap();
    let moto = start_moto(dir.path(), None);
    let s3 = client(&moto.endpoint, &moto.access_key, &moto.secret_key, None);

    // Every object, in minio's order and with the chunk values the reference would record.
    let (all, pages) = list_all(&s3, "", None).await;
    assert!(pages >= 2, "{BULK} bulk keys need more than one default page, got {pages}");
    let ours: Vec<(String, u64, f64)> =
        all.iter().map(|o| (o.key.clone(), o.size, o.last_modified)).collect();
    assert_eq!(ours, moto.minio_listing);
    assert!(all.iter().any(|o| o.key == "dir a/café.txt"));
    assert!(all.iter().any(|o| o.key == "odd/a&b=c?d#e.txt"));

    // Small pages give the same keys; a prefix is a plain string prefix.
    let (small, pages) = list_all(&s3, "bulk/0000", Some(3)).await;
    assert_eq!(pages, 4);
    assert_eq!(
        small.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        (0..10).map(|i| format!("bulk/{i:05}.txt")).collect::<Vec<_>>()
    );
    let (prefixed, _) = list_all(&s3, "prefix", Some(1)).await;
    assert_eq!(prefixed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), ["prefix2/x.txt"]);
    let (none, _) = list_all(&s3, "nothing-here/", None).await;
    assert!(none.is_empty());

    // Ranged reads.
    let content = b"content of odd/a&b=c?d#e.txt";
    assert_eq!(read_all(&s3, "odd/a&b=c?d#e.txt", 0).await.unwrap(), content);
    assert_eq!(read_all(&s3, "odd/a&b=c?d#e.txt", 11).await.unwrap(), &content[11..]);
    assert_eq!(read_all(&s3, "odd/a&b=c?d#e.txt", content.len() as u64 - 1).await.unwrap(), b"t");
    assert_eq!(read_all(&s3, "odd/a&b=c?d#e.txt", content.len() as u64).await, None);
    assert_eq!(read_all(&s3, "odd/a&b=c?d#e.txt", 1000).await, None);
    assert_eq!(read_all(&s3, "dir a/café.txt", 0).await.unwrap(), "content of dir a/café.txt".as_bytes());
    assert_eq!(read_all(&s3, "odd/~tilde%41.txt", 0).await.unwrap(), b"content of odd/~tilde%41.txt");
    let big = read_all(&s3, "multi/big.bin", (5 << 20) - 2).await.unwrap();
    assert_eq!(
        big,
        b"aabbbbb"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'b', (5 << 20) - 5))
            .chain([b'c'])
            .collect::<Vec<u8>>()
    );

    // HeadObject.
    let stat = s3.head_object(BUCKET, "multi/big.bin").await.unwrap();
    assert_eq!(stat.size, (10 << 20) + 1);
    assert!(stat.etag.ends_with("-3"), "multipart ETag: {}", stat.etag);
    let listed = all.iter().find(|o| o.key == "multi/big.bin").unwrap();
    assert_eq!(listed.etag, stat.etag);

    // Errors: a missing key, a missing bucket, a wrong secret, an unknown access key.
    let missing = s3.get_object(BUCKET, "no/such/key", 0).await.err().expect("missing key");
    assert_eq!((missing.status(), missing.code()), (Some(404), Some("NoSuchKey")), "{missing}");
    let no_bucket =
        s3.list_objects_page("no-such-bucket", "", None, None).await.err().expect("missing bucket");
    assert_eq!(no_bucket.code(), Some("NoSuchBucket"), "{no_bucket}");
    let wrong = client(&moto.endpoint, &moto.access_key, "not-the-secret", None);
    let error =
        wrong.list_objects_page(BUCKET, "", None, None).await.err().expect("a wrong secret must fail");
    assert_eq!(error.code(), Some("SignatureDoesNotMatch"), "{error}");
    assert!(!error.to_string().contains("not-the-secret"));
    let error = wrong.get_object(BUCKET, "top.txt", 0).await.err().expect("a wrong secret must fail");
    assert_eq!(error.code(), Some("SignatureDoesNotMatch"), "{error}");
    let stranger = client(&moto.endpoint, "AKIANOBODY", &moto.secret_key, None);
    let error = stranger.list_objects_page(BUCKET, "", None, None).await.err().expect("unknown key");
    assert_eq!(error.status(), Some(403), "{error}");
    assert!(!error.to_string().contains(&moto.secret_key));

    // Through an HTTP proxy: absolute-form requests, signatures unchanged.
    let (proxy_port, seen) = start_forwarding_proxy(moto.endpoint.clone()).await;
    let proxied = client(
        &moto.endpoint,
        &moto.access_key,
        &moto.secret_key,
        Some(Proxy::parse(&format!("http://127.0.0.1:{proxy_port}")).unwrap()),
    );
    let (via_proxy, _) = list_all(&proxied, "bulk/0001", None).await;
    assert_eq!(via_proxy.len(), 10);
    assert_eq!(read_all(&proxied, "top.txt", 3).await.unwrap(), b"tent of top.txt");
    let lines = seen.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("GET http://{}/{BUCKET}?", moto.endpoint))),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("GET http://{}/{BUCKET}/top.txt ", moto.endpoint))),
        "{lines:?}"
    );

    // A refused connection is an error, not a hang.
    let closed = client(&format!("127.0.0.1:{}", free_port()), "a", "b", None);
    let error = closed.list_objects_page(BUCKET, "", None, None).await.err().expect("nothing listens there");
    assert!(matches!(error, S3Error::Io { .. }), "{error}");
}

/// A minimal HTTP proxy for absolute-form requests: records each request line, forwards the
/// request to `upstream` in origin form, and copies the answer back (one request per connection).
async fn start_forwarding_proxy(upstream: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, record) = (upstream.clone(), record.clone());
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    if client.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let done = line == "\r\n";
                    head.push(line);
                    if done {
                        break;
                    }
                }
                let request_line = head[0].trim_end().to_owned();
                record.lock().unwrap().push(request_line.clone());
                let mut parts = request_line.splitn(3, ' ');
                let (method, target, version) =
                    (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
                let origin_form = target.strip_prefix(&format!("http://{upstream}")).unwrap_or(target);
                let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let mut forwarded = format!("{method} {origin_form} {version}\r\n");
                head[1..]
                    .iter()
                    .filter(|h| !h.to_ascii_lowercase().starts_with("proxy-"))
                    .for_each(|h| forwarded.push_str(h));
                server.write_all(forwarded.as_bytes()).await.unwrap();
                let mut client = client.into_inner();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (port, seen)
}

/// HTTPS: moto with a certificate for 127.0.0.1 signed by a private CA that `SSL_CERT_FILE` names;
/// an anonymous request reaches the service (its error proves the TLS exchange worked), and a
/// peer whose certificate is not trusted is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(d).output().expect("running openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ingest test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    // SAFETY: set before any TLS use in this process; no other test of this binary reads it.
    unsafe { std::env::set_var("SSL_CERT_FILE", d.join("ca.pem")) };

    let moto = start_moto(d, Some((&d.join("server.pem"), &d.join("server.key"))));
    let settings = |endpoint: &str| S3Settings {
        endpoint: Endpoint::parse(endpoint, true).unwrap(),
        credentials: None,
        proxy: None,
        fallback_region: "us-east-1".into(),
        timeouts: Timeouts::default(),
    };
    let s3 = S3Client::new(settings(&moto.endpoint));
    let error = s3.list_objects_page("no-such-bucket", "", None, None).await.err().expect("no bucket there");
    assert_eq!(error.code(), Some("NoSuchBucket"), "{error}");

    // The same server under a name its certificate does not carry.
    let port = moto.endpoint.rsplit(':').next().unwrap();
    let s3 = S3Client::new(settings(&format!("localhost:{port}")));
    let error = s3.list_objects_page("no-such-bucket", "", None, None).await.err().expect("wrong name");
    assert!(matches!(error, S3Error::Tls { .. }), "{error}");
}
