//! Attention over a growing cache of keys and values, computed on plain rows of f32 (no tensor per step): the
//! forward passes written here ([`super::decoder`], [`super::gemma3`]) call it once per layer.
//!
//! The cache of a layer is one buffer of keys and one of values, a row of `kv_heads × head_dim` per position,
//! appended in place. A clone of the model (a kept prompt prefix) shares the buffers until either side appends:
//! then that side copies them first ([`Arc::make_mut`]), so a clone never sees another's later positions. (candle's
//! concatenation copied the whole cache at every token, and its grouped heads were repeated into a third copy.)
//!
//! Each query is computed alone, the same way whatever batch it is in, over the keys it may see (those at or before
//! its position, and within the sliding window if the layer has one): in blocks of 128 positions (`KEY_BLOCK`), each
//! giving its scores' maximum, the sum of their exponentials and the values weighted by them, merged in order into
//! the softmax-weighted sum of the values. A block's keys and values serve all the query heads that share them
//! (grouped-query attention); the keys are kept transposed, so that a query's scores come eight positions to a
//! vector, and the exponentials are computed by vector too ([`super::simd::exp`]). The blocks are shared over
//! candle's thread pool when there is enough work; the arithmetic runs with SIMD where the CPU has it (`pulp`,
//! chosen at run time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use candle_core::Result;
use pulp::{Arch, Simd, WithSimd};

use super::simd::exp;

/// Below this many multiply-adds an attention runs on the calling thread alone.
const PARALLEL_WORK: usize = 1 << 15;

/// Keys are taken in blocks of this many positions (counted from the first), each block computed on its own and
/// the blocks merged in order: a query's result is the same whatever its batch, and a single token's attention is
/// spread over the threads.
const KEY_BLOCK: usize = 128;

/// The keys and values of the positions seen so far, for one layer.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    /// The keys by block of [`KEY_BLOCK`] positions, and in a block by key-value head and dimension: one
    /// dimension's values of a head over the block's positions are contiguous, so that a query's scores over eight
    /// positions are computed as one vector (no sum across a vector's lanes per score). Whole blocks are allocated;
    /// what lies past the last position held is never used.
    keys: Arc<Vec<f32>>,
    /// The values: a row of `kv_heads × head_dim` per position.
    values: Arc<Vec<f32>>,
}

impl Cache {
    /// Forgets every position.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The shape of a layer's attention.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    /// Query heads.
    pub heads: usize,
    /// Key-value heads (each serves `heads / kv_heads` query heads).
    pub kv_heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// The factor of the scores (usually 1/√head_dim).
    pub scale: f32,
    /// For a sliding-window layer, how many positions a query sees (itself included).
    pub window: Option<usize>,
}

/// The attention of `n` queries at positions `pos..pos + n` (`q`: `n × heads × head_dim`, rotated) over the keys and
/// values before them in `cache` and their own (`k`, `v`: `n × kv_heads × head_dim`), which are appended to the
/// cache. A cache holding more than `pos` positions (the rest of an earlier continuation) is cut to `pos` first.
/// `n × heads × head_dim`.
pub fn attend(cache: &mut Cache, shape: Heads, q: &[f32], k: &[f32], v: &[f32], pos: usize) -> Result<Vec<f32>> {
    let Heads { heads, kv_heads, head_dim, .. } = shape;
    let width = kv_heads * head_dim;
    let n = q.len() / (heads * head_dim);
    if q.len() != n * heads * head_dim || k.len() != n * width || v.len() != n * width {
        candle_core::bail!(
            "attention of {} query, {} key and {} value numbers for {n} positions",
            q.len(),
            k.len(),
            v.len()
        );
    }
    let held = cache.values.len() / width;
    if held < pos {
        candle_core::bail!("the attention cache holds {held} positions, not the {pos} the step continues");
    }
    let values = Arc::make_mut(&mut cache.values);
    values.truncate(pos * width);
    values.extend_from_slice(v);
    let keys = Arc::make_mut(&mut cache.keys);
    let block_len = width * KEY_BLOCK;
    keys.resize((pos + n).div_ceil(KEY_BLOCK) * block_len, 0.0);
    for (i, key) in k.chunks_exact(width).enumerate() {
        let p = pos + i;
        let block = &mut keys[p / KEY_BLOCK * block_len..][..block_len];
        for (at, value) in key.iter().enumerate() {
            block[at * KEY_BLOCK + p % KEY_BLOCK] = *value;
        }
    }
    let (keys, values) = (cache.keys.as_slice(), cache.values.as_slice());
    let group = heads / kv_heads;
    // The shares: every query, key-value head and block of keys it sees.
    let mut shares = Vec::new();
    for i in 0..n {
        let (first, last) = seen(shape, pos + i);
        for g in 0..kv_heads {
            for block in first / KEY_BLOCK..=last / KEY_BLOCK {
                let keys = first.max(block * KEY_BLOCK)..last.min((block + 1) * KEY_BLOCK - 1) + 1;
                shares.push(Share { query: i, group: g, keys });
            }
        }
    }
    // Per share and query head: the scores' maximum, the sum of their exponentials, the values weighted by them.
    let stride = head_dim + 2;
    let partial: Vec<AtomicU32> = (0..shares.len() * group * stride).map(|_| AtomicU32::new(0)).collect();
    let arch = Arch::new();
    let run = |range: std::ops::Range<usize>| {
        let mut scratch = Vec::new();
        let mut result = vec![0f32; group * stride];
        for s in range {
            let share = &shares[s];
            let queries = &q[(share.query * heads + share.group * group) * head_dim..][..group * head_dim];
            arch.dispatch(ShareOfKeys {
                shape,
                share,
                queries,
                keys,
                values,
                scratch: &mut scratch,
                result: &mut result,
            });
            for (o, x) in partial[s * group * stride..(s + 1) * group * stride].iter().zip(&result) {
                o.store(x.to_bits(), Ordering::Relaxed);
            }
        }
    };
    let work: usize = shares.iter().map(|s| s.keys.len()).sum::<usize>() * heads * head_dim;
    if work >= PARALLEL_WORK && shares.len() > 1 {
        candle_core::utils::barrier_pool().execute_chunked(shares.len(), run);
    } else {
        run(0..shares.len());
    }
    let partial: Vec<f32> = partial.into_iter().map(|x| f32::from_bits(x.into_inner())).collect();
    // The shares of each query head merged in the order of their blocks.
    let mut out = vec![0f32; n * heads * head_dim];
    let mut s = 0;
    for i in 0..n {
        for g in 0..kv_heads {
            let count = shares[s..].iter().take_while(|x| x.query == i && x.group == g).count();
            for h in 0..group {
                let out = &mut out[(i * heads + g * group + h) * head_dim..][..head_dim];
                let (mut max, mut total) = (f32::NEG_INFINITY, 0f32);
                for part in partial[s * group * stride..].chunks_exact(group * stride).take(count) {
                    let part = &part[h * stride..(h + 1) * stride];
                    let (part_max, part_total, weighted) = (part[0], part[1], &part[2..]);
                    let new_max = max.max(part_max);
                    let (old, new) = ((max - new_max).exp(), (part_max - new_max).exp());
                    total = total * old + part_total * new;
                    for (o, w) in out.iter_mut().zip(weighted) {
                        *o = *o * old + w * new;
                    }
                    max = new_max;
                }
                let inverse = 1.0 / total;
                out.iter_mut().for_each(|o| *o *= inverse);
            }
            s += count;
        }
    }
    Ok(out)
}

/// The first and last position a query at position `p` sees.
fn seen(shape: Heads, p: usize) -> (usize, usize) {
    (shape.window.map_or(0, |w| (p + 1).saturating_sub(w)), p)
}

/// A block of the keys one query sees, for the query heads of one key-value head.
struct Share {
    query: usize,
    group: usize,
    keys: std::ops::Range<usize>,
}

/// The computation of a [`Share`]: for each query head of the group, the maximum of its scores over the share's
/// keys, the sum of their exponentials (less the maximum) and the values weighted by those.
struct ShareOfKeys<'a> {
    shape: Heads,
    share: &'a Share,
    /// The group's query heads, one after the other.
    queries: &'a [f32],
    keys: &'a [f32],
    values: &'a [f32],
    scratch: &'a mut Vec<f32>,
    result: &'a mut [f32],
}

impl WithSimd for ShareOfKeys<'_> {
    type Output = ();

    // Plain loops, no closures: a closure is a function of its own, compiled without the SIMD features, and the
    // intrinsics inside it would not be inlined.
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let ShareOfKeys { shape, share, queries, keys, values, scratch, result } = self;
        let (width, head_dim) = (shape.kv_heads * shape.head_dim, shape.head_dim);
        let group = queries.len() / head_dim;
        let offset = share.group * head_dim;
        let count = share.keys.len();
        let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
        // The block's keys of this head (`head_dim` rows of KEY_BLOCK positions), and the share's positions in it,
        // widened to whole vectors (the scores of the extra positions are computed and left unused).
        let block = share.keys.start / KEY_BLOCK;
        let transposed = &keys[(block * shape.kv_heads + share.group) * head_dim * KEY_BLOCK..][..head_dim * KEY_BLOCK];
        let (first, end) = (share.keys.start % KEY_BLOCK, (share.keys.end - 1) % KEY_BLOCK + 1);
        let (wide_first, wide_end) = (first - first % lanes, end.div_ceil(lanes) * lanes);
        let wide = wide_end - wide_first;
        // One scratch buffer for the calls of a thread: the scores of the group's heads, then one head's widened
        // row.
        scratch.clear();
        scratch.resize(group * count + wide, 0.0);
        let (scores, row) = scratch.split_at_mut(group * count);
        for h in 0..group {
            let query = &queries[h * head_dim..(h + 1) * head_dim];
            // Up to eight vectors of positions at a time, held in registers over the dimensions.
            let mut start = wide_first;
            while start < wide_end {
                let vectors = ((wide_end - start) / lanes).min(8);
                let mut acc = [simd.splat_f32s(0.0); 8];
                for d in 0..head_dim {
                    let q = simd.splat_f32s(query[d]);
                    let (k, _) = S::as_simd_f32s(&transposed[d * KEY_BLOCK + start..][..vectors * lanes]);
                    for r in 0..vectors {
                        acc[r] = simd.mul_add_f32s(q, k[r], acc[r]);
                    }
                }
                let (out, _) = S::as_mut_simd_f32s(&mut row[start - wide_first..][..vectors * lanes]);
                out.copy_from_slice(&acc[..vectors]);
                start += vectors * lanes;
            }
            let used = &row[first - wide_first..end - wide_first];
            for (s, r) in scores[h * count..(h + 1) * count].iter_mut().zip(used) {
                *s = r * shape.scale;
            }
        }
        let stretch = 8 * lanes;
        for h in 0..group {
            let scores = &mut scores[h * count..(h + 1) * count];
            let (max, total) = softmax_terms(simd, scores);
            let result = &mut result[h * (head_dim + 2)..(h + 1) * (head_dim + 2)];
            result[0] = max;
            result[1] = total;
            let out = &mut result[2..];
            // The weighted values, a stretch of eight vectors of the head at a time (held in registers over all the
            // keys), then the rest.
            let mut start = 0;
            while start + stretch <= head_dim {
                let mut acc = [simd.splat_f32s(0.0); 8];
                for (i, j) in share.keys.clone().enumerate() {
                    let at = j * width + offset + start;
                    let (v, _) = S::as_simd_f32s(&values[at..at + stretch]);
                    let w = simd.splat_f32s(scores[i]);
                    for r in 0..8 {
                        acc[r] = simd.mul_add_f32s(w, v[r], acc[r]);
                    }
                }
                let (o, _) = S::as_mut_simd_f32s(&mut out[start..start + stretch]);
                o.copy_from_slice(&acc);
                start += stretch;
            }
            if start < head_dim {
                out[start..].fill(0.0);
                for (i, j) in share.keys.clone().enumerate() {
                    let at = j * width + offset;
                    axpy(simd, &mut out[start..], scores[i], &values[at + start..at + head_dim]);
                }
            }
        }
    }
}

/// The scores' maximum, each score replaced by `exp(score - maximum)`, and the sum of those.
#[inline(always)]
fn softmax_terms<S: Simd>(simd: S, scores: &mut [f32]) -> (f32, f32) {
    let (body, tail) = S::as_simd_f32s(scores);
    let mut vector_max = simd.splat_f32s(f32::NEG_INFINITY);
    for x in body {
        vector_max = simd.max_f32s(vector_max, *x);
    }
    let mut max = simd.reduce_max_f32s(vector_max);
    for x in tail {
        max = max.max(*x);
    }
    let shift = simd.splat_f32s(max);
    let (body, tail) = S::as_mut_simd_f32s(scores);
    let mut sum = simd.splat_f32s(0.0);
    for x in body.iter_mut() {
        *x = exp(simd, simd.sub_f32s(*x, shift));
        sum = simd.add_f32s(sum, *x);
    }
    // The last scores through the same function, in a vector of their own.
    let last = exp(simd, simd.sub_f32s(simd.partial_load_f32s(tail), shift));
    simd.partial_store_f32s(tail, last);
    let mut total = simd.reduce_sum_f32s(sum);
    for x in tail.iter() {
        total += *x;
    }
    (max, total)
}

/// `out += w · x`.
#[inline(always)]
fn axpy<S: Simd>(simd: S, out: &mut [f32], w: f32, x: &[f32]) {
    let (out_simd, out_rest) = S::as_mut_simd_f32s(out);
    let (x_simd, x_rest) = S::as_simd_f32s(x);
    let ws = simd.splat_f32s(w);
    for i in 0..out_simd.len() {
        out_simd[i] = simd.mul_add_f32s(ws, x_simd[i], out_simd[i]);
    }
    for i in 0..out_rest.len() {
        out_rest[i] += w * x_rest[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::test_values as values;

    /// The textbook attention of query `i` (at position `pos + i`), head `h`, over all keys `ks` and values `vs`
    /// (`positions × kv_heads × head_dim`), masked by position and window.
    fn naive(shape: Heads, q: &[f32], ks: &[f32], vs: &[f32], pos: usize, i: usize, h: usize) -> Vec<f32> {
        let Heads { heads, kv_heads, head_dim, scale, window } = shape;
        let g = h / (heads / kv_heads);
        let p = pos + i;
        let query = &q[(i * heads + h) * head_dim..][..head_dim];
        let key = |j: usize| &ks[(j * kv_heads + g) * head_dim..][..head_dim];
        let value = |j: usize| &vs[(j * kv_heads + g) * head_dim..][..head_dim];
        let visible = |j: usize| j <= p && window.is_none_or(|w| p - j < w);
        let scores: Vec<f64> = (0..=p)
            .map(|j| {
                if visible(j) {
                    query.iter().zip(key(j)).map(|(a, b)| f64::from(a * b)).sum::<f64>() * f64::from(scale)
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let max = scores.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s));
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        (0..head_dim)
            .map(|d| (0..=p).map(|j| weights[j] / total * f64::from(value(j)[d])).sum::<f64>() as f32)
            .collect()
    }

    /// Every head of the given queries (`out` computed from position 0) is the textbook's to 1e-5.
    fn assert_textbook(
        shape: Heads,
        (q, ks, vs): (&[f32], &[f32], &[f32]),
        out: &[f32],
        queries: impl IntoIterator<Item = usize>,
    ) {
        let (heads, head_dim) = (shape.heads, shape.head_dim);
        for i in queries {
            for h in 0..heads {
                let expected = naive(shape, q, ks, vs, 0, i, h);
                let got = &out[(i * heads + h) * head_dim..][..head_dim];
                for (a, b) in got.iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-5, "{shape:?}, query {i}, head {h}: {got:?} vs {expected:?}");
                }
            }
        }
    }

    #[test]
    fn attention_matches_the_textbook_with_and_without_a_window_in_any_batch() {
        for window in [None, Some(3)] {
            let shape = Heads { heads: 4, kv_heads: 2, head_dim: 12, scale: 0.3, window };
            let positions = 9;
            let (ks, vs) = (values(positions * 24, 1, 1.0), values(positions * 24, 2, 1.0));
            let q = values(positions * 48, 3, 1.0);
            // Whole, then in pieces of 4, 1 and 4 positions: every query's output is the textbook's.
            let mut whole = Cache::default();
            let out = attend(&mut whole, shape, &q, &ks, &vs, 0).unwrap();
            let mut pieces = Cache::default();
            let mut joined = Vec::new();
            for (from, to) in [(0, 4), (4, 5), (5, 9)] {
                let part = attend(
                    &mut pieces,
                    shape,
                    &q[from * 48..to * 48],
                    &ks[from * 24..to * 24],
                    &vs[from * 24..to * 24],
                    from,
                );
                joined.extend(part.unwrap());
            }
            assert_eq!(joined, out, "a query's result does not depend on its batch");
            assert_textbook(shape, (&q, &ks, &vs), &out, 0..positions);
        }
    }

    /// A context longer than a block of keys: the blocks' shares merge into the textbook's softmax, whether the
    /// queries come whole or one at a time.
    #[test]
    fn blocks_of_keys_merge_into_the_whole_softmax() {
        for window in [None, Some(KEY_BLOCK + 37)] {
            let shape = Heads { heads: 2, kv_heads: 1, head_dim: 8, scale: 0.9, window };
            let positions = 2 * KEY_BLOCK + 45;
            let (ks, vs, q) =
                (values(positions * 8, 7, 1.0), values(positions * 8, 8, 1.0), values(positions * 16, 9, 1.0));
            let mut whole = Cache::default();
            let out = attend(&mut whole, shape, &q, &ks, &vs, 0).unwrap();
            let mut single = Cache::default();
            attend(
                &mut single,
                shape,
                &q[..16 * (positions - 1)],
                &ks[..8 * (positions - 1)],
                &vs[..8 * (positions - 1)],
                0,
            )
            .unwrap();
            let last = positions - 1;
            let one = attend(&mut single, shape, &q[16 * last..], &ks[8 * last..], &vs[8 * last..], last).unwrap();
            assert_eq!(one, out[16 * last..], "window {window:?}: the last query alone");
            assert_textbook(shape, (&q, &ks, &vs), &out, [0, KEY_BLOCK - 1, KEY_BLOCK, KEY_BLOCK + 50, last]);
        }
    }

    #[test]
    fn a_clone_keeps_its_own_positions_and_a_short_cache_is_refused() {
        let shape = Heads { heads: 2, kv_heads: 1, head_dim: 8, scale: 0.5, window: None };
        let (q, k, v) = (values(2 * 16, 4, 1.0), values(2 * 8, 5, 1.0), values(2 * 8, 6, 1.0));
        let mut cache = Cache::default();
        attend(&mut cache, shape, &q[..16], &k[..8], &v[..8], 0).unwrap();
        let kept = cache.clone();
        // The original continues elsewhere; the clone then continues as the original first did.
        attend(&mut cache, shape, &q[16..], &v[8..], &k[8..], 1).unwrap();
        let mut from_kept = kept.clone();
        let a = attend(&mut from_kept, shape, &q[16..], &k[8..], &v[8..], 1).unwrap();
        let mut whole = Cache::default();
        let b = attend(&mut whole, shape, &q, &k, &v, 0).unwrap();
        assert_eq!(a, b[16..]);
        // A cache cut back: position 1 again, after the original's own position 1.
        let c = attend(&mut cache, shape, &q[16..], &k[8..], &v[8..], 1).unwrap();
        assert_eq!(c, a);
        let err = attend(&mut Cache::default(), shape, &q[16..], &k[8..], &v[8..], 1).unwrap_err().to_string();
        assert!(err.contains("holds 0 positions"), "{err}");
    }
}
