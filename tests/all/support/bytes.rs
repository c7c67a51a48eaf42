//! File contents that show where they came from: a pattern in which a slice from the wrong
//! offset cannot pass for the right one, a readable tag in front of it, and seeded noise.

/// `len` bytes where every position differs from its neighbours, so a slice taken from the
/// wrong offset cannot pass for the right one.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

/// `len` bytes: `ID3 <tag> `, then `pattern`. A body from the wrong file names itself.
#[track_caller]
pub fn tagged(tag: &str, len: usize) -> Vec<u8> {
    let mut bytes = format!("ID3 {tag} ").into_bytes();
    assert!(bytes.len() <= len, "{len} bytes cannot hold the tag `{tag}`");
    bytes.extend(pattern(len - bytes.len()));
    bytes
}

/// `len` bytes of noise from `seed`: unlike `pattern`, no two long runs of it are alike, so
/// a misplaced or zeroed piece of a large body cannot go unnoticed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Test randomness with a fixed seed, so a failing case can be replayed.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `-1.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}
