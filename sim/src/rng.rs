//! The run's one seeded PRNG: ChaCha8, named and version-stable, forked per subsystem by label
//! so that a new draw in one subsystem does not shift another's stream.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

/// A ChaCha8 stream derived from `(seed, label)`.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream for `label` under run seed `seed`: ChaCha8 keyed by SHA-256(seed ‖ label).
    pub fn fork(seed: u64, label: &str) -> SimRng {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(label.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        SimRng {
            inner: ChaCha8Rng::from_seed(key),
        }
    }

    /// 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; `n > 0`). Integer-only, so every
    /// platform draws the same values.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// 16 random bytes, for a GUID.
    pub fn guid_bytes(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        self.inner.fill_bytes(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forks_are_reproducible_and_independent() {
        let a: Vec<u64> = (0..4)
            .map(|_| SimRng::fork(7, "guids").next_u64())
            .collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            SimRng::fork(7, "guids").next_u64(),
            SimRng::fork(7, "workload").next_u64()
        );
        assert_ne!(
            SimRng::fork(7, "guids").next_u64(),
            SimRng::fork(8, "guids").next_u64()
        );
        let mut r = SimRng::fork(1, "x");
        assert!((0..1000).all(|_| r.below(10) < 10));
    }
}
