//! A "plugin" from the future: its table declares ABI version 999. The host must refuse
//! it after reading only that first field (nothing else in the table is valid).

/// Only the version field; a host that read further would read garbage.
#[repr(C)]
pub struct FutureTable {
    pub abi_version: u32,
}

static TABLE: FutureTable = FutureTable { abi_version: 999 };

/// The entry symbol, with a table of the wrong version.
#[unsafe(no_mangle)]
pub extern "C" fn warmstart_plugin_v1() -> *const FutureTable {
    &TABLE
}
