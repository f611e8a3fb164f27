//! The C ABI between warmstart and engine plugins, and the SDK plugin authors use.
//!
//! A plugin is a dynamic library (`cdylib`) that exports one symbol,
//! [`ENTRY_SYMBOL`] (`warmstart_plugin_v1`): an `extern "C" fn() -> *const PluginTable`.
//! The [`PluginTable`] is a `#[repr(C)]` table of `extern "C"` function pointers whose
//! first field, [`PluginTable::abi_version`], the host reads — and checks against
//! [`ABI_VERSION`] — before it touches anything else.
//!
//! Everything that crosses the boundary has a C form:
//!
//! * strings going *into* the plugin are borrowed `(ptr, len)` UTF-8 slices ([`WsStr`]),
//!   valid for the duration of the call;
//! * params, coordinates, input descriptions, engine metadata and errors are JSON strings;
//! * tables are Arrow C Data Interface structs ([`FFI_ArrowArray`] / [`FFI_ArrowSchema`]),
//!   one struct array per table;
//! * everything the plugin allocates and hands out (metadata string, output tables, error
//!   string) is given back to the plugin through a release callback
//!   ([`PluginTable::free_string`], [`PluginTable::free_output`]), so the two sides never
//!   free each other's memory.
//!
//! Plugin authors do not touch any of this directly: implement [`Plugin`] and write
//! [`export_plugin!`]`(MyPlugin)`. Every call is wrapped in `catch_unwind`; a panic becomes
//! a stage error, never an unwind across the C boundary.
//!
//! Compatibility is by C ABI + JSON, not by Rust type layout: a plugin built with another
//! rustc or another arrow-rs version works as long as [`ABI_VERSION`] matches.

// The plugin ABI is a contract with code outside this repository: every public item says
// what it is.
#![deny(missing_docs)]

pub mod sdk;
pub mod tables;
pub mod wire;

use std::ffi::c_char;

pub use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
pub use sdk::Plugin;
pub use warmstart_engine;

/// The ABI version this crate speaks. Bumped on any change to the structs below.
pub const ABI_VERSION: u32 = 1;

/// The name of the one symbol a plugin exports.
pub const ENTRY_SYMBOL: &str = "warmstart_plugin_v1";

/// The signature of [`ENTRY_SYMBOL`]. The returned pointer points to a `'static` table.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

pub mod status {
    //! Status codes returned by [`PluginTable::run`](crate::PluginTable::run); anything
    //! but [`OK`] comes with an error string.
    /// Success: `RunOutput::tables` is filled.
    pub const OK: i32 = 0;
    /// The engine returned an error; `RunOutput::error` holds it as JSON (see `wire`).
    pub const ENGINE_ERROR: i32 = 1;
    /// The plugin panicked; `RunOutput::error` holds the panic message.
    pub const PANIC: i32 = 2;
    /// The request was malformed (null pointers, bad JSON, bad input arrays).
    pub const BAD_REQUEST: i32 = 3;
}

/// A borrowed UTF-8 string slice: valid only for the duration of the call it is passed to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WsStr {
    /// The first byte; may be null when `len` is 0.
    pub ptr: *const u8,
    /// Length in bytes (not characters).
    pub len: usize,
}

impl WsStr {
    /// Borrow a Rust string (the caller keeps `s` alive for the duration of the call).
    pub fn new(s: &str) -> Self {
        WsStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The empty string (also used for "absent").
    pub fn empty() -> Self {
        WsStr {
            ptr: std::ptr::null(),
            len: 0,
        }
    }

    /// View as `&str`; a null pointer reads as `""`.
    ///
    /// # Safety
    /// `ptr` must be null or point to `len` readable bytes that outlive `'a`.
    pub unsafe fn as_str<'a>(&self) -> Result<&'a str, std::str::Utf8Error> {
        if self.ptr.is_null() || self.len == 0 {
            return Ok("");
        }
        // SAFETY: guaranteed by the caller.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes)
    }
}

/// One stage instance to run, as the host passes it to [`PluginTable::run`].
#[repr(C)]
#[derive(Debug)]
pub struct RunRequest {
    /// The stage kind (one of the plugin's declared kinds).
    pub kind: WsStr,
    /// The stage name in the experiment file.
    pub stage: WsStr,
    /// Resolved params: a JSON object.
    pub params_json: WsStr,
    /// This instance's sweep coordinates: a JSON array of `[axis, value]` pairs.
    pub coords_json: WsStr,
    /// The inputs: a JSON array of `{"stage": .., "coords": [[axis, value], ..],
    /// "tables": [name, ..]}`. The tables of all inputs, in this order, are the
    /// `arrays`/`schemas` below.
    pub inputs_json: WsStr,
    /// Scratch directory; empty = none.
    pub scratch_dir: WsStr,
    /// Directory of the experiment file; empty = none.
    pub base_dir: WsStr,
    /// The stage seed (explicit, or derived from the experiment seed, stage and coords).
    pub seed: u64,
    /// Threads the stage may use (a resource hint, not part of the cache key).
    pub threads: u64,
    /// Number of input tables (length of `arrays` and `schemas`).
    pub n_tables: usize,
    /// Input tables as struct arrays. The plugin may *move* each one out (C Data Interface
    /// move semantics: replace it with a released array); the host releases whatever is
    /// left after the call.
    pub arrays: *mut FFI_ArrowArray,
    /// Schemas of the input tables; borrowed, released by the host.
    pub schemas: *const FFI_ArrowSchema,
}

/// One output table, allocated by the plugin.
#[repr(C)]
#[derive(Debug)]
pub struct TableOut {
    /// NUL-terminated table name.
    pub name: *mut c_char,
    /// The table as a struct array. The host moves it out before calling `free_output`.
    pub array: FFI_ArrowArray,
    /// Its schema; borrowed by the host, released by `free_output`.
    pub schema: FFI_ArrowSchema,
}

/// What [`PluginTable::run`] writes. Always released with [`PluginTable::free_output`].
#[repr(C)]
#[derive(Debug)]
pub struct RunOutput {
    /// The output tables (allocated by the plugin), or null when there are none.
    pub tables: *mut TableOut,
    /// Number of entries at `tables`.
    pub n_tables: usize,
    /// NUL-terminated error text (JSON for `ENGINE_ERROR`), or null.
    pub error: *mut c_char,
}

impl RunOutput {
    /// An output with nothing in it (what the host passes in).
    pub fn empty() -> Self {
        RunOutput {
            tables: std::ptr::null_mut(),
            n_tables: 0,
            error: std::ptr::null_mut(),
        }
    }
}

/// The function table a plugin exports. `abi_version` must stay the first field.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginTable {
    /// Must equal [`ABI_VERSION`]; checked before any other field is read.
    pub abi_version: u32,
    /// The plugin's `EngineInfo` as a NUL-terminated JSON string (release with
    /// `free_string`), or null if it could not be produced.
    pub info_json: unsafe extern "C" fn() -> *mut c_char,
    /// Run one stage instance. Returns a [`status`] code; fills `out` either way.
    pub run: unsafe extern "C" fn(request: *const RunRequest, out: *mut RunOutput) -> i32,
    /// Release a string returned by `info_json`.
    pub free_string: unsafe extern "C" fn(s: *mut c_char),
    /// Release everything a `run` call wrote into `out` (names, remaining arrays,
    /// schemas, error text) and reset it to empty.
    pub free_output: unsafe extern "C" fn(out: *mut RunOutput),
}
