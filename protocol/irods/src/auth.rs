//! The native-scheme password proof, shared by both authentication flows (legacy 703/704 and
//! the 4.3 framework) and by both sides (client computes it, a server verifies it).

use md5::{Digest, Md5};

use crate::consts::limits::MAX_PASSWORD_LEN;

/// `next_operation` values of the 4.3 authentication framework, native scheme.
pub const AUTH_AGENT_AUTH_REQUEST: &str = "auth_agent_auth_request";
pub const AUTH_AGENT_AUTH_RESPONSE: &str = "auth_agent_auth_response";

/// The 16-byte answer to a challenge: MD5 over the challenge followed by the password padded with
/// NULs to 50 bytes (longer passwords are cut), with every 0 byte of the digest replaced by 1 (the
/// C implementation treats the digest as a string).
pub fn native_digest(challenge: &[u8], password: &str) -> [u8; 16] {
    let mut padded = [0u8; MAX_PASSWORD_LEN];
    let pw = password.as_bytes();
    let n = pw.len().min(MAX_PASSWORD_LEN);
    padded[..n].copy_from_slice(&pw[..n]);
    let mut hasher = Md5::new();
    hasher.update(challenge);
    hasher.update(padded);
    let mut digest: [u8; 16] = hasher.finalize().into();
    for b in &mut digest {
        if *b == 0 {
            *b = 1;
        }
    }
    digest
}

/// The session signature (hex of the challenge's first 16 bytes), used by admin password changes.
pub fn session_signature(challenge: &[u8]) -> String {
    challenge.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_python_irodsclient() {
        // hashlib.md5(b"0123456789abcdef"*4 + struct.pack("50s", b"rods")).digest(), NULs -> 1
        let d = native_digest(&b"0123456789abcdef".repeat(4), "rods");
        use base64::Engine as _;
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(d), "FyEC9j4SQM5mgkgToh/PrA==");
        assert_eq!(session_signature(b"\x01\xab"), "01ab");
    }
}
