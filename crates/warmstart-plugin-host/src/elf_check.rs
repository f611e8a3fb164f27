//! A plugin file's shape, checked before `dlopen` maps it.
//!
//! The dynamic loader trusts the file: a truncated library (an interrupted copy, a build
//! still being written) has program headers that promise bytes past the end of the file,
//! and the first touch of such a page kills the process with SIGBUS — no error, no
//! message, for `plugins check` and for every `plan`/`run` of an experiment declaring the
//! plugin. [`check_shared_library`] reads the ELF header and program headers (with the
//! `object` crate, which never reads out of bounds) and refuses a file that is not a
//! complete shared library for this machine, so that the loader only ever sees files whose
//! every loaded segment lies inside the file.
//!
//! The check is a pure function of the bytes, so it is fuzzed directly. On hosts whose
//! libraries are not ELF (macOS, Windows) it is not applied: their loaders read Mach-O and
//! PE, which this module does not parse.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Endian, Endianness};

/// The ELF header type of this host's class (64- or 32-bit).
#[cfg(target_pointer_width = "64")]
type HostHeader = elf::FileHeader64<Endianness>;
#[cfg(not(target_pointer_width = "64"))]
type HostHeader = elf::FileHeader32<Endianness>;

/// The `e_machine` this host's loader accepts, where we know it (`None`: not checked).
fn host_machine() -> Option<elf::Machine> {
    if cfg!(target_arch = "x86_64") {
        Some(elf::EM_X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(elf::EM_AARCH64)
    } else if cfg!(target_arch = "x86") {
        Some(elf::EM_386)
    } else if cfg!(target_arch = "riscv64") {
        Some(elf::EM_RISCV)
    } else {
        None
    }
}

/// Whether this host's plugins are ELF files, so that [`check_shared_library`] applies.
pub const fn host_uses_elf() -> bool {
    cfg!(all(unix, not(target_vendor = "apple")))
}

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not an ELF shared library for this machine at all (a text file, an executable,
    /// another architecture or class).
    NotALibrary(String),
    /// ELF whose bytes are cut off or inconsistent: loading it could fault.
    Incomplete(String),
}

/// The `EI_CLASS` byte of this host's ELF files (offset 4 of the identification).
const HOST_CLASS: u8 = if cfg!(target_pointer_width = "64") {
    elf::ELFCLASS64.0
} else {
    elf::ELFCLASS32.0
};
const EI_CLASS: usize = 4;

/// Check that `data` is a complete ELF shared library for this host: the right class,
/// byte order and machine, type `ET_DYN`, a program header table inside the file, and
/// every `PT_LOAD` segment's file range inside the file, and the section header table
/// (at the end of the file) inside it too. The error says what is wrong.
pub fn check_shared_library(data: &[u8]) -> Result<(), Rejection> {
    use Rejection::{Incomplete, NotALibrary};
    if !data.starts_with(&elf::ELFMAG) {
        return Err(NotALibrary(
            "not an ELF file: it does not start with the ELF magic bytes".into(),
        ));
    }
    match data.get(EI_CLASS) {
        None => return Err(Incomplete("it ends inside its ELF header".into())),
        Some(&class) if class != HOST_CLASS => {
            return Err(NotALibrary(format!(
                "it is not {}-bit ELF, as this machine needs",
                usize::BITS
            )));
        }
        Some(_) => {}
    }
    let header = HostHeader::parse(data)
        .map_err(|_| Incomplete("its ELF header is cut off or invalid".into()))?;
    let endian = header
        .endian()
        .map_err(|_| NotALibrary("its ELF header has an unknown byte order".into()))?;
    if endian.is_little_endian() != cfg!(target_endian = "little") {
        return Err(NotALibrary(
            "it is ELF for the other byte order than this machine's".into(),
        ));
    }
    if let Some(machine) = host_machine()
        && header.e_machine(endian) != machine
    {
        return Err(NotALibrary(format!(
            "it is ELF for another machine (e_machine {}, this machine is {})",
            header.e_machine(endian).0,
            machine.0
        )));
    }
    if header.e_type(endian) != elf::ET_DYN {
        return Err(NotALibrary(format!(
            "it is an ELF file of type {}, not a shared library (ET_DYN)",
            header.e_type(endian).0
        )));
    }
    let segments = header.program_headers(endian, data).map_err(|e| {
        Incomplete(format!(
            "its program header table is cut off or invalid ({e})"
        ))
    })?;
    let len = data.len() as u64;
    let mut loads = 0usize;
    for (i, ph) in segments.iter().enumerate() {
        if ph.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        loads += 1;
        let (offset, size) = ph.file_range(endian);
        let end = offset.checked_add(size);
        if end.is_none_or(|end| end > len) {
            return Err(Incomplete(format!(
                "loaded segment {i} needs file bytes {offset}..{} but the file has only {len} \
                 bytes (the file is truncated)",
                offset.saturating_add(size)
            )));
        }
    }
    if loads == 0 {
        return Err(Incomplete("it has no loadable segment".into()));
    }
    // The loader does not need section headers, but they sit at the end of the file: if
    // they are cut off, so is the file (and whatever else was appended to it).
    header.section_headers(endian, data).map_err(|e| {
        Incomplete(format!(
            "its section header table is cut off or invalid ({e})"
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running test binary's own shared libraries are complete ELF files for this host.
    fn a_real_library() -> Option<Vec<u8>> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let path = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("libc.so") || p.contains("libc-"))?;
        std::fs::read(path).ok()
    }

    #[test]
    fn a_complete_library_passes_and_every_truncation_of_it_fails() {
        if !host_uses_elf() {
            return;
        }
        let Some(lib) = a_real_library() else {
            panic!("no libc mapped into the test process to check against");
        };
        assert_eq!(check_shared_library(&lib), Ok(()));
        for cut in [0, 3, 4, 40, 64, 200, 5000, lib.len() / 2, lib.len() - 1] {
            let err = check_shared_library(&lib[..cut]).expect_err("a truncated file");
            if cut >= 5 {
                assert!(
                    matches!(err, Rejection::Incomplete(_)),
                    "cut at {cut}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn non_elf_and_wrong_type_are_refused_with_a_reason() {
        assert!(matches!(
            check_shared_library(b"#!/bin/sh\necho hi\n"),
            Err(Rejection::NotALibrary(r)) if r.contains("ELF magic")
        ));
        if host_uses_elf()
            && let Some(mut lib) = a_real_library()
        {
            // e_type at offset 16 (both classes): ET_EXEC instead of ET_DYN.
            let exec = elf::ET_EXEC.0.to_ne_bytes();
            lib[16..18].copy_from_slice(&exec);
            assert!(matches!(
                check_shared_library(&lib),
                Err(Rejection::NotALibrary(r)) if r.contains("type 2")
            ));
        }
    }
}
