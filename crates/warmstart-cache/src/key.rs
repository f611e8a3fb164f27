//! Content keys: what goes into a key, and why.
//!
//! A stage instance's key is `blake3(encoding)` where `encoding` is a canonical, versioned,
//! type-tagged byte string of (in this order):
//!
//! | component | why it is in the key |
//! |---|---|
//! | format salt `warmstart-key-v1` | changing this encoding must never alias old keys |
//! | stage kind | two kinds with the same params compute different things |
//! | engine id and version | an engine bumps its version whenever outputs could change |
//! | engine extras (sorted name/value pairs) | what the engine says its output depends on beyond its version: a plugin file's digest, a model file's digest, a runtime version |
//! | params (sorted by name, type-tagged) | the stage's configuration; only params declared `in_key` (resource-like params such as a batch size do not change *what* is computed) |
//! | seed (seeded and volatile kinds only) | outputs of a seeded kind depend on it; for deterministic kinds it would only cause spurious misses |
//! | inputs: upstream stage name, coordinates, **output digest** | a stage is a function of its inputs' *content*: if an upstream re-runs and produces byte-identical output, downstream keys do not change |
//!
//! What never enters a key: absolute paths (a moved checkout keeps its cache), timestamps,
//! thread counts, the experiment's name or file location, resource hints.
//!
//! In practice:
//!
//! - Editing a param re-runs the stage and, only if its output bytes change, everything
//!   downstream. Reformatting the experiment file, renaming it or moving it re-runs nothing.
//! - Upgrading an engine without bumping its version keeps stale outputs: bump the version
//!   (or report what changed through an engine extra, as the plugin host does with the
//!   plugin file's digest).
//! - A deterministic stage run with another experiment seed is a hit; a seeded one is not.
//! - Where a stage instance last landed is remembered under its [`ref_id`] (experiment,
//!   stage, coordinates: its identity, not its content), so [`diff`] can explain a miss
//!   component by component ("param `alpha` changed from 0.5 to 0.6").
//!
//! Encoding rules: every value starts with a one-byte type tag; strings and sequences are
//! length-prefixed (u64 LE), so no two different structures share an encoding (`["ab","c"]`
//! ≠ `["a","bc"]`); integers and floats have different tags (`1` ≠ `1.0`: params are
//! normalized to their declared type before hashing, so `rho = 1` for a float param is
//! `1.0`); floats are hashed by bit pattern after mapping `-0.0` to `0.0` and every NaN to
//! one canonical NaN. Never `serde_json` (float formatting, map order) and never
//! `std::hash::Hash` (not stable across Rust versions or platforms).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use warmstart_engine::Value;
use warmstart_engine::identity::{canonical_f64_bits, label, same_value};

/// Bump when the encoding below changes.
pub const KEY_FORMAT: &str = "warmstart-key-v1";

macro_rules! hash_newtype {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A blake3 ", $what, " (32 bytes; shown as 64 lowercase hex digits).")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The first 12 hex digits, for display.
            pub fn short(&self) -> String {
                hex(&self.0[..6])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_hex32(s).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_newtype!(CacheKey, "cache key");
hash_newtype!(Digest, "content digest");

/// Lowercase hex digits of `bytes` (a table lookup: `plan` prints a key per instance, and
/// a `{:02x}` per byte was a visible part of its time).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn parse_hex32(s: &str) -> Result<[u8; 32], String> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return Err(format!(
            "expected 64 hex digits, got {} characters",
            bytes.len()
        ));
    }
    let mut out = [0u8; 32];
    for (i, chunk) in bytes.chunks(2).enumerate() {
        let hex = std::str::from_utf8(chunk).map_err(|_| "not hex".to_string())?;
        out[i] = u8::from_str_radix(hex, 16).map_err(|_| format!("not hex: {hex:?}"))?;
    }
    Ok(out)
}

/// One input of a stage, as it enters the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputDigest {
    pub stage: String,
    #[serde(with = "crate::value_json::pairs")]
    pub coords: Vec<(String, Value)>,
    pub digest: Digest,
}

/// Everything that determines a stage instance's output. Stored in each entry's manifest,
/// so that `why` can say which component changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInputs {
    pub kind: String,
    pub engine_id: String,
    pub engine_version: String,
    pub engine_extra: Vec<(String, String)>,
    #[serde(with = "crate::value_json::map")]
    pub params: BTreeMap<String, Value>,
    pub seed: Option<u64>,
    pub inputs: Vec<InputDigest>,
}

/// The canonical encoder.
struct Enc(blake3::Hasher);

impl Enc {
    fn new(salt: &str) -> Self {
        let mut e = Enc(blake3::Hasher::new());
        e.str(salt);
        e
    }
    fn tag(&mut self, t: u8) {
        self.0.update(&[t]);
    }
    fn u64(&mut self, x: u64) {
        self.0.update(&x.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.tag(b's');
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Bool(b) => {
                self.tag(b'b');
                self.0.update(&[*b as u8]);
            }
            Value::Int(i) => {
                self.tag(b'i');
                self.0.update(&i.to_le_bytes());
            }
            Value::Float(f) => {
                self.tag(b'f');
                self.u64(canonical_f64_bits(*f));
            }
            Value::Str(s) => self.str(s),
            Value::List(l) => {
                self.tag(b'l');
                self.u64(l.len() as u64);
                for x in l {
                    self.value(x);
                }
            }
            Value::Table(t) => {
                self.tag(b't');
                self.u64(t.len() as u64);
                for (k, x) in t {
                    self.str(k);
                    self.value(x);
                }
            }
        }
    }
    fn coords(&mut self, coords: &[(String, Value)]) {
        self.tag(b'c');
        self.u64(coords.len() as u64);
        for (a, v) in coords {
            self.str(a);
            self.value(v);
        }
    }
    fn finish(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

impl KeyInputs {
    /// The content key: blake3 of the canonical encoding described in the module docs.
    pub fn key(&self) -> CacheKey {
        KeyParts {
            kind: &self.kind,
            engine_id: &self.engine_id,
            engine_version: &self.engine_version,
            engine_extra: &self.engine_extra,
            params: self.params.iter().map(|(k, v)| (k.as_str(), v)),
            seed: self.seed,
            inputs: self
                .inputs
                .iter()
                .map(|i| (i.stage.as_str(), i.coords.as_slice(), &i.digest)),
        }
        .key()
    }
}

/// The components of a key, borrowed: what [`KeyInputs::key`] encodes, for callers that
/// hold the data elsewhere (the planner computes one key per stage instance and builds the
/// owned [`KeyInputs`] only when it stores or diffs one). Both go through the one encoder
/// below, so a key computed either way is the same.
pub struct KeyParts<'a, P, I> {
    pub kind: &'a str,
    pub engine_id: &'a str,
    pub engine_version: &'a str,
    /// In any order (sorted when encoded).
    pub engine_extra: &'a [(String, String)],
    /// `(name, value)` sorted by name, names distinct.
    pub params: P,
    pub seed: Option<u64>,
    /// `(upstream stage, its coordinates, its output digest)`, in input order.
    pub inputs: I,
}

impl<'a, P, I> KeyParts<'a, P, I>
where
    P: Iterator<Item = (&'a str, &'a Value)> + Clone,
    I: Iterator<Item = (&'a str, &'a [(String, Value)], &'a Digest)> + Clone,
{
    /// The content key: blake3 of the canonical encoding described in the module docs.
    pub fn key(self) -> CacheKey {
        let mut e = Enc::new(KEY_FORMAT);
        e.str(self.kind);
        e.str(self.engine_id);
        e.str(self.engine_version);
        let mut extra: Vec<&(String, String)> = self.engine_extra.iter().collect();
        extra.sort();
        e.tag(b'x');
        e.u64(extra.len() as u64);
        for (k, v) in extra {
            e.str(k);
            e.str(v);
        }
        e.tag(b'p');
        e.u64(self.params.clone().count() as u64);
        for (k, v) in self.params {
            e.str(k);
            e.value(v);
        }
        match self.seed {
            Some(s) => {
                e.tag(b'S');
                e.u64(s);
            }
            None => e.tag(b'N'),
        }
        e.tag(b'I');
        e.u64(self.inputs.clone().count() as u64);
        for (stage, coords, digest) in self.inputs {
            e.str(stage);
            e.coords(coords);
            e.0.update(&digest.0);
        }
        CacheKey(e.finish())
    }
}

/// A stage's seed when the file gives none: blake3 of the experiment seed, the stage name
/// and its coordinates (so every sweep point gets an independent stream, and renaming
/// nothing else changes it).
pub fn derive_seed(experiment_seed: u64, stage: &str, coords: &[(String, Value)]) -> u64 {
    let mut e = Enc::new("warmstart-seed-v1");
    e.u64(experiment_seed);
    e.str(stage);
    e.coords(coords);
    let h = e.finish();
    u64::from_le_bytes(h[..8].try_into().unwrap_or([0; 8]))
}

/// A stable id for a stage *instance* (not its content): where its last key is remembered.
pub fn ref_id(experiment: &str, stage: &str, coords: &[(String, Value)]) -> String {
    let mut e = Enc::new("warmstart-ref-v1");
    e.str(experiment);
    e.str(stage);
    e.coords(coords);
    CacheKey(e.finish()).to_string()
}

/// One difference between two sets of key inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// There is no earlier entry for this stage instance to compare with.
    New,
    KindChanged {
        old: String,
        new: String,
    },
    EngineChanged {
        old_id: String,
        new_id: String,
    },
    EngineVersionChanged {
        old: String,
        new: String,
    },
    EngineExtraChanged {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
    ParamChanged {
        name: String,
        old: Value,
        new: Value,
    },
    ParamAdded {
        name: String,
        value: Value,
    },
    ParamRemoved {
        name: String,
        value: Value,
    },
    SeedChanged {
        old: Option<u64>,
        new: Option<u64>,
    },
    InputChanged {
        stage: String,
        coords: Vec<(String, Value)>,
        old: Digest,
        new: Digest,
    },
    InputAdded {
        stage: String,
        coords: Vec<(String, Value)>,
    },
    InputRemoved {
        stage: String,
        coords: Vec<(String, Value)>,
    },
}

/// The first 12 characters of `s`, for display. Characters, not bytes: an engine extra
/// is any text an engine reports (an interpreter's `--version` output), and cutting inside
/// a multibyte character would panic.
fn short(s: &str) -> &str {
    match s.char_indices().nth(12) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::New => write!(f, "new: no earlier entry for this stage instance"),
            Change::KindChanged { old, new } => write!(f, "kind changed from `{old}` to `{new}`"),
            Change::EngineChanged { old_id, new_id } => {
                write!(f, "engine changed from `{old_id}` to `{new_id}`")
            }
            Change::EngineVersionChanged { old, new } => {
                write!(f, "engine version changed from {old} to {new}")
            }
            Change::EngineExtraChanged { name, old, new } => match (old, new) {
                (Some(o), Some(n)) => {
                    write!(f, "engine {name} changed ({}… → {}…)", short(o), short(n))
                }
                (None, Some(n)) => write!(f, "engine {name} added ({}…)", short(n)),
                (Some(_), None) => write!(f, "engine {name} removed"),
                (None, None) => write!(f, "engine {name} changed"),
            },
            Change::ParamChanged { name, old, new } => {
                write!(f, "param `{name}` changed from {old} to {new}")
            }
            Change::ParamAdded { name, value } => write!(f, "param `{name}` added ({value})"),
            Change::ParamRemoved { name, value } => {
                write!(f, "param `{name}` removed (was {value})")
            }
            Change::SeedChanged { old, new } => {
                let s = |x: &Option<u64>| x.map_or("none".to_string(), |v| v.to_string());
                write!(f, "seed changed from {} to {}", s(old), s(new))
            }
            Change::InputChanged {
                stage,
                coords,
                old,
                new,
            } => write!(
                f,
                "input `{}` changed (digest {}… → {}…)",
                label(stage, coords),
                old.short(),
                new.short()
            ),
            Change::InputAdded { stage, coords } => {
                write!(f, "input `{}` added", label(stage, coords))
            }
            Change::InputRemoved { stage, coords } => {
                write!(f, "input `{}` removed", label(stage, coords))
            }
        }
    }
}

/// The component-wise differences from `old` to `new`, in key order (kind, engine,
/// extras, params, seed, inputs). Empty when both give the same key; when the engine id
/// changed its version change is not reported separately. Use [`Change::New`] yourself when there is no `old` to compare with.
pub fn diff(old: &KeyInputs, new: &KeyInputs) -> Vec<Change> {
    let mut out = Vec::new();
    if old.kind != new.kind {
        out.push(Change::KindChanged {
            old: old.kind.clone(),
            new: new.kind.clone(),
        });
    }
    if old.engine_id != new.engine_id {
        out.push(Change::EngineChanged {
            old_id: old.engine_id.clone(),
            new_id: new.engine_id.clone(),
        });
    } else if old.engine_version != new.engine_version {
        out.push(Change::EngineVersionChanged {
            old: old.engine_version.clone(),
            new: new.engine_version.clone(),
        });
    }
    let oe: BTreeMap<_, _> = old.engine_extra.iter().cloned().collect();
    let ne: BTreeMap<_, _> = new.engine_extra.iter().cloned().collect();
    for name in oe.keys().chain(ne.keys().filter(|k| !oe.contains_key(*k))) {
        let (o, n) = (oe.get(name), ne.get(name));
        if o != n {
            out.push(Change::EngineExtraChanged {
                name: name.clone(),
                old: o.cloned(),
                new: n.cloned(),
            });
        }
    }
    for (name, ov) in &old.params {
        match new.params.get(name) {
            Some(nv) if !same_value(nv, ov) => out.push(Change::ParamChanged {
                name: name.clone(),
                old: ov.clone(),
                new: nv.clone(),
            }),
            Some(_) => {}
            None => out.push(Change::ParamRemoved {
                name: name.clone(),
                value: ov.clone(),
            }),
        }
    }
    for (name, nv) in &new.params {
        if !old.params.contains_key(name) {
            out.push(Change::ParamAdded {
                name: name.clone(),
                value: nv.clone(),
            });
        }
    }
    if old.seed != new.seed {
        out.push(Change::SeedChanged {
            old: old.seed,
            new: new.seed,
        });
    }
    let same = |a: &InputDigest, b: &InputDigest| a.stage == b.stage && a.coords == b.coords;
    for ni in &new.inputs {
        match old.inputs.iter().find(|oi| same(oi, ni)) {
            Some(oi) if oi.digest != ni.digest => out.push(Change::InputChanged {
                stage: ni.stage.clone(),
                coords: ni.coords.clone(),
                old: oi.digest,
                new: ni.digest,
            }),
            Some(_) => {}
            None => out.push(Change::InputAdded {
                stage: ni.stage.clone(),
                coords: ni.coords.clone(),
            }),
        }
    }
    for oi in &old.inputs {
        if !new.inputs.iter().any(|ni| same(oi, ni)) {
            out.push(Change::InputRemoved {
                stage: oi.stage.clone(),
                coords: oi.coords.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> KeyInputs {
        KeyInputs {
            kind: "echo".into(),
            engine_id: "native".into(),
            engine_version: "1".into(),
            engine_extra: vec![],
            params: [("value".to_string(), Value::Int(1))].into(),
            seed: None,
            inputs: vec![],
        }
    }

    const GOLDEN_SEED: u64 = 9789341970439263987;
    const GOLDEN_REF: &str = "4151139a4557dc86848054fb08bc46b923989037e6683e2ccc517dbc62f75bc9";

    #[test]
    fn golden_key_is_stable() {
        // If this changes, the encoding changed: bump KEY_FORMAT.
        assert_eq!(
            base().key().to_string(),
            "e70fcfeeb53b5700b3df1bae78a028439531a197ca2f50c79346e30c8d666a72"
        );
        let k = base().key();
        assert_eq!(k.to_string().parse::<CacheKey>().unwrap(), k);
    }

    #[test]
    fn encoding_is_injective_on_tricky_pairs() {
        let with = |v: Value| {
            let mut k = base();
            k.params.insert("value".into(), v);
            k.key()
        };
        let l = |xs: &[&str]| Value::List(xs.iter().map(|s| Value::Str(s.to_string())).collect());
        assert_ne!(with(l(&["ab", "c"])), with(l(&["a", "bc"])));
        assert_ne!(with(Value::Int(1)), with(Value::Float(1.0)));
        assert_ne!(with(Value::Str("1".into())), with(Value::Int(1)));
        assert_eq!(with(Value::Float(-0.0)), with(Value::Float(0.0)));
        assert_eq!(
            with(Value::Float(f64::from_bits(0x7ff8_0000_0000_0001))),
            with(Value::Float(f64::NAN))
        );
        let mut s = base();
        s.seed = Some(0);
        assert_ne!(s.key(), base().key());
    }

    #[test]
    fn extras_are_order_independent() {
        let mut a = base();
        a.engine_extra = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        let mut b = base();
        b.engine_extra = vec![("b".into(), "2".into()), ("a".into(), "1".into())];
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn diff_says_what_changed() {
        let old = base();
        let mut new = base();
        new.params.insert("value".into(), Value::Int(2));
        new.engine_version = "2".into();
        let msgs: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "engine version changed from 1 to 2",
                "param `value` changed from 1 to 2"
            ]
        );
    }

    #[test]
    fn derived_seeds_differ_per_stage_and_coords() {
        let c = |x: i64| vec![("x".to_string(), Value::Int(x))];
        let s = derive_seed(1, "a", &c(1));
        assert_eq!(s, derive_seed(1, "a", &c(1)));
        assert_ne!(s, derive_seed(1, "a", &c(2)));
        assert_ne!(s, derive_seed(1, "b", &c(1)));
        assert_ne!(s, derive_seed(2, "a", &c(1)));
    }

    fn input(stage: &str, alpha: f64, d: u8) -> InputDigest {
        InputDigest {
            stage: stage.into(),
            coords: vec![("alpha".into(), Value::Float(alpha))],
            digest: Digest([d; 32]),
        }
    }

    #[test]
    fn structure_is_length_prefixed() {
        let with = |v: Value| {
            let mut k = base();
            k.params.insert("value".into(), v);
            k.key()
        };
        // A list of pairs vs a table with the same strings.
        let table = Value::Table([("a".to_string(), Value::Str("b".into()))].into());
        let list = Value::List(vec![Value::Str("a".into()), Value::Str("b".into())]);
        assert_ne!(with(table), with(list));
        // Nesting depth matters.
        let flat = Value::List(vec![Value::Int(1), Value::Int(2)]);
        let nested = Value::List(vec![Value::List(vec![Value::Int(1)]), Value::Int(2)]);
        assert_ne!(with(flat), with(nested));
        assert_ne!(with(Value::List(vec![])), with(Value::Str(String::new())));
        assert_ne!(with(Value::Bool(false)), with(Value::Int(0)));
        // Moving a character between a param's name and its value.
        let mut a = base();
        a.params = [("ab".to_string(), Value::Str("c".into()))].into();
        let mut b = base();
        b.params = [("a".to_string(), Value::Str("bc".into()))].into();
        assert_ne!(a.key(), b.key());
        // ... or between an engine extra's name and value, or kind and engine id.
        let mut a = base();
        a.engine_extra = vec![("ab".into(), "c".into())];
        let mut b = base();
        b.engine_extra = vec![("a".into(), "bc".into())];
        assert_ne!(a.key(), b.key());
        let mut a = base();
        a.kind = "echon".into();
        a.engine_id = "ative".into();
        assert_ne!(a.key(), base().key());
    }

    #[test]
    fn inputs_enter_the_key_by_digest_in_order() {
        let mut a = base();
        a.inputs = vec![input("gen", 0.5, 1), input("gen", 0.6, 2)];
        let mut same = base();
        same.inputs = a.inputs.clone();
        assert_eq!(a.key(), same.key());
        let mut swapped = base();
        swapped.inputs = vec![input("gen", 0.6, 2), input("gen", 0.5, 1)];
        assert_ne!(a.key(), swapped.key());
        let mut other = base();
        other.inputs = vec![input("gen", 0.5, 1), input("gen", 0.6, 3)];
        assert_ne!(a.key(), other.key());
        let mut renamed = base();
        renamed.inputs = vec![input("gen2", 0.5, 1), input("gen", 0.6, 2)];
        assert_ne!(a.key(), renamed.key());
    }

    #[test]
    fn seed_none_differs_from_every_seed() {
        let mut s = base();
        for seed in [0, 1, u64::MAX] {
            s.seed = Some(seed);
            assert_ne!(s.key(), base().key());
        }
    }

    #[test]
    fn hex_helpers() {
        let k = base().key();
        assert_eq!(k.short(), &k.to_string()[..12]);
        assert_eq!(k.to_string().len(), 64);
        assert!("xyz".parse::<CacheKey>().is_err());
        assert!("é".repeat(32).parse::<CacheKey>().is_err());
        assert!("g".repeat(64).parse::<Digest>().is_err());
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{k}\""));
        assert_eq!(serde_json::from_str::<CacheKey>(&json).unwrap(), k);
        assert!(serde_json::from_str::<CacheKey>("\"00\"").is_err());
        // KeyInputs survive a manifest roundtrip with the same key.
        let mut ki = base();
        ki.inputs = vec![input("gen", 0.5, 7)];
        ki.seed = Some(u64::MAX);
        let back: KeyInputs = serde_json::from_str(&serde_json::to_string(&ki).unwrap()).unwrap();
        assert_eq!(back.key(), ki.key());
    }

    #[test]
    fn golden_seed_and_ref_id() {
        let c = vec![("alpha".to_string(), Value::Float(0.5))];
        assert_eq!(derive_seed(42, "gen", &c), GOLDEN_SEED);
        assert_eq!(ref_id("exp", "gen", &c), GOLDEN_REF);
        assert_ne!(ref_id("exp", "gen", &[]), ref_id("exp2", "gen", &[]));
    }

    #[test]
    fn diff_messages() {
        let mut old = base();
        old.engine_extra = vec![("plugin".into(), "aaaaaaaaaaaaaaaaaaaa".into())];
        old.params.insert("gone".into(), Value::Bool(true));
        old.inputs = vec![input("gen", 0.5, 0x1a), input("old", 0.0, 0)];
        old.seed = Some(1);
        let mut new = base();
        new.engine_extra = vec![("plugin".into(), "bbbbbbbbbbbbbbbbbbbb".into())];
        new.params.insert("alpha".into(), Value::Float(0.6));
        new.inputs = vec![input("gen", 0.5, 0x4d), input("fresh", 1.0, 0)];
        new.seed = Some(2);
        let msgs: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "engine plugin changed (aaaaaaaaaaaa… → bbbbbbbbbbbb…)",
                "param `gone` removed (was true)",
                "param `alpha` added (0.6)",
                "seed changed from 1 to 2",
                "input `gen[alpha=0.5]` changed (digest 1a1a1a1a1a1a… → 4d4d4d4d4d4d…)",
                "input `fresh[alpha=1.0]` added",
                "input `old[alpha=0.0]` removed",
            ]
        );
        let mut p = base();
        p.params.insert("alpha".into(), Value::Float(0.5));
        let mut q = p.clone();
        q.params.insert("alpha".into(), Value::Float(0.6));
        q.engine_id = "plugin".into();
        q.kind = "gen".into();
        let msgs: Vec<String> = diff(&p, &q).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            msgs,
            [
                "kind changed from `echo` to `gen`",
                "engine changed from `native` to `plugin`",
                "param `alpha` changed from 0.5 to 0.6",
            ]
        );
        assert_eq!(
            Change::New.to_string(),
            "new: no earlier entry for this stage instance"
        );
        assert!(diff(&base(), &base()).is_empty());
    }

    #[test]
    fn short_cuts_at_characters_not_bytes() {
        assert_eq!(short("aaaaaaaaaaaéé"), "aaaaaaaaaaaé");
        assert_eq!(short("ééééééééééééé"), "éééééééééééé");
        assert_eq!(short("abc"), "abc");
        assert_eq!(short(""), "");
    }

    /// The one value identity (`warmstart_engine::same_value`) is exactly "same encoding".
    #[test]
    fn same_value_agrees_with_the_encoding() {
        let enc = |v: &Value| {
            let mut e = Enc::new(KEY_FORMAT);
            e.value(v);
            e.finish()
        };
        let f = Value::Float;
        let s = |x: &str| Value::Str(x.into());
        let values = [
            Value::Int(1),
            Value::Int(0),
            f(1.0),
            f(0.0),
            f(-0.0),
            f(f64::NAN),
            f(f64::from_bits(0x7ff8_0000_0000_0001)),
            f(f64::INFINITY),
            Value::Bool(false),
            Value::Bool(true),
            s(""),
            s("1"),
            s("ab"),
            Value::List(vec![]),
            Value::List(vec![s("ab"), s("c")]),
            Value::List(vec![s("a"), s("bc")]),
            Value::List(vec![f(-0.0)]),
            Value::List(vec![f(0.0)]),
            Value::Table(Default::default()),
            Value::Table([("a".to_string(), s("b"))].into()),
            Value::Table([("a".to_string(), Value::Int(1))].into()),
            Value::Table([("a".to_string(), f(1.0))].into()),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(same_value(a, b), enc(a) == enc(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn diff_agrees_with_the_key_on_floats() {
        let mut a = base();
        a.params.insert("x".into(), Value::Float(f64::NAN));
        a.params.insert("z".into(), Value::Float(-0.0));
        let mut b = base();
        b.params.insert("x".into(), Value::Float(f64::NAN));
        b.params.insert("z".into(), Value::Float(0.0));
        assert_eq!(a.key(), b.key());
        assert!(diff(&a, &b).is_empty());
    }
}
