//! A valid shared library that is not a warmstart plugin: it exports a function, but not
//! `warmstart_plugin_v1`.

/// Some unrelated exported function.
#[unsafe(no_mangle)]
pub extern "C" fn not_a_warmstart_plugin() -> u32 {
    42
}
