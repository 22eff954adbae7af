//! Reading passwords that admin requests carry obfuscated (iRODS `obf.cpp`): the "wheel" cipher
//! keyed by an MD5-derived ring, optionally block-chained, and the fixed padding iadmin appends.
//!
//! Two forms reach the server:
//! * `modify user <u> password <x>` / `userpw`: v2 form — key = MD5 hex of (admin password[..90]
//!   ‖ session signature[..100], NUL-padded to 100), block chaining, and a 7-character prefix.
//! * `mkuser <u> <x>`: keyed by the admin password directly, no chaining, no prefix.

use md5::{Digest, Md5};

const WHEEL: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"#$%&'()*+,-./";
const PADDING: &str = "1gCBizHWbwIYyWLoysGzTe6SyzqFKMniZX05faZHWAwQKXf6Fs";
const MAX_PASSWORD_LEN: usize = 50;

fn ring(key: &[u8]) -> Vec<u8> {
    let mut padded = [0u8; 100];
    let n = key.len().min(100);
    padded[..n].copy_from_slice(&key[..n]);
    let first: [u8; 16] = Md5::digest(padded).into();
    let second: [u8; 16] = Md5::digest(first).into();
    let mut both = first.to_vec();
    both.extend_from_slice(&second);
    let third: [u8; 16] = Md5::digest(&both).into();
    let mut out = both;
    out.extend_from_slice(&third);
    out.extend_from_slice(&third);
    out
}

fn unscramble(text: &str, key: &[u8], chaining: bool) -> String {
    let ring = ring(key);
    let mut chain: usize = 0;
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match u8::try_from(c).ok().and_then(|b| WHEEL.iter().position(|&w| w == b)) {
            Some(position) => {
                let shift = usize::from(ring[i % 61]) + chain;
                let index = (position + WHEEL.len() * 8 - shift % WHEEL.len()) % WHEEL.len();
                out.push(char::from(WHEEL[index]));
                if chaining {
                    chain = (c as usize) & 0xff;
                }
            }
            None => out.push(c),
        }
    }
    out
}

/// Removes the padding iadmin appends to short passwords.
fn strip_padding(text: &str) -> String {
    let limit = MAX_PASSWORD_LEN - 10;
    if text.chars().count() == limit {
        for (i, _) in text.char_indices() {
            let rest = &text[i..];
            if PADDING.starts_with(rest) && rest.len() == limit - i {
                return text[..i].to_string();
            }
        }
    }
    text.to_string()
}

/// Decodes a v2-obfuscated password (`modify user ... password`, `userpw`).
pub fn decode_v2(obfuscated: &str, admin_password: &str, signature: &str) -> String {
    let mut key: String = admin_password.chars().take(90).collect();
    key.extend(signature.chars().take(100));
    let mut padded = key.into_bytes();
    padded.resize(100.max(padded.len()), 0);
    let hex: String = Md5::digest(&padded).iter().map(|b| format!("{b:02x}")).collect();
    let plain = unscramble(obfuscated, hex.as_bytes(), true);
    // One random character and ".ObfV2" lead the plaintext.
    let body: String = plain.chars().skip(7).collect();
    strip_padding(&body)
}

/// Decodes a password obfuscated with a plain key (`mkuser`).
pub fn decode_with_key(obfuscated: &str, key: &str) -> String {
    strip_padding(&unscramble(obfuscated, key.as_bytes(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from python-irodsclient 3.3.0 (`obfuscate_new_password`, `..._with_key`).
    #[test]
    fn decodes_python_irodsclient_obfuscation() {
        let signature = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            decode_v2("HFZuU)sB+H\"CLlX!L.cuO\"b0s-'&%D0OgxUb1nY*$a\"7RG)", "rods", signature),
            "alicepw"
        );
        assert_eq!(
            decode_v2(">S!sVAY!VQmjzO2!MozFF!V,IN'Zd!4Bs%xZ\"", "rods", "fedcba9876543210fedcba9876543210"),
            "a-much-longer-password-of-30ch"
        );
        assert_eq!(decode_with_key("9K9jBHcNlr%2elTZll&E\"W$MHfzFfbG(jV0vyHy5", "rods"), "bobpw");
    }

    #[test]
    fn strips_only_the_padding() {
        let padded = format!("abc1{}", &PADDING[..36]);
        assert_eq!(strip_padding(&padded), "abc1");
        assert_eq!(
            strip_padding("a-long-password-that-is-not-padded-at-all"),
            "a-long-password-that-is-not-padded-at-all"
        );
    }
}
