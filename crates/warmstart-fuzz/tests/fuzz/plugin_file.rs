//! Plugin files through the ELF check that runs before `dlopen`.
//!
//! Starts from a real shared library (the C library of this process) and truncates it,
//! flips bytes, rewrites header and program-header fields with extreme values, or makes
//! up bytes from nothing. The check must answer (ok or a reason) without panicking; and
//! anything it accepts must be a file whose every loaded segment is inside the file —
//! re-checked here independently, on the raw program headers.

use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use warmstart_plugin_host::elf_check::{check_shared_library, host_uses_elf};

use super::harness::{budget, run_for, save_failure, within_limit};

fn library() -> &'static Vec<u8> {
    static LIB: OnceLock<Vec<u8>> = OnceLock::new();
    LIB.get_or_init(|| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        maps.lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
            .and_then(|p| std::fs::read(p).ok())
            .expect("the C library of this process")
    })
}

#[derive(Debug, Clone)]
enum Damage {
    Truncate(Index),
    Flip(Index, u8),
    /// Overwrite 8 bytes in the first 4 KiB (headers live there) with an extreme value.
    Field(usize, u64),
    /// Overwrite bytes inside the program header table.
    ProgramHeader(Index, u64),
}

fn damage() -> impl Strategy<Value = Damage> {
    let extreme = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        Just(1 << 32),
        Just(0xffff_ffff),
        any::<u64>()
    ];
    prop_oneof![
        2 => any::<Index>().prop_map(Damage::Truncate),
        2 => (any::<Index>(), 1u8..=255).prop_map(|(i, b)| Damage::Flip(i, b)),
        2 => (0usize..4096, extreme.clone()).prop_map(|(o, v)| Damage::Field(o, v)),
        3 => (any::<Index>(), extreme).prop_map(|(i, v)| Damage::ProgramHeader(i, v)),
    ]
}

#[derive(Debug, Clone)]
enum Input {
    Damaged(Vec<Damage>),
    /// An ELF magic followed by random bytes.
    Random(Vec<u8>),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => proptest::collection::vec(damage(), 1..4).prop_map(Input::Damaged),
        1 => proptest::collection::vec(any::<u8>(), 0..600).prop_map(|mut b| {
            let magic = [0x7f, b'E', b'L', b'F', 2, 1, 1];
            for (i, m) in magic.iter().enumerate() {
                if let Some(x) = b.get_mut(i) {
                    *x = *m;
                }
            }
            Input::Random(b)
        }),
    ]
}

/// The program header table's byte range, read by hand (64-bit little-endian ELF).
fn ph_table(b: &[u8]) -> Option<(usize, usize, usize)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let off = usize::try_from(u64_at(32)?).ok()?;
    Some((off, u16_at(54)? as usize, u16_at(56)? as usize))
}

fn materialize(input: &Input) -> Vec<u8> {
    match input {
        Input::Random(b) => b.clone(),
        Input::Damaged(ds) => {
            let mut b = library().clone();
            for d in ds {
                match d {
                    Damage::Truncate(i) => b.truncate(i.index(b.len() + 1)),
                    Damage::Flip(i, x) if !b.is_empty() => {
                        let at = i.index(b.len());
                        b[at] ^= x;
                    }
                    Damage::Field(o, v) if o + 8 <= b.len() => {
                        b[*o..o + 8].copy_from_slice(&v.to_le_bytes());
                    }
                    Damage::ProgramHeader(i, v) => {
                        if let Some((off, size, n)) = ph_table(&b)
                            && size >= 8
                            && n > 0
                        {
                            let at = off.saturating_add(i.index(size * n) & !7);
                            if at.saturating_add(8) <= b.len() {
                                b[at..at + 8].copy_from_slice(&v.to_le_bytes());
                            }
                        }
                    }
                    _ => {}
                }
            }
            b
        }
    }
}

/// An independent reading of "every PT_LOAD lies inside the file" (64-bit LE only).
fn loads_inside(b: &[u8]) -> bool {
    let Some((off, size, n)) = ph_table(b) else {
        return false;
    };
    (0..n).all(|k| {
        let base = off + k * size;
        let Some(h) = b.get(base..base + 56) else {
            return false;
        };
        let word = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
        let p_type = u32::from_le_bytes(h[0..4].try_into().unwrap_or([0; 4]));
        p_type != 1
            || word(8)
                .checked_add(word(32))
                .is_some_and(|end| end <= b.len() as u64)
    })
}

#[test]
fn plugin_file_checks_never_panic_and_accept_only_complete_files() {
    if !host_uses_elf() || !cfg!(all(target_pointer_width = "64", target_endian = "little")) {
        return;
    }
    assert_eq!(check_shared_library(library()), Ok(()));
    run_for(
        "plugin-file",
        budget(Duration::from_secs(5)),
        input(),
        |input| {
            let bytes = materialize(&input);
            let b = bytes.clone();
            let verdict = within_limit(move || check_shared_library(&b)).map_err(|e| {
                let saved = save_failure("plugin", "so", &bytes);
                format!("{e}\ninput saved to {}", saved.display())
            })?;
            if verdict.is_ok() && !loads_inside(&bytes) {
                let saved = save_failure("plugin", "so", &bytes);
                return Err(format!(
                    "accepted a file with a segment outside it; saved to {}",
                    saved.display()
                ));
            }
            Ok(())
        },
    );
}
