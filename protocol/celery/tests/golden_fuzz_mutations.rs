//! A deterministic, dependency-free stand-in for the cargo-fuzz target (`fuzz/`): mutates the
//! captured fixtures (bit flips, byte insertions and deletions, truncations, splices, JSON-ish
//! token insertions) and random bytes, and runs every decoder on each result through
//! `celery_proto::message::fuzzing::exercise_decoders`, which panics on any broken invariant.
//!
//! `FUZZ_ITERATIONS` (default 10000) sets the number of mutated inputs.

use std::path::Path;

use celery_proto::message::fuzzing::exercise_decoders;

/// xorshift64*: enough randomness for mutation, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udce9",
    b"\\ud83d\\ude00",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-0",
    b"123456789012345678901234567890",
    b"null",
    b"true",
    b"{\"__type__\": \"x\", \"__value__\": 1}",
    b"\"body\": ",
    b"\"headers\": {}",
    b"\xff",
    b"\xed\xa0\x80",
    b"\"delivery_info\": {}",
    b"\"timelimit\": [1]",
    b"\"eta\": \"x\"",
    b"\x00",
];

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "raw") {
                out.push(std::fs::read(&path).expect("fixture"));
            }
        }
    }
    // The base64 bodies inside the envelopes are fuzzed as JSON of their own.
    out.push(br#"[["caf\udce9"], {"k": [1.5, NaN, 18446744073709551616]}, {"callbacks": null, "errbacks": null, "chain": [{"task": "t"}], "chord": null}]"#.to_vec());
    out.sort();
    out
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(16)) + 1;
                input.drain(i..i + n);
            }
            3 => input.truncate(rng.below(len + 1)),
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let (a, b) = (rng.below(len + 1), rng.below(other.len() + 1));
                input.truncate(a);
                input.extend_from_slice(&other[b..]);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                input.splice(i..i, token.iter().copied());
            }
        }
    }
}

#[test]
fn decoders_survive_mutated_fixtures() {
    let seeds = seeds();
    assert!(seeds.len() >= 20, "fixtures missing");
    for seed in &seeds {
        exercise_decoders(seed);
    }
    let iterations: usize =
        std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut rng = Rng(0x5EED_CE1E_0000_0001);
    for _ in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &seeds, &mut input);
        exercise_decoders(&input);
    }
}

#[test]
fn decoders_survive_random_bytes_and_deep_nesting() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(200);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise_decoders(&input);
    }
    for open in [b"[".as_slice(), b"{\"a\": ".as_slice(), b"[{\"body\": ".as_slice()] {
        exercise_decoders(&open.repeat(50_000));
    }
}
