//! Synthetic W2SG science: spiked single-index model, activations, PCA, spherical PGD,
//! exact and Monte-Carlo risk, ridge teacher/student. Pure math, no Arrow.
//!
//! Randomness: every random quantity comes from a [`rand::rngs::Xoshiro256PlusPlus`]
//! generator seeded by [`rng::stream`] from (stage seed, stream tag, unit index) through
//! SplitMix64, so results are a function of the seed alone and never of the number of
//! rayon threads (parallel work is split into fixed units, each with its own generator).

pub mod activation;
pub mod error;
pub mod init;
pub mod landscape;
pub mod linalg;
pub mod model;
pub mod pca;
pub mod pgd;
pub mod quadrature;
pub mod ridge;
pub mod risk;
pub mod rng;
pub mod sphere;

pub use activation::{Activation, ActivationKind};
pub use error::SynthError;
pub use model::Problem;
