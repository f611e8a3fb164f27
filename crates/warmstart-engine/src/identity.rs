//! The identity vocabulary: how a stage instance is named to users, which names are valid,
//! and when two values are the same value.
//!
//! Every crate that shows an instance, checks a name or compares values uses these
//! functions, so a label printed by `plan` is the label an engine sees, a name the cache
//! accepts is a name the plugin host accepts, and `why` calls two params equal exactly when
//! they give the same cache key.
//!
//! **Value identity is the cache key's.** [`same_value`] is true exactly when two values
//! have the same canonical key encoding: the same type and the same content, floats
//! compared by their canonical bits (`-0.0` is `0.0`, every NaN is one NaN). So `1` (an
//! integer) and `1.0` (a float) are *different* values: they hash differently, and
//! anything that decides whether two things are the same instance or entry must agree with
//! the hash. Params do not suffer from this: the planner converts each param to its declared
//! type before hashing, so `rho = 1` for a float param is `1.0`.
//!
//! Where a user *writes* a number to select an existing value (a `pick` on a sweep axis,
//! or two written axis values checked for duplicates), the written number is first read as
//! the type of the value it is compared with ([`Value::converted_like`], exact conversions
//! only) and then compared by identity ([`written_matches`]): `pick = { alpha = 1 }`
//! selects `alpha = 1.0` of a `linspace` axis, and the instance keeps the axis's `1.0`.

use crate::params::Value;

/// How a stage instance is named to users: `stage`, or `stage[a=1,b=2]` with its sweep
/// coordinates in axis order (values rendered as in messages: `0.5`, `1.0`, `"x"`).
pub fn label(stage: &str, coords: &[(String, Value)]) -> String {
    if coords.is_empty() {
        return stage.to_string();
    }
    let c: Vec<String> = coords.iter().map(|(a, v)| format!("{a}={v}")).collect();
    format!("{stage}[{}]", c.join(","))
}

/// Whether `name` is a valid output table name: `[a-z0-9_-]+`.
///
/// Table names become file names (`<name>.parquet` in the cache and on export), so the rule
/// keeps them portable (no case folding surprises) and free of path syntax: no `/`, no `.`,
/// hence never `.` or `..`.
pub fn is_table_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Longest stage or experiment name: a path component is at most 255 bytes on common
/// file systems.
pub const MAX_NAME_LEN: usize = 255;

/// Whether `name` is a valid stage or experiment name (see [`name_problem`]).
pub fn is_stage_name(name: &str) -> bool {
    name_problem(name).is_none()
}

/// What is wrong with a stage or experiment name, as a label-sized phrase, or `None`:
/// non-empty, at most [`MAX_NAME_LEN`] bytes, only ASCII letters, digits, `_`, `-` and `.`,
/// and not made of dots only. Stage names become directory names on export, so `.` and
/// `..` (the current and the parent directory) must never be one; with no separator and
/// no NUL, no join with such a name can leave its directory.
///
/// This is the one name rule: the spec crate checks experiment and stage names with it.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("a name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Some("longer than 255 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Some("only letters, digits, `_`, `.` and `-` are allowed");
    }
    if name.bytes().all(|b| b == b'.') {
        return Some("`.` and `..` (and names of dots only) name directories, not outputs");
    }
    None
}

/// The bits a float is identified by: `-0.0` → `0.0`, every NaN → the canonical quiet NaN.
/// The cache key hashes these bits, and [`same_value`] compares them.
pub fn canonical_f64_bits(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0.0f64.to_bits()
    } else {
        f.to_bits()
    }
}

/// Whether `a` and `b` are the same value, exactly as the cache key sees them: same type
/// and content, floats by [`canonical_f64_bits`]; `1` is not `1.0` (see the module docs).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => canonical_f64_bits(*x) == canonical_f64_bits(*y),
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Table(x), Value::Table(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kp, p), (kq, q))| kp == kq && same_value(p, q))
        }
        _ => false,
    }
}

/// Whether the value a user wrote, `written`, selects `existing`: `written` is read as
/// `existing`'s type when that conversion is exact ([`Value::converted_like`]), then the
/// two are compared by [`same_value`]. So a written `1` selects `1.0`, a written `2.0`
/// selects `2`, and a written `1.5` never selects an integer.
pub fn written_matches(existing: &Value, written: &Value) -> bool {
    match written.converted_like(existing) {
        Some(w) => same_value(existing, &w),
        None => same_value(existing, written),
    }
}

/// Integers with magnitude up to 2^53 are exactly representable as f64.
const EXACT_INT_IN_F64: i64 = 1 << 53;

impl Value {
    /// This number as the numeric type of `like` (integer → float, or an integral float →
    /// integer), when the conversion loses nothing; `None` when no conversion applies
    /// (same type, not numbers, or not exact).
    pub fn converted_like(&self, like: &Value) -> Option<Value> {
        match (self, like) {
            // `unsigned_abs`: `i64::MIN.abs()` overflows (found by the fuzzer).
            (Value::Int(i), Value::Float(_)) if i.unsigned_abs() <= EXACT_INT_IN_F64 as u64 => {
                Some(Value::Float(*i as f64))
            }
            (Value::Float(f), Value::Int(_))
                if f.fract() == 0.0 && f.abs() <= EXACT_INT_IN_F64 as f64 =>
            {
                Some(Value::Int(*f as i64))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_integers_convert_without_overflow() {
        let float = Value::Float(0.0);
        assert_eq!(Value::Int(i64::MIN).converted_like(&float), None);
        assert_eq!(Value::Int(i64::MAX).converted_like(&float), None);
        assert_eq!(
            Value::Int(-EXACT_INT_IN_F64).converted_like(&float),
            Some(Value::Float(-(EXACT_INT_IN_F64 as f64)))
        );
        assert!(!written_matches(
            &Value::Float(f64::NEG_INFINITY),
            &Value::Int(i64::MIN)
        ));
        assert_eq!(
            Value::Float(f64::NEG_INFINITY).converted_like(&Value::Int(0)),
            None
        );
    }

    fn coords(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(a, v)| (a.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn labels_name_stage_and_coordinates() {
        assert_eq!(label("gen", &[]), "gen");
        let c = coords(&[
            ("alpha", Value::Float(0.5)),
            ("rep", Value::Int(1)),
            ("m", Value::Str("x".into())),
            ("t", Value::Float(1.0)),
        ]);
        assert_eq!(label("gen", &c), "gen[alpha=0.5,rep=1,m=\"x\",t=1.0]");
    }

    #[test]
    fn table_names() {
        for ok in ["out", "out_1-a", "0", "log"] {
            assert!(is_table_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "Out", "a/b", "a.b", "é", "a b", "a\\b"] {
            assert!(!is_table_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn stage_names() {
        for ok in [
            "gen",
            "Gen.v2",
            "exp1-alignment",
            "a_b",
            ".hidden",
            "x..",
            &"a".repeat(MAX_NAME_LEN),
        ] {
            assert!(is_stage_name(ok), "{ok}");
        }
        let too_long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "", ".", "..", "...", "a/b", "../x", "é", "a b", "a\\b", "a\0b", &too_long,
        ] {
            assert!(!is_stage_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn identity_is_the_keys() {
        let f = Value::Float;
        assert!(!same_value(&Value::Int(1), &f(1.0)));
        assert!(!same_value(&f(1.0), &Value::Int(1)));
        assert!(same_value(&f(-0.0), &f(0.0)));
        assert!(same_value(
            &f(f64::NAN),
            &f(f64::from_bits(0x7ff8_0000_0000_0001))
        ));
        assert!(!same_value(&f(0.1), &f(0.2)));
        assert!(!same_value(&Value::Bool(false), &Value::Int(0)));
        assert!(!same_value(&Value::Str("1".into()), &Value::Int(1)));
        let l = |v: Vec<Value>| Value::List(v);
        assert!(same_value(&l(vec![f(-0.0)]), &l(vec![f(0.0)])));
        assert!(!same_value(&l(vec![f(1.0)]), &l(vec![f(1.0), f(1.0)])));
        let t = |k: &str, v: Value| Value::Table([(k.to_string(), v)].into());
        assert!(same_value(&t("a", f(f64::NAN)), &t("a", f(f64::NAN))));
        assert!(!same_value(&t("a", f(1.0)), &t("b", f(1.0))));
        assert!(!same_value(&t("a", Value::Int(1)), &t("a", f(1.0))));
    }

    #[test]
    fn written_numbers_select_by_number_exactly() {
        let (i, f) = (Value::Int, Value::Float);
        assert!(written_matches(&f(1.0), &i(1)));
        assert!(written_matches(&i(2), &f(2.0)));
        assert!(written_matches(&f(0.5), &f(0.5)));
        assert!(written_matches(&f(0.0), &f(-0.0)));
        assert!(!written_matches(&i(1), &f(1.5)));
        assert!(!written_matches(&f(1.5), &i(1)));
        assert!(!written_matches(&Value::Str("1".into()), &i(1)));
        // Only exact conversions: 2^53 + 1 has no f64.
        let big = (1i64 << 53) + 1;
        assert!(!written_matches(&f(big as f64), &i(big)));
        assert!(!written_matches(&i(big), &f(big as f64)));
        assert_eq!(i(3).converted_like(&f(0.0)), Some(f(3.0)));
        assert_eq!(f(3.0).converted_like(&i(0)), Some(i(3)));
        assert_eq!(f(f64::NAN).converted_like(&i(0)), None);
        assert_eq!(f(f64::INFINITY).converted_like(&i(0)), None);
        assert_eq!(i(3).converted_like(&i(0)), None);
    }
}
