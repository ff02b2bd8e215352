//! Matcher: a streamable path matched one element at a time, level by level, as both engines
//! walk a document in document order (the streaming engine as the scan goes, the DOM engine
//! over the tree).
//!
//! Per open element, a path's state is a bit set: bit `k` means "the first `k` steps match
//! here", so step `k` may match a child. The document starts with bit 0. [`advance`] takes the
//! parent's state and tells how a step fares on the child, and gives the child's state and
//! whether the child is selected.

use crate::rules::plan::{Axis, Path, Predicate, Step};

/// How one step fares on an element.
pub enum StepMatch<'p> {
    /// The name test or the predicate fails.
    No,
    /// The name test and the predicate hold.
    Yes,
    /// The name test holds; the predicate needs the element's text, so it is known only at
    /// the element's end (the last step only).
    Deferred(&'p Predicate),
}

/// What [`advance`] found for one element.
pub struct Advanced<'p> {
    /// The element's state, for its children. Bit `steps` is set when the element is selected.
    pub state: u64,
    /// The path selects the element.
    pub selected: bool,
    /// The path selects the element if this predicate holds on its text.
    pub deferred: Option<&'p Predicate>,
}

impl Advanced<'_> {
    /// The element's state without the "selected" bit: whether any step may match below it.
    pub fn below(&self, path: &Path) -> u64 {
        self.state & !(1u64 << path.steps.len())
    }
}

/// The child's state from its parent's: each step that may match it is tried with `step`
/// (which sees the step and whether it is the last), a descendant (`//`) step stays open below
/// it, and a matching step opens the next.
#[inline]
pub fn advance<'p>(
    path: &'p Path,
    parent: u64,
    mut step: impl FnMut(&'p Step, bool) -> StepMatch<'p>,
) -> Advanced<'p> {
    let steps = path.steps.len();
    let mut state = 0u64;
    let mut deferred = None;
    let mut bits = parent;
    while bits != 0 {
        let k = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let Some(this) = path.steps.get(k) else {
            continue;
        };
        if this.axis == Axis::Descendant {
            state |= 1 << k;
        }
        match step(this, k + 1 == steps) {
            StepMatch::No => {}
            StepMatch::Yes => state |= 1 << (k + 1),
            StepMatch::Deferred(predicate) => deferred = Some(predicate),
        }
    }
    let selected = state & (1 << steps) != 0;
    Advanced {
        state,
        selected,
        deferred: if selected { None } else { deferred },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::plan::{NameTest, QName};

    fn step(axis: Axis, local: &str) -> Step {
        Step {
            axis,
            test: NameTest::Name(QName {
                ns: None,
                local: local.to_owned(),
            }),
            predicate: None,
        }
    }

    /// The elements of a path `names` from the root down, each matched by name only: which
    /// are selected, and the states handed down.
    fn walk(path: &Path, names: &[&str]) -> Vec<(bool, u64)> {
        let mut state = 1;
        names
            .iter()
            .map(|name| {
                let advanced = advance(path, state, |step, _| match &step.test {
                    NameTest::Name(test) if test.local == *name => StepMatch::Yes,
                    _ => StepMatch::No,
                });
                state = advanced.state;
                (advanced.selected, advanced.below(path))
            })
            .collect()
    }

    #[test]
    fn child_steps_select_only_at_their_depth() {
        let path = Path {
            steps: vec![step(Axis::Child, "store"), step(Axis::Child, "row")],
        };
        assert_eq!(
            walk(&path, &["store", "row", "row"]),
            [(false, 0b10), (true, 0), (false, 0)]
        );
        assert_eq!(walk(&path, &["row"]), [(false, 0)]);
    }

    #[test]
    fn a_descendant_step_stays_open_below_and_selects_at_every_depth() {
        // /store//row
        let path = Path {
            steps: vec![step(Axis::Child, "store"), step(Axis::Descendant, "row")],
        };
        assert_eq!(
            walk(&path, &["store", "rack", "row", "row"]),
            [(false, 0b10), (false, 0b10), (true, 0b10), (true, 0b10)]
        );
    }

    #[test]
    fn a_text_predicate_on_the_last_step_defers_the_selection() {
        let path = Path {
            steps: vec![step(Axis::Child, "row")],
        };
        let predicate = Predicate::Exists(QName {
            ns: None,
            local: "a".to_owned(),
        });
        let advanced = advance(&path, 1, |_, last| {
            assert!(last);
            StepMatch::Deferred(&predicate)
        });
        assert!(!advanced.selected);
        assert_eq!(advanced.deferred, Some(&predicate));
        assert_eq!(advanced.below(&path), 0);
    }
}
