//! The one rule for names that may become a path component (experiment, stage, output
//! table and figure names end up as directory and file names in exports), and the
//! identifier rule for names used inside `${...}` (params and axes).
//!
//! Architecture invariant: every name that reaches a path is checked with
//! [`check_name`] when it enters warmstart, so no later join can escape its directory.

/// Longest name accepted (the engine crate's rule).
pub const MAX_NAME_LEN: usize = warmstart_engine::identity::MAX_NAME_LEN;

/// What is wrong with a name, as a label-sized phrase.
pub type NameProblem = &'static str;

/// Check a name that may become a path component: the one rule,
/// [`warmstart_engine::name_problem`] (non-empty, at most [`MAX_NAME_LEN`] bytes, only
/// ASCII letters, digits, `_`, `-` and `.`, not dots only).
pub fn check_name(s: &str) -> Result<(), NameProblem> {
    match warmstart_engine::name_problem(s) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// A suggested replacement for an invalid name: every other character becomes `-`, and
/// a name of dots only becomes `unnamed`.
pub fn suggest_name(s: &str) -> String {
    let fixed: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_LEN)
        .collect();
    if fixed.chars().all(|c| c == '.') {
        "unnamed".to_string()
    } else {
        fixed
    }
}

/// Is `s` an identifier usable in `${...}` (`[A-Za-z_][A-Za-z0-9_]*`)?
pub fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_their_directory_are_refused() {
        for bad in ["", ".", "..", "...", "a/b", "a\\b", "a\0b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
        for good in ["a", "gen-1", "v1.2", ".hidden", "a..b", "x_y"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        assert_eq!(suggest_name(".."), "unnamed");
        assert_eq!(suggest_name("a b/c"), "a-b-c");
    }

    #[test]
    fn identifiers() {
        assert!(is_ident("alpha_1") && is_ident("_x"));
        assert!(!is_ident("1a") && !is_ident("a-b") && !is_ident(""));
    }
}
