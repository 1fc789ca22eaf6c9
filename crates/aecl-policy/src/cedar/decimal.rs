//! Cedar `decimal` values, built once per text.
//!
//! `RestrictedExpression::new_decimal` parses the function name `decimal` with Cedar's
//! whole grammar at every call, building its lexer anew each time: measured at 8 % of
//! `aecl serve`'s CPU under load on the finance example, more than Cedar's own
//! authorisation of the call. The expression depends on its text only, so the ones built
//! are kept and cloned: the risk score and a run's amount spent repeat from call to call.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use cedar_policy::RestrictedExpression;

/// Texts kept at most; the memo starts again empty when full (arguments can bring any
/// number of distinct amounts, and the memory stays bounded).
const CAPACITY: usize = 1024;

static BUILT: LazyLock<Mutex<HashMap<String, RestrictedExpression>>> =
    LazyLock::new(|| Mutex::new(HashMap::with_capacity(CAPACITY)));

/// `decimal("<text>")`, as `RestrictedExpression::new_decimal(text)` builds it.
pub fn decimal(text: String) -> RestrictedExpression {
    let built = || BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(expression) = built().get(&text) {
        return expression.clone();
    }
    // Built outside the lock: a miss costs Cedar's parse, which other calls need not wait for.
    let expression = RestrictedExpression::new_decimal(&text);
    let mut built = built();
    if built.len() >= CAPACITY {
        built.clear();
    }
    built.insert(text, expression.clone());
    expression
}

#[cfg(test)]
mod tests {
    use cedar_policy::RestrictedExpression;

    use super::{CAPACITY, decimal};

    #[test]
    fn a_kept_decimal_is_the_one_cedar_builds() {
        for text in ["0.0", "12.5", "-922337203685477.5808", "0.0"] {
            assert_eq!(decimal(text.to_owned()), RestrictedExpression::new_decimal(text));
        }
    }

    #[test]
    fn the_memo_stays_bounded_and_still_answers_when_full() {
        for n in 0..CAPACITY + 10 {
            let text = format!("{n}.25");
            assert_eq!(decimal(text.clone()), RestrictedExpression::new_decimal(&text));
        }
        assert!(super::BUILT.lock().unwrap().len() <= CAPACITY);
    }
}
