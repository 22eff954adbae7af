//! Mutation testing of the decoders without a fuzzer: every captured vector is mutated many
//! times (bit flips, insertions of markup fragments, deletions, truncations, duplications) and fed
//! to the XML parser, every message decoder and the frame parser. Nothing may panic, and anything
//! that decodes must survive re-encoding (see `irods_proto::fuzzing`). Deterministic seed.

use std::path::PathBuf;

use irods_proto::fuzzing::decode_everything;
use irods_proto::{FrameLimits, Packet};

/// xorshift64*: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const FRAGMENTS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&#",
    b"&#x110000;",
    b"&#65;",
    b"\0",
    b"\x01",
    b"\xff\xfe",
    b"<a>",
    b"</a>",
    b"<KeyValPair_PI>",
    b"</KeyValPair_PI>",
    b"<ssLen>-1</ssLen>",
    b"<inx>99999999999</inx>",
    b"<buf>!!!</buf>",
    b"<?xml version='1.0'?>",
    b"<!--",
    b"-->",
    b"<x y='1'>",
    b"-",
    b"2147483648",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let frag = FRAGMENTS[rng.below(FRAGMENTS.len())];
                data.splice(at..at, frag.iter().copied());
            }
            2 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => data.truncate(at),
            4 if at < data.len() => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(end..end, copy);
            }
            _ => {
                let i = rng.below(data.len().max(1));
                if i < data.len() {
                    data[i] = rng.next() as u8;
                }
            }
        }
    }
    data
}

fn vectors() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out = Vec::new();
    for sub in [dir.join("prc"), dir.clone()] {
        for entry in std::fs::read_dir(sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 30, "expected the captured vectors");
    out
}

#[test]
fn mutated_vectors_never_panic_the_decoders() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for (name, original) in vectors() {
        decode_everything(&original);
        for round in 0..300 {
            let mutated = mutate(&mut rng, &original);
            let result = std::panic::catch_unwind(|| decode_everything(&mutated));
            assert!(
                result.is_ok(),
                "{name} mutation {round} panicked: {:?}",
                String::from_utf8_lossy(&mutated)
            );
        }
    }
}

#[test]
fn mutated_sessions_never_panic_the_frame_parser() {
    let mut rng = Rng(0x0ddb_a11c_afe0_0001);
    let limits = FrameLimits { max_body: 1 << 16, max_error: 1 << 16, max_bs: 1 << 16 };
    for (name, original) in vectors().into_iter().filter(|(n, _)| n.ends_with(".bin")) {
        for round in 0..2000 {
            let mutated = mutate(&mut rng, &original);
            let result = std::panic::catch_unwind(|| {
                let mut rest = &mutated[..];
                while let Ok(Some((packet, used))) = Packet::parse(rest, &limits) {
                    decode_everything(&packet.body);
                    rest = &rest[used..];
                }
            });
            assert!(result.is_ok(), "{name} mutation {round} panicked");
        }
    }
}

#[test]
fn huge_declared_lengths_are_refused_without_allocating() {
    let header = b"<MsgHeader_PI><type>RODS_API_REPLY</type><msgLen>2147483647</msgLen><errorLen>0</errorLen><bsLen>0</bsLen><intInfo>0</intInfo></MsgHeader_PI>";
    let mut wire = (header.len() as i32).to_be_bytes().to_vec();
    wire.extend_from_slice(header);
    assert!(Packet::parse(&wire, &FrameLimits::default()).is_err());
}
