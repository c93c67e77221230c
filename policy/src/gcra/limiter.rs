//! A per-key GCRA limiter with a hard cap on the number of keys, for the gate.
//!
//! Invariants: at most `max_keys` keys are held (rounded up to a multiple of 4); the table is
//! allocated once, at creation, and never grows (**16 bytes per key slot**, [`SLOT_BYTES`]:
//! 16 MB for 1,000,000 keys, against the 128 B per key of QUALITY.md; nginx uses 64 B); no heap
//! per key, whatever the key's type or length; every decision is O(1) in the worst case (one
//! keyed hash, two cache lines read, at most 8 more slots looked at when a new key must make
//! room), with no table-wide pass ever.
//!
//! **Layout.** A bucketised cuckoo table, as in cuckoo filters: a set is 4 slots in one 64-byte
//! cache line; a slot is a 32-bit tag and the key's exact [`Tat`]. A key hashes (SipHash-1-3
//! under a random per-limiter key, std's `RandomState`) to a first set, a tag, and a second
//! set derived from the first and the tag, so that any slot's other set can be computed from
//! where it is and its tag. A key is found by reading both sets (two cache lines, fetched in
//! parallel). Two keys share a state only if they collide on both the set and the 32-bit tag:
//! about 2·10⁻⁹ per new key, and a client can neither craft such collisions nor aim at the
//! slots of another client, since it does not know the hash key.
//!
//! **Eviction.** A new key takes an empty slot of its two sets, else a slot whose TAT is in the
//! past (that key holds no information: a fresh key behaves the same), else it moves one of the
//! 8 keys to a free or expired slot of that key's other set (one cuckoo step), else it replaces
//! the key whose TAT is earliest, the one nearest to full recovery, which gains at most the
//! allowance it was about to get back. Those live evictions are counted
//! ([`Limiter::evicted_live`]): under a flood of distinct live keys beyond the cap this is all
//! a bounded limiter can do, and the gate should report it. Measured with live keys only: none
//! up to about 65 % of the cap, 0.08 % of the keys at 80 %, 0.8 % at 90 %; so size the cap at
//! about 1.5 × the live keys expected (24 bytes per expected key).
//!
//! Not thread-safe by itself (`&mut self`): the gate shards limiters behind locks.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use super::{Decision, Gcra, Outcome, Quota, Tat};

/// Slots per set: 4 × 16 bytes, one cache line.
const WAYS: usize = 4;

/// Bytes per key slot.
pub const SLOT_BYTES: usize = core::mem::size_of::<Slot>();

/// One key: its tag (0 = empty slot) and its exact TAT, 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    ns: u64,
    frac: u32,
    tag: u32,
}

impl Slot {
    fn tat(&self) -> Tat {
        Tat {
            ns: self.ns,
            frac: self.frac,
        }
    }

    fn set_tat(&mut self, tat: Tat) {
        self.ns = tat.ns;
        self.frac = tat.frac;
    }

    /// Free for a new key: empty, or its TAT is not after now.
    fn is_free(&self, now_ns: u64) -> bool {
        self.tag == 0 || self.ns <= now_ns
    }
}

/// A cache-line-aligned set of slots.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Set([Slot; WAYS]);

/// Per-key GCRA state for one quota, bounded to `max_keys` keys.
#[derive(Clone, Debug)]
pub struct Limiter<S = RandomState> {
    gcra: Gcra,
    hasher: S,
    sets: Vec<Set>,
    len: usize,
    evicted_live: u64,
}

impl Limiter<RandomState> {
    /// A limiter for `quota` holding at most `max_keys` keys (at least 8, rounded up to a
    /// multiple of 4), with a fresh random hash key. Allocates `max_keys` × [`SLOT_BYTES`] now.
    pub fn new(quota: Quota, max_keys: usize) -> Self {
        Limiter::with_hasher(quota, max_keys, RandomState::new())
    }
}

impl<S: BuildHasher> Limiter<S> {
    /// As [`Limiter::new`] with a chosen hasher. It must be keyed with a secret (as
    /// `RandomState` is) wherever keys come from clients.
    pub fn with_hasher(quota: Quota, max_keys: usize, hasher: S) -> Self {
        let sets = max_keys.div_ceil(WAYS).max(2);
        Limiter {
            gcra: Gcra::new(quota),
            hasher,
            sets: vec![Set::default(); sets],
            len: 0,
            evicted_live: 0,
        }
    }

    /// Decides one request for `key` at `now_ns` (reject semantics: allow or deny).
    pub fn decide<K: Hash + ?Sized>(&mut self, key: &K, now_ns: u64) -> Decision {
        self.decide_within(key, now_ns, 0).into()
    }

    /// Decides one request for `key` at `now_ns`, admitting it after a wait of at most
    /// `max_wait_ns` if it does not conform now (the `delay` action). A denied request leaves
    /// the key's state unchanged; an admitted or delayed one updates it.
    pub fn decide_within<K: Hash + ?Sized>(
        &mut self,
        key: &K,
        now_ns: u64,
        max_wait_ns: u64,
    ) -> Outcome {
        let (a, b, tag) = self.place(key);
        if let Some((s, w)) = self.find(a, b, tag) {
            let slot = &mut self.sets[s].0[w];
            let outcome = self.gcra.check(Some(slot.tat()), now_ns, max_wait_ns);
            if let Some(tat) = outcome.tat() {
                slot.set_tat(tat);
            }
            return outcome;
        }
        let outcome = self.gcra.check(None, now_ns, max_wait_ns);
        if let Some(tat) = outcome.tat() {
            self.insert(a, b, tag, tat, now_ns);
        }
        outcome
    }

    /// The stored state of `key`, if it is held.
    pub fn peek<K: Hash + ?Sized>(&self, key: &K) -> Option<Tat> {
        let (a, b, tag) = self.place(key);
        self.find(a, b, tag).map(|(s, w)| self.sets[s].0[w].tat())
    }

    /// Empties every slot whose TAT is not after `now_ns` (such a key behaves as a new one)
    /// and returns how many. Optional housekeeping (O(table)): insertion reuses such slots
    /// anyway; it only makes [`Limiter::len`] count live keys.
    pub fn sweep(&mut self, now_ns: u64) -> usize {
        let mut n = 0;
        for slot in self.sets.iter_mut().flat_map(|s| s.0.iter_mut()) {
            if slot.tag != 0 && slot.ns <= now_ns {
                *slot = Slot::default();
                n += 1;
            }
        }
        self.len -= n;
        n
    }

    pub fn gcra(&self) -> &Gcra {
        &self.gcra
    }

    /// Keys held (expired ones included until their slot is reused or swept).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cap: `max_keys` rounded up to a multiple of 4.
    pub fn max_keys(&self) -> usize {
        self.sets.len() * WAYS
    }

    /// Keys forgotten while their TAT was still ahead (each got a fresh allowance): non-zero
    /// only when nearly as many distinct keys are active as the cap holds. For the gate's
    /// metrics.
    pub fn evicted_live(&self) -> u64 {
        self.evicted_live
    }

    /// Bytes allocated by the table (fixed at creation).
    pub fn memory_bytes(&self) -> usize {
        self.sets.capacity() * core::mem::size_of::<Set>()
    }

    /// The key's two sets and its tag.
    fn place<K: Hash + ?Sized>(&self, key: &K) -> (usize, usize, u32) {
        let h = self.hasher.hash_one(key);
        let tag = (h as u32).max(1);
        let a = reduce(h, self.sets.len());
        (a, self.other(a, tag), tag)
    }

    /// The other set of a key in set `s` with `tag`: `(f(tag) − s) mod n`, so that applying
    /// it twice gives `s` back and a slot can move between its two sets knowing only its tag.
    fn other(&self, s: usize, tag: u32) -> usize {
        let n = self.sets.len();
        let mixed = u64::from(tag).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (reduce(mixed, n) + n - s) % n
    }

    fn find(&self, a: usize, b: usize, tag: u32) -> Option<(usize, usize)> {
        let (sa, sb) = (&self.sets[a].0, &self.sets[b].0);
        if let Some(w) = sa.iter().position(|s| s.tag == tag) {
            return Some((a, w));
        }
        sb.iter().position(|s| s.tag == tag).map(|w| (b, w))
    }

    fn insert(&mut self, a: usize, b: usize, tag: u32, tat: Tat, now_ns: u64) {
        let new = Slot {
            ns: tat.ns,
            frac: tat.frac,
            tag,
        };
        // 1. An empty slot, else an expired one, in either set.
        for want_empty in [true, false] {
            for s in [a, b] {
                let hit = self.sets[s].0.iter().position(|slot| {
                    if want_empty {
                        slot.tag == 0
                    } else {
                        slot.is_free(now_ns)
                    }
                });
                if let Some(w) = hit {
                    if self.sets[s].0[w].tag == 0 {
                        self.len += 1;
                    }
                    self.sets[s].0[w] = new;
                    return;
                }
            }
        }
        // 2. One cuckoo step: move a resident to a free slot of its other set.
        for s in [a, b] {
            for w in 0..WAYS {
                let resident = self.sets[s].0[w];
                let alt = self.other(s, resident.tag);
                if alt == s {
                    continue;
                }
                if let Some(v) = self.sets[alt].0.iter().position(|x| x.is_free(now_ns)) {
                    if self.sets[alt].0[v].tag == 0 {
                        self.len += 1;
                    }
                    self.sets[alt].0[v] = resident;
                    self.sets[s].0[w] = new;
                    return;
                }
            }
        }
        // 3. The earliest TAT of the 8 gives way.
        let (s, w) = [a, b]
            .into_iter()
            .flat_map(|s| (0..WAYS).map(move |w| (s, w)))
            .min_by_key(|&(s, w)| self.sets[s].0[w].tat())
            .unwrap_or((a, 0));
        self.sets[s].0[w] = new;
        self.evicted_live += 1;
    }
}

/// `h` mapped uniformly onto `0..n` (multiply-shift).
fn reduce(h: u64, n: usize) -> usize {
    ((u128::from(h) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_16_bytes_and_a_set_one_cache_line() {
        assert_eq!(SLOT_BYTES, 16);
        assert_eq!(core::mem::size_of::<Set>(), 64);
        assert_eq!(core::mem::align_of::<Set>(), 64);
    }

    #[test]
    fn other_is_an_involution() {
        let l = Limiter::new(Quota::per_second(1, 0), 1_000);
        for s in 0..250 {
            for tag in [1u32, 2, 77, u32::MAX] {
                assert_eq!(l.other(l.other(s, tag), tag), s);
            }
        }
    }

    #[test]
    fn keys_are_limited_separately() {
        let mut l = Limiter::new(Quota::per_second(1, 0), 100);
        assert!(l.decide("a", 0).is_allow());
        assert!(!l.decide("a", 1).is_allow());
        assert!(l.decide("b", 1).is_allow());
        assert!(l.decide(&[10u8, 0, 0, 1][..], 1).is_allow());
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn memory_is_fixed_at_creation_and_the_cap_holds() {
        let mut l = Limiter::new(Quota::per_second(1, 0), 10_000);
        assert_eq!(l.max_keys(), 10_000);
        assert_eq!(l.memory_bytes(), 10_000 * SLOT_BYTES);
        for k in 0..100_000u32 {
            // All at t = 0: every key is live, nothing is expired.
            l.decide(&k, 0);
            assert!(l.len() <= 10_000);
        }
        assert_eq!(l.memory_bytes(), 10_000 * SLOT_BYTES);
        assert!(l.evicted_live() >= 90_000);
    }

    #[test]
    fn expired_keys_make_room_before_live_ones() {
        // A fixed hash key, so the placement (and this test) is the same on every run, and new
        // live keys at 60 % of the cap, where the table needs no live eviction (at 70 % one
        // run in four with random hash keys needed one).
        let hasher =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default();
        let mut l = Limiter::with_hasher(Quota::per_second(1, 0), 1_000, hasher);
        for k in 0..500u32 {
            l.decide(&k, 0); // TAT 1 s: expired at 5 s
        }
        for k in 500..1_100u32 {
            l.decide(&k, 5_000_000_000); // TAT 6 s
        }
        assert_eq!(
            l.evicted_live(),
            0,
            "600 new keys found 500 empty and 500 expired slots"
        );
        for k in 500..1_100u32 {
            assert!(l.peek(&k).is_some(), "live key {k} kept");
        }
    }

    #[test]
    fn sweep_drops_keys_whose_tat_is_past() {
        let mut l = Limiter::new(Quota::per_second(1, 0), 10);
        l.decide("x", 0);
        assert_eq!(l.sweep(500_000_000), 0);
        assert_eq!(l.sweep(1_000_000_000), 1);
        assert!(l.is_empty());
        assert!(l.peek("x").is_none());
    }

    #[test]
    fn the_table_fills_before_evicting() {
        // Measured (live keys only): none up to ~65 % of the cap, ~65 at 80 %, ~750 at 90 %.
        let mut l = Limiter::new(Quota::per_second(1, 0), 100_000);
        for k in 0..65_000u32 {
            l.decide(&k, 0);
        }
        assert!(
            l.evicted_live() <= 3,
            "{} evicted at 65 %",
            l.evicted_live()
        );
        for k in 65_000..90_000u32 {
            l.decide(&k, 0);
        }
        assert!(
            l.evicted_live() <= 1_500,
            "{} evicted at 90 %",
            l.evicted_live()
        );
        let lost = (0..90_000u32).filter(|k| l.peek(k).is_none()).count() as u64;
        assert_eq!(
            lost,
            l.evicted_live(),
            "every key lost is a counted eviction"
        );
    }
}
