//! Seeded generators. All randomness of the crate is drawn from
//! [`Xoshiro256PlusPlus`] (fast, 256-bit state, passes BigCrush; not cryptographic, which
//! is not needed here), seeded from (seed, stream, index) by SplitMix64 mixing so that
//! independent units (Monte-Carlo chunks, repetitions, vectors of a problem) get
//! independent, reproducible streams regardless of scheduling.

use rand::SeedableRng;
pub use rand::rngs::Xoshiro256PlusPlus as FastRng;
use rand_distr::{Distribution, StandardNormal};

/// Stream tags: one per independent use of randomness, so that adding a draw in one place
/// never shifts the numbers drawn in another.
pub mod tags {
    pub const PROBLEM: u64 = 1;
    pub const PCA_DATA: u64 = 2;
    pub const PCA_START: u64 = 3;
    pub const INIT: u64 = 4;
    pub const PGD: u64 = 5;
    pub const MC: u64 = 6;
    pub const RIDGE: u64 = 7;
    pub const WEAK_SAMPLES: u64 = 8;
}

/// SplitMix64 finaliser: a bijective mix with good avalanche.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of unit `index` of stream `tag` under `seed`.
pub fn stream(seed: u64, tag: u64, index: u64) -> FastRng {
    let s = splitmix(splitmix(splitmix(seed) ^ tag.wrapping_mul(0xA24B_AED4_963E_E407)) ^ index);
    FastRng::seed_from_u64(s)
}

/// Fills `out` with i.i.d. standard normals.
#[inline]
pub fn fill_normal(rng: &mut FastRng, out: &mut [f64]) {
    for o in out.iter_mut() {
        *o = StandardNormal.sample(rng);
    }
}

/// One standard normal.
#[inline]
pub fn normal(rng: &mut FastRng) -> f64 {
    StandardNormal.sample(rng)
}
