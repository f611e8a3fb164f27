//! Times the normal generator alone (ns per draw).
use std::time::Instant;
use warmstart_synth::rng::{fill_normal, stream};
fn main() {
    let mut rng = stream(1, 2, 3);
    let mut x = vec![0.0; 1000];
    let t0 = Instant::now();
    let mut s = 0.0;
    for _ in 0..20000 {
        fill_normal(&mut rng, &mut x);
        s += x[7];
    }
    println!(
        "{:.3} ns/draw ({s})",
        t0.elapsed().as_secs_f64() * 1e9 / 2e7
    );
}
