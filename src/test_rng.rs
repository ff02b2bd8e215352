//! A deterministic random number generator for the randomized unit tests: the same seed gives
//! the same sequence, so a failure can be replayed.

/// xorshift64 from `seed` (which must not be 0): each call gives the next number.
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
