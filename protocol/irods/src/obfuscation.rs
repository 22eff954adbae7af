//! iRODS's legacy password obfuscation for `~/.irods/.irodsA` (`obfEncodeByKey`-era format).
//!
//! This is obfuscation, not encryption: the file is salted only with the user's uid. We need it to
//! read the same password file that iinit and python-irodsclient write.
//!
//! Format: `.` + 5 encoded filler characters + one plain "sequence" character (`e` + index into
//! a table of 16 constants) + the encoded password + NUL. Each character of the 77-character wheel is
//! rotated by `((seq >> shift) & 0x1f) + (uid & 0xf5f)`, where `shift` advances by 3 per character
//! and wraps to 0 after 28; characters outside the wheel are kept as they are.

const WHEEL: &[u8; 77] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"#$%&'()*+,-./";

const SEQUENCE: [u32; 16] = [
    0xd768b678, 0xedfdaf56, 0x2420231b, 0x987098d8, 0xc1bdfeee, 0xf572341f, 0x478def3a, 0xa830d343,
    0x774dfa2a, 0x6720731e, 0x346fa320, 0x6ffdf43a, 0x7723a320, 0xdf67d02e, 0x86ad240a, 0xe76d342e,
];

/// Number of filler characters between the leading `.` and the sequence character.
const FILLER: usize = 5;

/// Why an `.irodsA` text could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObfuscationError {
    #[error("the obfuscated password is too short")]
    TooShort,
    #[error("the obfuscated password has an invalid sequence character")]
    BadSequence,
}

/// Rotation of the character at `position` (counted over filler + password characters).
struct Rotation {
    seq: u32,
    shift: u32,
    salt: u32,
}

impl Rotation {
    fn new(seq: u32, uid: u32) -> Self {
        Rotation { seq, shift: 0, salt: uid & 0xf5f }
    }

    fn next(&mut self) -> usize {
        let offset = ((self.seq >> self.shift) & 0x1f) + self.salt;
        self.shift += 3;
        if self.shift > 28 {
            self.shift = 0;
        }
        offset as usize
    }
}

fn wheel_index(c: char) -> Option<usize> {
    if c.is_ascii() { WHEEL.iter().position(|&w| w == c as u8) } else { None }
}

/// Decodes the contents of an `.irodsA` file for the given uid (trailing newlines/NULs ignored).
pub fn decode_irods_a(text: &str, uid: u32) -> Result<String, ObfuscationError> {
    let text = text.trim_end_matches(['\n', '\r']);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < FILLER + 2 {
        return Err(ObfuscationError::TooShort);
    }
    let seq_char = chars[FILLER + 1] as u32;
    let index = seq_char
        .checked_sub('e' as u32)
        .filter(|i| (*i as usize) < SEQUENCE.len())
        .ok_or(ObfuscationError::BadSequence)?;
    let mut rotation = Rotation::new(SEQUENCE[index as usize], uid);
    // The filler characters consumed the first FILLER rotations.
    for _ in 0..FILLER {
        rotation.next();
    }
    let mut out = String::new();
    for &c in &chars[FILLER + 2..] {
        if c == '\0' {
            break;
        }
        let offset = rotation.next();
        match wheel_index(c) {
            Some(i) => out.push(WHEEL[(i + WHEEL.len() * 64 - offset % WHEEL.len()) % WHEEL.len()] as char),
            None => out.push(c),
        }
    }
    Ok(out)
}

/// Encodes a password as iinit would write it (sequence 0; `mtime` fills the filler characters).
pub fn encode_irods_a(password: &str, uid: u32, mtime: u64) -> String {
    let mut plain = String::new();
    plain.push('S');
    for shift in [4, 0, 12, 8] {
        plain.push((b'a' + ((mtime >> shift) & 0xf) as u8) as char);
    }
    plain.push_str(password);
    let mut rotation = Rotation::new(SEQUENCE[0], uid);
    let mut encoded = String::from(".");
    for c in plain.chars() {
        if c == '\0' {
            break;
        }
        let offset = rotation.next();
        match wheel_index(c) {
            Some(i) => encoded.push(WHEEL[(i + offset) % WHEEL.len()] as char),
            None => encoded.push(c),
        }
        if encoded.chars().count() == FILLER + 1 {
            encoded.push('e');
        }
    }
    encoded.push('\0');
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of python-irodsclient 3.3.0 `password_obfuscation.encode` for the same inputs.
    #[test]
    fn matches_python_irodsclient() {
        assert_eq!(encode_irods_a("rods", 1000, 1_700_000_000), ".jis*fe\"(x)\0");
        assert_eq!(encode_irods_a("p@ss w0rd!é", 0, 1_700_000_123), ".qw+1me'@40 5F1%,é\0");
        assert_eq!(decode_irods_a(".jis*fe\"(x)\0", 1000).unwrap(), "rods");
        assert_eq!(decode_irods_a(".qw+1me'@40 5F1%,é\0\n", 0).unwrap(), "p@ss w0rd!é");
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        for uid in [0, 1, 1000, 65534, 0xffff_ffff] {
            let pw = "Zz9!\"#$%&'()*+,-./ x~";
            assert_eq!(decode_irods_a(&encode_irods_a(pw, uid, 12345), uid).unwrap(), pw);
        }
        assert_eq!(decode_irods_a(".ab", 0), Err(ObfuscationError::TooShort));
        assert_eq!(decode_irods_a(".abcde!xyz", 0), Err(ObfuscationError::BadSequence));
    }
}
