use std::collections::BTreeMap;

use super::*;

/// Tiny deterministic xorshift64* (the model has no RNG crate).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------- BlockMap

#[test]
fn block_map_matches_btreemap() {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut m = BlockMap::new();
    let mut r = BTreeMap::new();
    let mut order = Vec::new();
    assert_eq!(m.heap_bytes(), 0);
    assert_eq!(m.get(7), None);
    for i in 0..200_000u64 {
        // Mix small dense keys, huge keys (> 2^32) and keys with many trailing zero bits.
        let key = match rng.below(4) {
            0 => rng.below(5_000),
            1 => (1u64 << 40) + rng.below(1 << 20),
            2 => rng.below(1 << 12) << 30,
            _ => rng.next(),
        };
        let old = m.insert(key, i);
        let expected = r.insert(key, i);
        assert_eq!(old, expected);
        if expected.is_none() {
            order.push(key);
        }
        if i % 997 == 0 {
            let probe = rng.next();
            assert_eq!(m.get(probe), r.get(&probe).copied());
        }
    }
    assert_eq!(m.len(), r.len());
    for (k, v) in &r {
        assert_eq!(m.get(*k), Some(*v));
    }
    // Insertion order, with the latest values.
    let keys: Vec<u64> = m.keys().collect();
    assert_eq!(keys, order);
    for (k, v) in m.iter() {
        assert_eq!(r[&k], v);
    }
    // Load never above 3/4.
    assert!(m.len() * 4 <= m.index_cells() * 3);
}

#[test]
fn block_map_insert_absent_and_find() {
    let mut m = BlockMap::new();
    for k in 0..100_000u64 {
        m.insert_absent(k * 3, k);
    }
    for k in 0..100_000u64 {
        let i = m.find(k * 3).unwrap();
        assert_eq!(m.value_at(i), k);
        m.set_value_at(i, k + 1);
        assert!(m.find(k * 3 + 1).is_err());
    }
    assert_eq!(m.get(30), Some(11));
    assert_eq!(m.len(), 100_000);
    // Vacant from an empty map, and across a growth.
    let mut e = BlockMap::new();
    for k in 0..1000u64 {
        match e.find(k << 33) {
            Err(v) => e.insert_vacant(v, k << 33, k),
            Ok(_) => panic!("absent key found"),
        }
    }
    assert!((0..1000u64).all(|k| e.get(k << 33) == Some(k)));
}

#[test]
fn block_map_memory_is_lean() {
    // Uniform random keys over 2^28 blocks, as in the 1 TiB / 4 KiB target.
    let mut rng = XorShift(99);
    let mut m = BlockMap::new();
    for i in 0..100_000u64 {
        m.insert(rng.below(1 << 28), i + 1);
    }
    let per = m.heap_bytes() as f64 / m.len() as f64;
    assert!(per < 40.0, "{per} bytes per entry");
    // Small maps stay small.
    let mut s = BlockMap::new();
    s.insert(5, 1);
    assert!(s.heap_bytes() <= 4 * 16 + 24 + 8 * 4, "{}", s.heap_bytes());
}

// ---------------------------------------------------------------- Volume vs a naive model

/// Naive reference: a full copy of the live map per shadow.
struct Naive {
    live: BTreeMap<u64, u64>,
    /// (key, epoch, image), oldest first.
    shadows: Vec<(ShadowKey, u64, BTreeMap<u64, u64>)>,
}

fn check_all(v: &Volume, n: &Naive, probes: &[u64]) {
    let keys: Vec<ShadowKey> = v.shadow_keys().collect();
    let nkeys: Vec<ShadowKey> = n.shadows.iter().map(|s| s.0).collect();
    assert_eq!(keys, nkeys);
    let written = v.written_blocks_sorted();
    let nwritten: Vec<u64> = n.live.keys().copied().collect();
    assert_eq!(written, nwritten);
    assert_eq!(v.n_written_blocks(), written.len() as u64);
    // Exact diff usage: shadow j holds exactly the blocks that had content at its epoch and
    // changed before the next shadow's epoch (or since, for the newest).
    for (j, (key, _, image)) in n.shadows.iter().enumerate() {
        let next = n.shadows.get(j + 1).map_or(&n.live, |s| &s.2);
        let changed = image.iter().filter(|(b, s)| next.get(b) != Some(s)).count() as u64;
        assert_eq!(
            v.shadow_diff_area_used_bytes(*key),
            Some(changed * 4096),
            "diff of {key:?}"
        );
    }
    let total: u64 = n
        .shadows
        .iter()
        .map(|s| v.shadow_diff_area_used_bytes(s.0).unwrap())
        .sum();
    assert_eq!(v.diff_area_used_bytes(), total);
    for &b in written.iter().chain(probes) {
        assert_eq!(v.read_live(b), n.live.get(&b).copied(), "live block {b}");
        for (key, _, image) in &n.shadows {
            assert_eq!(
                v.read_shadow(*key, b),
                image.get(&b).copied(),
                "shadow {key:?} block {b}"
            );
        }
    }
}

/// Drive a volume and the naive model with the same pseudo-random mix of writes, shadow
/// creations and deletions (oldest, middle, newest); compare every shadow on every written block
/// plus never-written ones.
fn run_reference(seed: u64, n_blocks: u64, steps: u32, hot: u64, check_every: u32) {
    let mut rng = XorShift(seed);
    let mut v = Volume::new(n_blocks, 4096, None, Protection::OriginalVolume);
    let mut n = Naive {
        live: BTreeMap::new(),
        shadows: Vec::new(),
    };
    let mut seq = 0u64;
    let mut next_key = 0u32;
    // Never-written probes (the top of the volume is never written).
    let probes: Vec<u64> = (0..8).map(|i| n_blocks - 1 - i).collect();
    let writable = n_blocks - 8;
    for step in 0..steps {
        let r = rng.below(1000);
        if r < 8 {
            // Create a shadow; sometimes two with the same epoch.
            v.create_shadow(ShadowKey(next_key), seq);
            n.shadows.push((ShadowKey(next_key), seq, n.live.clone()));
            next_key += 1;
        } else if r < 14 && !n.shadows.is_empty() {
            // Delete oldest, newest or a middle one.
            let len = n.shadows.len() as u64;
            let idx = match rng.below(3) {
                0 => 0,
                1 => len - 1,
                _ => rng.below(len),
            } as usize;
            let (key, _, _) = n.shadows.remove(idx);
            v.delete_shadow(key);
            assert!(!v.has_shadow(key));
        } else {
            // Writes concentrate on a hot set so that blocks are rewritten across many shadows.
            let block = if rng.below(4) == 0 {
                rng.below(writable)
            } else {
                rng.below(hot)
            };
            seq += 1;
            let newest_epoch = n.shadows.last().map(|s| s.1);
            let expect_copy = n
                .live
                .get(&block)
                .is_some_and(|&c| newest_epoch.is_some_and(|e| c <= e));
            let out = v.write(block, seq);
            assert_eq!(
                out,
                WriteOutcome::Applied {
                    copied: expect_copy
                }
            );
            n.live.insert(block, seq);
        }
        if step % check_every == 0 {
            check_all(&v, &n, &probes);
        }
    }
    check_all(&v, &n, &probes);
    // Delete everything in a scattered order, checking after each deletion.
    while !n.shadows.is_empty() {
        let idx = rng.below(n.shadows.len() as u64) as usize;
        let (key, _, _) = n.shadows.remove(idx);
        v.delete_shadow(key);
        if n.shadows.len() < 6 || n.shadows.len() % 8 == 0 {
            check_all(&v, &n, &probes);
        }
    }
    assert_eq!(v.diff_area_used_bytes(), 0);
}

#[test]
fn reference_model_small_volume() {
    for seed in 1..=6 {
        run_reference(seed, 64, 6_000, 24, 50);
    }
}

#[test]
fn reference_model_larger_volume() {
    run_reference(0xdead_beef, 1 << 36, 8_000, 1 << 36, 2_000);
    run_reference(0x5eed, 5_000, 30_000, 300, 2_000);
}

#[test]
fn diff_usage_is_exact_without_middle_deletions() {
    // Three shadows, rewrites everywhere: each shadow holds exactly the blocks that had content at
    // its epoch and were first rewritten while it was the newest.
    let mut v = Volume::new(100, 512, None, Protection::OriginalVolume);
    let mut seq = 0;
    for b in 0..10 {
        seq += 1;
        v.write(b, seq);
    }
    v.create_shadow(ShadowKey(1), seq);
    for b in 0..5 {
        seq += 1;
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: true });
        seq += 1;
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: false });
    }
    v.create_shadow(ShadowKey(2), seq);
    for b in 3..8 {
        seq += 1;
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: true });
    }
    assert_eq!(v.shadow_diff_area_used_bytes(ShadowKey(1)), Some(5 * 512));
    assert_eq!(v.shadow_diff_area_used_bytes(ShadowKey(2)), Some(5 * 512));
    assert_eq!(v.diff_area_used_bytes(), 10 * 512);
    // Deleting the newest hands blocks 5..8 (unchanged since shadow 1) down to shadow 1; blocks
    // 3, 4 are already there.
    v.delete_shadow(ShadowKey(2));
    assert_eq!(v.shadow_diff_area_used_bytes(ShadowKey(1)), Some(8 * 512));
    assert_eq!(v.diff_area_used_bytes(), 8 * 512);
    for b in 0..10 {
        assert_eq!(v.read_shadow(ShadowKey(1), b), Some(b + 1));
    }
    assert_eq!(v.read_shadow(ShadowKey(1), 50), None);
}

// ---------------------------------------------------------------- free space, diff-area limits

#[test]
fn never_written_blocks_cost_no_diff_area() {
    let mut v = Volume::new(1 << 20, 4096, Some(0), Protection::Snapshot);
    v.create_shadow(ShadowKey(0), 0);
    let mut seq = 0;
    for b in (0..1000).map(|i| i * 7) {
        seq += 1;
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: false });
        seq += 1;
        // Written after the epoch: no copy either.
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: false });
    }
    assert_eq!(v.diff_area_used_bytes(), 0);
    assert!(!v.diff_area_full_fault());
    for b in (0..1000).map(|i| i * 7) {
        assert_eq!(v.read_shadow(ShadowKey(0), b), None);
        assert_eq!(v.read_live(b), Some(2 * (b / 7) + 2));
    }
}

#[test]
fn original_volume_deletes_oldest_first() {
    // Room for 3 copied blocks.
    let mut v = Volume::new(1000, 4096, Some(3 * 4096), Protection::OriginalVolume);
    let mut seq = 0;
    for b in 0..10 {
        seq += 1;
        v.write(b, seq);
    }
    v.create_shadow(ShadowKey(10), seq); // s10 sees 1..=10
    seq += 1;
    assert_eq!(v.write(0, seq), WriteOutcome::Applied { copied: true });
    v.create_shadow(ShadowKey(20), seq);
    seq += 1;
    assert_eq!(v.write(1, seq), WriteOutcome::Applied { copied: true });
    v.create_shadow(ShadowKey(30), seq);
    seq += 1;
    assert_eq!(v.write(2, seq), WriteOutcome::Applied { copied: true });
    assert_eq!(v.diff_area_used_bytes(), 3 * 4096);
    // The fourth copy does not fit: the oldest (s10, one block) goes.
    seq += 1;
    assert_eq!(
        v.write(3, seq),
        WriteOutcome::AppliedAfterDeleting {
            deleted: vec![ShadowKey(10)]
        }
    );
    assert_eq!(
        v.shadow_keys().collect::<Vec<_>>(),
        vec![ShadowKey(20), ShadowKey(30)]
    );
    assert_eq!(v.diff_area_used_bytes(), 3 * 4096);
    // s20 still reads its image: block 0 rewritten before it, block 1 from its diff.
    assert_eq!(v.read_shadow(ShadowKey(20), 0), Some(11));
    assert_eq!(v.read_shadow(ShadowKey(20), 1), Some(2));
    assert_eq!(v.read_shadow(ShadowKey(30), 3), Some(4));
    assert_eq!(v.read_live(3), Some(seq));
    // The next copy is full again: s20 (one block) goes and the copy fits.
    seq += 1;
    assert_eq!(
        v.write(4, seq),
        WriteOutcome::AppliedAfterDeleting {
            deleted: vec![ShadowKey(20)]
        }
    );
    assert_eq!(v.read_shadow(ShadowKey(30), 4), Some(5));
    assert_eq!(v.diff_area_used_bytes(), 3 * 4096);
    // Now s30 alone fills the area: the next copy deletes it and no copy is made.
    seq += 1;
    assert_eq!(
        v.write(5, seq),
        WriteOutcome::AppliedAfterDeleting {
            deleted: vec![ShadowKey(30)]
        }
    );
    assert_eq!(v.n_shadows(), 0);
    assert_eq!(v.diff_area_used_bytes(), 0);
    assert_eq!(v.read_live(5), Some(seq));
    assert!(!v.diff_area_full_fault());
}

#[test]
fn original_volume_deletes_several_at_once() {
    // Three shadows of one copied block each, then the capacity shrinks to two blocks.
    let mut v = Volume::new(100, 1024, None, Protection::OriginalVolume);
    let mut seq = 0;
    for b in 0..10 {
        seq += 1;
        v.write(b, seq);
    }
    for k in 0..3 {
        v.create_shadow(ShadowKey(k), seq);
        seq += 1;
        v.write(u64::from(k), seq);
    }
    assert_eq!(v.diff_area_used_bytes(), 3 * 1024);
    v.set_diff_area_capacity_bytes(Some(2 * 1024));
    seq += 1;
    assert_eq!(
        v.write(9, seq),
        WriteOutcome::AppliedAfterDeleting {
            deleted: vec![ShadowKey(0), ShadowKey(1)]
        }
    );
    assert_eq!(v.shadow_keys().collect::<Vec<_>>(), vec![ShadowKey(2)]);
    assert_eq!(v.read_shadow(ShadowKey(2), 9), Some(10));
    assert_eq!(v.read_shadow(ShadowKey(2), 0), Some(11));
    assert_eq!(v.diff_area_used_bytes(), 2 * 1024);
}

#[test]
fn snapshot_protection_fails_the_write() {
    let mut v = Volume::new(100, 4096, Some(2 * 4096), Protection::Snapshot);
    let mut seq = 0;
    for b in 0..10 {
        seq += 1;
        v.write(b, seq);
    }
    v.create_shadow(ShadowKey(1), seq);
    for b in 0..2 {
        seq += 1;
        assert_eq!(v.write(b, seq), WriteOutcome::Applied { copied: true });
    }
    seq += 1;
    assert_eq!(v.write(2, seq), WriteOutcome::FailedDiffAreaFull);
    assert!(v.diff_area_full_fault());
    assert_eq!(
        v.read_live(2),
        Some(3),
        "failed write must not change the block"
    );
    assert!(v.has_shadow(ShadowKey(1)));
    assert_eq!(v.diff_area_used_bytes(), 2 * 4096);
    for b in 0..10 {
        assert_eq!(v.read_shadow(ShadowKey(1), b), Some(b + 1));
    }
    // Writes that need no copy still go through; the fault stays set until cleared.
    seq += 1;
    assert_eq!(v.write(0, seq), WriteOutcome::Applied { copied: false });
    seq += 1;
    assert_eq!(v.write(50, seq), WriteOutcome::Applied { copied: false });
    assert!(v.diff_area_full_fault());
    v.clear_diff_area_full_fault();
    assert!(!v.diff_area_full_fault());
    // Deleting the shadow frees the area; the block can be written again.
    assert_eq!(v.delete_all_shadows(), vec![ShadowKey(1)]);
    seq += 1;
    assert_eq!(v.write(2, seq), WriteOutcome::Applied { copied: false });
    assert_eq!(v.diff_area_used_bytes(), 0);
}

#[test]
fn written_blocks_sorted_is_sorted_and_complete() {
    let mut rng = XorShift(7);
    let mut v = Volume::new(1 << 40, 4096, None, Protection::OriginalVolume);
    let mut expected = std::collections::BTreeSet::new();
    for seq in 1..=20_000 {
        let b = rng.below(1 << 40);
        v.write(b, seq);
        expected.insert(b);
    }
    let got = v.written_blocks_sorted();
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
}

#[test]
#[should_panic(expected = "no shadow")]
fn reading_a_missing_shadow_panics() {
    let v = Volume::new(10, 512, None, Protection::OriginalVolume);
    let _ = v.read_shadow(ShadowKey(3), 0);
}

#[test]
#[should_panic(expected = "not above")]
fn write_seq_must_exceed_shadow_epoch() {
    let mut v = Volume::new(10, 512, None, Protection::OriginalVolume);
    v.create_shadow(ShadowKey(0), 5);
    v.write(1, 5);
}

// ---------------------------------------------------------------- memory target, scaled

#[test]
fn heap_per_written_block_scaled_target() {
    // 1 TiB of 4 KiB blocks, one shadow on the empty volume, then uniformly random writes
    // (the target is 1,000,000 writes; 100,000 here to keep the test fast).
    let n_blocks = 1u64 << 28;
    let mut v = Volume::new(n_blocks, 4096, None, Protection::OriginalVolume);
    v.create_shadow(ShadowKey(0), 0);
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let mut peak = 0;
    for seq in 1..=100_000u64 {
        v.write(rng.below(n_blocks), seq);
        peak = peak.max(v.heap_bytes());
    }
    let per = v.heap_bytes() as f64 / v.n_written_blocks() as f64;
    let peak_per = peak as f64 / v.n_written_blocks() as f64;
    println!(
        "heap {} B for {} written blocks: {per:.2} B/block (peak {peak_per:.2} B/block)",
        v.heap_bytes(),
        v.n_written_blocks()
    );
    assert!(per < 40.0, "{per} heap bytes per written block");
    assert!(
        peak_per < 40.0,
        "{peak_per} peak heap bytes per written block"
    );
    assert_eq!(v.diff_area_used_bytes(), 0);
}

#[test]
#[ignore = "full-size memory target: cargo test -p vss-model --release -- --ignored heap_full"]
fn heap_full_size_target() {
    let n_blocks = 1u64 << 28;
    let mut v = Volume::new(n_blocks, 4096, None, Protection::OriginalVolume);
    v.create_shadow(ShadowKey(0), 0);
    let mut rng = XorShift(0x0123_4567_89ab_cdef);
    let mut peak = 0;
    for seq in 1..=1_000_000u64 {
        v.write(rng.below(n_blocks), seq);
        peak = peak.max(v.heap_bytes());
    }
    println!(
        "heap {} B (peak {peak} B) for {} written blocks",
        v.heap_bytes(),
        v.n_written_blocks()
    );
    assert!(peak < 32 << 20, "peak {peak}");
}

/// Redirect-on-write shadows mixed with copy-on-write shadows and writes: every shadow reads
/// exactly the image of its instant, the live volume reads the last write of each block, and
/// deleting redirect shadows (oldest, middle, newest) loses nothing.
#[test]
fn redirect_on_write_layers_match_a_naive_model() {
    for seed in 1..=6u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n_blocks = 500;
        let mut v = Volume::new(n_blocks, 512, None, Protection::OriginalVolume);
        let mut live: BTreeMap<u64, u64> = BTreeMap::new();
        // (key, is_redirect, image at its instant)
        let mut shadows: Vec<(ShadowKey, bool, BTreeMap<u64, u64>)> = Vec::new();
        let mut seq = 0u64;
        let mut next_key = 0u32;
        for step in 0..3000u32 {
            match rng.below(100) {
                0..=2 => {
                    let key = ShadowKey(next_key);
                    next_key += 1;
                    let redirect = rng.below(2) == 0;
                    if redirect {
                        v.create_redirect_shadow(key);
                    } else {
                        v.create_shadow(key, seq);
                    }
                    shadows.push((key, redirect, live.clone()));
                }
                3 if !shadows.is_empty() => {
                    let i = rng.below(shadows.len() as u64) as usize;
                    let (key, redirect, _) = shadows.remove(i);
                    if redirect {
                        v.delete_redirect_shadow(key);
                    } else {
                        v.delete_shadow(key);
                    }
                }
                _ => {
                    let b = rng.below(n_blocks);
                    seq += 1;
                    let (_, prev) = v.write_returning_prev(b, seq);
                    assert_eq!(
                        prev,
                        live.get(&b).copied(),
                        "seed {seed} step {step}: prev of {b}"
                    );
                    live.insert(b, seq);
                }
            }
            if step % 97 == 0 || step == 2999 {
                let blocks: Vec<u64> = (0..n_blocks).collect();
                for b in 0..n_blocks {
                    assert_eq!(
                        v.read_live(b),
                        live.get(&b).copied(),
                        "seed {seed}: live {b}"
                    );
                }
                for (key, redirect, image) in &shadows {
                    let mut got = Vec::new();
                    if *redirect {
                        v.read_redirect_blocks(*key, &blocks, |b, s| got.push((b, s)));
                    } else {
                        v.read_shadow_blocks(*key, &blocks, |b, s| got.push((b, s)));
                    }
                    for (b, s) in got {
                        assert_eq!(
                            s,
                            image.get(&b).copied(),
                            "seed {seed}: shadow {key:?} block {b}"
                        );
                    }
                }
                let written: Vec<u64> = live.keys().copied().collect();
                assert_eq!(v.written_blocks_sorted(), written);
            }
        }
    }
}

#[test]
fn a_redirect_shadow_takes_no_copy_and_moves_no_block() {
    let mut v = Volume::new(1 << 20, 4096, Some(0), Protection::OriginalVolume);
    for b in 0..1000 {
        v.write(b, b + 1);
    }
    v.create_redirect_shadow(ShadowKey(0));
    for b in 0..1000 {
        // Even with a zero-byte diff area nothing is copied: writes go to the overlay.
        assert_eq!(
            v.write(b, 2000 + b),
            WriteOutcome::Applied { copied: false }
        );
    }
    assert_eq!(v.diff_area_used_bytes(), 0);
    let mut image = Vec::new();
    v.read_redirect_blocks(ShadowKey(0), &[0, 999, 1000], |b, s| image.push((b, s)));
    assert_eq!(image, [(0, Some(1)), (999, Some(1000)), (1000, None)]);
    assert_eq!(v.read_live(0), Some(2000));
}
