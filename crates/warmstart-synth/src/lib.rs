//! Synthetic W2SG science: spiked single-index model, activations, PCA, spherical PGD, exact and Monte-Carlo risk, ridge teacher/student. Pure math, no Arrow.
