//! genius's own product of a quantized weight matrix (Q8_0 or Q4_1, as the file stores it) with f32 activation
//! rows, written for the embedded model's sizes.
//!
//! candle 0.11.1 multiplies a Q8_0 matrix fast only when its inner dimension is a multiple of 256 (and then keeps a
//! second, repacked copy of it); SmolLM2's 576 and Gemma 3's 640 take its generic path, one dot product per row and
//! column, at about 20 GFLOPS on two cores whatever the batch. It multiplies Q4_1 (the default SmolLM2 file) with
//! scalar code only. Here the activations are quantized to Q8_0 once (as llama.cpp and candle do, scale in f16),
//! and a tile of 4 activation rows times 2 weight rows is computed together (the shape that fits AVX2's 16
//! registers best), so that every weight block loaded serves 4 rows and every activation block 2 columns; a single
//! row (a reply token) is multiplied with 4 weight rows at a time. The sums are 32-byte integer dot products (AVX2,
//! through `pulp`'s safe intrinsics, chosen at run time; portable code elsewhere). The weights are read in place
//! from the file's blocks (their f16 scales converted through a table, tile by tile): no copy is kept. The
//! columns are shared over candle's own thread pool, and several matrices that take the same activations (a
//! layer's query, key and value projections) are multiplied in one go ([`matmul_many`]).
//!
//! Each output is the same sum in the same order whatever rows are multiplied with it, so a row's result does not
//! depend on its batch. A Q8_0 product equals candle's to float rounding (the same quantized operands).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use candle_core::quantized::GgmlDType;
use half::f16;
use half::slice::HalfFloatSliceExt;

/// Values per block (both formats).
pub const BLOCK: usize = 32;

/// Activation rows per tile.
pub const ROWS: usize = 4;

/// Weight rows per tile: 4 rows of activations are multiplied with two of them at a time, a single row with all
/// four.
const COLUMNS: usize = 4;

/// A weight format this product reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An f16 scale `d` and 32 signed bytes `q`: `w = d · q`.
    Q8_0,
    /// An f16 scale `d`, an f16 offset `m` and 32 four-bit values `q` (the first 16 in the low halves of the 16
    /// bytes, the next 16 in the high ones): `w = d · q + m`.
    Q4_1,
}

impl Format {
    /// The format of `dtype`, if this product reads it.
    pub fn of(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::Q8_0 => Some(Self::Q8_0),
            GgmlDType::Q4_1 => Some(Self::Q4_1),
            _ => None,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q8_0 => 34,
            Self::Q4_1 => 20,
        }
    }
}

/// Activation rows quantized to Q8_0: per row, the bytes of every block; per block, the scale and the scale times
/// the sum of the bytes (what a Q4_1 block's offset multiplies; both in f16 as candle's Q8_1 keeps them).
pub struct Quantized {
    qs: Vec<i8>,
    scales: Vec<f32>,
    sums: Vec<f32>,
    blocks: usize,
}

impl Quantized {
    /// Quantizes `m` rows of `k` values (`k` a multiple of [`BLOCK`]) as llama.cpp's `quantize_row_q8_0` does: the
    /// scale is the block's largest magnitude over 127 (kept in f16), values rounded to the nearest, halves away from
    /// zero.
    pub fn new(x: &[f32], m: usize, k: usize) -> Self {
        /// Adding and subtracting 1.5 · 2²³ rounds an f32 of magnitude below 2²² to the nearest integer.
        const ROUND: f32 = 12_582_912.0;
        let blocks = k / BLOCK;
        let mut qs = vec![0i8; m * k];
        let mut scales = vec![0f32; m * blocks];
        let mut sums = vec![0f32; m * blocks];
        let blocks_of = x.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK));
        for (((values, q), s), sum) in blocks_of.zip(scales.iter_mut()).zip(sums.iter_mut()) {
            let amax = values.iter().fold(0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            for (q, v) in q.iter_mut().zip(values) {
                let y = v * inv;
                let nearest = (y + ROUND) - ROUND;
                // Halves away from zero, as `f32::round` (and candle and llama.cpp) do; a tie is common: the first
                // layer's inputs are scaled rows of a quantized table.
                *q = if (y - nearest).abs() == 0.5 { y + 0.5f32.copysign(y) } else { nearest } as i8;
            }
            // The scale is kept in f16, as in a Q8_0 block, and so is the scaled sum, as in candle's Q8_1.
            let d = f16::from_f32(d);
            *s = d.to_f32();
            *sum = (f16::from_f32(q.iter().map(|&q| i32::from(q)).sum::<i32>() as f32) * d).to_f32();
        }
        Self { qs, scales, sums, blocks }
    }
}

/// Whether this CPU runs the product with SIMD (x86-64 with AVX2 and FMA). Elsewhere the portable code is no faster
/// than candle's (which has NEON code for Q8_0), and the embedded model leaves the products to candle.
pub fn accelerated() -> bool {
    !matches!(Kernel::detect(), Kernel::Portable)
}

/// `out[r][c] = Σ_i x[r][i] · w[c][i]`: `weights` holds `n` rows of `k / 32` blocks of `format`, `x` is `m × k`;
/// the result is `m × n`, all row-major.
pub fn matmul(format: Format, weights: &[u8], n: usize, k: usize, x: &[f32], m: usize) -> Vec<f32> {
    let mut out = matmul_many(&[Matrix { format, weights, rows: n }], k, x, m);
    out.pop().expect("one product for one matrix")
}

/// A weight matrix as [`matmul`] reads it: `rows` rows of blocks of `format`.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    /// The blocks' format.
    pub format: Format,
    /// The blocks, row after row.
    pub weights: &'a [u8],
    /// Rows (outputs).
    pub rows: usize,
}

/// The products of the same activations `x` (`m × k`) with several matrices of `k` columns (a layer's query, key
/// and value projections), each as [`matmul`] gives it: the activations are quantized once, and the tiles of all
/// the matrices are shared over the threads in one go.
pub fn matmul_many(matrices: &[Matrix<'_>], k: usize, x: &[f32], m: usize) -> Vec<Vec<f32>> {
    assert!(k.is_multiple_of(BLOCK), "an inner dimension of {k} is not a multiple of {BLOCK}");
    let blocks = k / BLOCK;
    for matrix in matrices {
        let (n, format) = (matrix.rows, matrix.format);
        assert_eq!(
            matrix.weights.len(),
            n * blocks * format.block_bytes(),
            "the weights are not {n} rows of {k} in {format:?}"
        );
    }
    assert_eq!(x.len(), m * k, "the activations are not {m} rows of {k}");
    let xq = Quantized::new(x, m, k);
    let kernel = Kernel::detect();
    // The tiles of every matrix, one numbering: matrix `i`'s start at `first_tile[i]`.
    let mut first_tile = Vec::with_capacity(matrices.len() + 1);
    first_tile.push(0);
    for matrix in matrices {
        first_tile.push(first_tile.last().copied().unwrap_or(0) + matrix.rows.div_ceil(COLUMNS));
    }
    let tiles = first_tile.last().copied().unwrap_or(0);
    // Each output is stored once, by the thread that owns its column.
    let out: Vec<Vec<AtomicU32>> =
        matrices.iter().map(|matrix| (0..m * matrix.rows).map(|_| AtomicU32::new(0)).collect()).collect();
    let halves = halves();
    let work = |range: std::ops::Range<usize>| {
        let (mut scales, mut offsets) = (vec![0f32; COLUMNS * blocks], vec![0f32; COLUMNS * blocks]);
        for tile in range {
            let which = first_tile.partition_point(|&first| first <= tile) - 1;
            let Matrix { format, weights, rows: n } = matrices[which];
            let out = &out[which];
            let row_bytes = blocks * format.block_bytes();
            let c0 = (tile - first_tile[which]) * COLUMNS;
            let cols = COLUMNS.min(n - c0);
            let bytes = &weights[c0 * row_bytes..(c0 + cols) * row_bytes];
            // Every block's scale (and Q4_1 offset) in f32, row after row.
            let half = |block: &[u8], at: usize| halves[usize::from(u16::from_le_bytes([block[at], block[at + 1]]))];
            for ((s, o), block) in
                scales.iter_mut().zip(offsets.iter_mut()).zip(bytes.chunks_exact(format.block_bytes()))
            {
                *s = half(block, 0);
                if format == Format::Q4_1 {
                    *o = half(block, 2);
                }
            }
            let w = Weights { format, bytes, row_bytes, scales: &scales, offsets: &offsets };
            for r0 in (0..m).step_by(ROWS) {
                let rows = ROWS.min(m - r0);
                let mut acc = [[0f32; COLUMNS]; ROWS];
                kernel.tile(&w, cols, &xq, r0, rows, &mut acc);
                for (r, row) in acc.iter().enumerate().take(rows) {
                    for (c, v) in row.iter().enumerate().take(cols) {
                        out[(r0 + r) * n + c0 + c].store(v.to_bits(), Ordering::Relaxed);
                    }
                }
            }
        }
    };
    if tiles * m >= 8 {
        candle_core::utils::barrier_pool().execute_chunked(tiles, work);
    } else {
        work(0..tiles);
    }
    out.into_iter().map(|out| out.into_iter().map(|v| f32::from_bits(v.into_inner())).collect()).collect()
}

/// Every f16 as f32, by its bits: a tile's scales and offsets are read from it (one load each, where converting them
/// one by one would cost a dozen instructions without F16C, and gathering them for a bulk conversion a second pass).
fn halves() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let bits: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        let mut table = vec![0f32; bits.len()];
        bits.convert_to_f32_slice(&mut table);
        table
    })
}

/// The weight rows of a tile: their blocks, `row_bytes` per row.
#[derive(Clone, Copy)]
struct Weights<'a> {
    format: Format,
    bytes: &'a [u8],
    row_bytes: usize,
    /// The scales of the blocks, `blocks` per row, row after row.
    scales: &'a [f32],
    /// Q4_1: the offsets of the blocks, in the same order.
    offsets: &'a [f32],
}

impl Weights<'_> {
    /// The values of weight row `c`'s block `b` as they are stored (after the scale and offset): 32 signed bytes
    /// for Q8_0, 16 bytes of two four-bit values for Q4_1.
    #[inline(always)]
    fn stored(&self, c: usize, b: usize) -> &[u8] {
        let at = c * self.row_bytes + b * self.format.block_bytes();
        match self.format {
            Format::Q8_0 => &self.bytes[at + 2..at + 34],
            Format::Q4_1 => &self.bytes[at + 4..at + 20],
        }
    }

    /// The 32 values of weight row `c`'s block `b` as bytes (signed for Q8_0, 0 to 15 for Q4_1).
    fn values(&self, c: usize, b: usize) -> [u8; BLOCK] {
        let stored = self.stored(c, b);
        match self.format {
            Format::Q8_0 => stored.try_into().expect("a Q8_0 block holds 32 bytes"),
            Format::Q4_1 => std::array::from_fn(|i| if i < 16 { stored[i] & 0x0F } else { stored[i - 16] >> 4 }),
        }
    }
}

#[derive(Clone, Copy)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Kernel {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = pulp::x86::V3::try_new() {
            return Self::Avx2(simd);
        }
        Self::Portable
    }

    /// The sums of activation rows `r0..r0 + rows` times the tile's `cols` weight rows into `acc`.
    fn tile(
        self,
        w: &Weights<'_>,
        cols: usize,
        xq: &Quantized,
        r0: usize,
        rows: usize,
        acc: &mut [[f32; COLUMNS]; ROWS],
    ) {
        match self {
            Self::Portable => portable(w, cols, xq, r0, rows, acc),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(simd) => simd.vectorize(avx2::Tile { simd, w, cols, xq, r0, rows, acc }),
        }
    }
}

fn portable(w: &Weights<'_>, cols: usize, xq: &Quantized, r0: usize, rows: usize, acc: &mut [[f32; COLUMNS]; ROWS]) {
    let blocks = xq.blocks;
    for (r, acc) in acc.iter_mut().enumerate().take(rows) {
        let row = r0 + r;
        for (c, acc) in acc.iter_mut().enumerate().take(cols) {
            let mut sum = 0f32;
            for b in 0..blocks {
                let x = &xq.qs[(row * blocks + b) * BLOCK..(row * blocks + b + 1) * BLOCK];
                let values = w.values(c, b);
                let dot: i32 = match w.format {
                    Format::Q8_0 => values.iter().zip(x).map(|(&w, &x)| i32::from(w as i8) * i32::from(x)).sum(),
                    Format::Q4_1 => values.iter().zip(x).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum(),
                };
                sum += dot as f32 * (xq.scales[row * blocks + b] * w.scales[c * blocks + b]);
                if w.format == Format::Q4_1 {
                    sum += w.offsets[c * blocks + b] * xq.sums[row * blocks + b];
                }
            }
            *acc = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{__m128i, __m256, __m256i};

    use pulp::x86::V3;

    use super::{BLOCK, COLUMNS, Format, Quantized, ROWS, Weights};

    /// A tile of `rows × cols` outputs (at most `ROWS × COLUMNS`).
    pub struct Tile<'a> {
        pub simd: V3,
        pub w: &'a Weights<'a>,
        pub cols: usize,
        pub xq: &'a Quantized,
        pub r0: usize,
        pub rows: usize,
        pub acc: &'a mut [[f32; COLUMNS]; ROWS],
    }

    impl pulp::NullaryFnOnce for Tile<'_> {
        type Output = ();

        #[inline(always)]
        fn call(mut self) {
            // Every output is the same sum in the same order whatever the tile's shape.
            match self.w.format {
                Format::Q8_0 => self.shapes::<false>(),
                Format::Q4_1 => self.shapes::<true>(),
            }
        }
    }

    impl Tile<'_> {
        #[inline(always)]
        fn shapes<const Q4_1: bool>(&mut self) {
            if self.rows == ROWS && self.cols == COLUMNS {
                self.sums::<ROWS, 2, Q4_1>(0, 0);
                self.sums::<ROWS, 2, Q4_1>(0, 2);
            } else if self.cols == COLUMNS {
                for r in 0..self.rows {
                    self.sums::<1, COLUMNS, Q4_1>(r, 0);
                }
            } else {
                for r in 0..self.rows {
                    for c in 0..self.cols {
                        self.sums::<1, 1, Q4_1>(r, c);
                    }
                }
            }
        }

        /// The `R × C` outputs from the tile's activation row `dr` and weight row `dc` on.
        // The loops index the accumulators, the weight blocks and the activation rows alike: register tiles.
        #[allow(clippy::needless_range_loop)]
        #[inline(always)]
        fn sums<const R: usize, const C: usize, const Q4_1: bool>(&mut self, dr: usize, dc: usize) {
            let Tile { simd, w, xq, r0, .. } = *self;
            let blocks = xq.blocks;
            let (avx, avx2) = (simd.avx, simd.avx2);
            let ones = avx._mm256_set1_epi16(1);
            let mut sums = [[avx._mm256_setzero_ps(); C]; R];
            for b in 0..blocks {
                // The weight blocks: unsigned values for the multiply (Q8_0's magnitudes, Q4_1's 0 to 15), and for
                // Q8_0 the signs, moved onto the activations.
                let mut wq = [avx._mm256_setzero_si256(); C];
                let mut wu = [avx._mm256_setzero_si256(); C];
                for c in 0..C {
                    let stored = w.stored(dc + c, b);
                    if Q4_1 {
                        let packed: [u8; 16] = stored.try_into().expect("a Q4_1 block holds 16 bytes");
                        let packed = pulp::cast::<[u8; 16], __m128i>(packed);
                        let low = simd.sse2._mm_set1_epi8(0x0F);
                        let first = simd.sse2._mm_and_si128(packed, low);
                        let second = simd.sse2._mm_and_si128(simd.sse2._mm_srli_epi16::<4>(packed), low);
                        wu[c] = avx._mm256_set_m128i(second, first);
                    } else {
                        let bytes: [u8; BLOCK] = stored.try_into().expect("a Q8_0 block holds 32 bytes");
                        wq[c] = pulp::cast::<[u8; BLOCK], __m256i>(bytes);
                        wu[c] = avx2._mm256_sign_epi8(wq[c], wq[c]);
                    }
                }
                for r in 0..R {
                    let row = r0 + dr + r;
                    let at = (row * blocks + b) * BLOCK;
                    let bytes: [i8; BLOCK] = xq.qs[at..at + BLOCK].try_into().expect("a block holds 32 bytes");
                    let x = pulp::cast::<[i8; BLOCK], __m256i>(bytes);
                    let xd = xq.scales[row * blocks + b];
                    for c in 0..C {
                        let signed = if Q4_1 { x } else { avx2._mm256_sign_epi8(x, wq[c]) };
                        let pairs = avx2._mm256_maddubs_epi16(wu[c], signed);
                        let dot = avx._mm256_cvtepi32_ps(avx2._mm256_madd_epi16(pairs, ones));
                        let d = avx._mm256_set1_ps(xd * w.scales[(dc + c) * blocks + b]);
                        sums[r][c] = simd.fma._mm256_fmadd_ps(dot, d, sums[r][c]);
                    }
                }
            }
            for r in 0..R {
                for c in 0..C {
                    let row = r0 + dr + r;
                    let offsets = if Q4_1 {
                        let column = &w.offsets[(dc + c) * blocks..(dc + c + 1) * blocks];
                        dot(simd, column, &xq.sums[row * blocks..(row + 1) * blocks])
                    } else {
                        0.0
                    };
                    self.acc[dr + r][dc + c] = horizontal_sum(sums[r][c]) + offsets;
                }
            }
        }
    }

    /// `Σ a[i] · b[i]`, eight at a time.
    #[inline(always)]
    fn dot(simd: V3, a: &[f32], b: &[f32]) -> f32 {
        let (a8, a_rest) = pulp::as_arrays::<8, f32>(a);
        let (b8, b_rest) = pulp::as_arrays::<8, f32>(b);
        let mut sum = simd.avx._mm256_setzero_ps();
        for (a, b) in a8.iter().zip(b8) {
            let (a, b) = (pulp::cast::<[f32; 8], __m256>(*a), pulp::cast::<[f32; 8], __m256>(*b));
            sum = simd.fma._mm256_fmadd_ps(a, b, sum);
        }
        a_rest.iter().zip(b_rest).fold(horizontal_sum(sum), |s, (a, b)| s + a * b)
    }

    #[inline(always)]
    fn horizontal_sum(v: __m256) -> f32 {
        let l: [f32; 8] = pulp::cast(v);
        ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    use super::*;
    use crate::local::test_values as values;

    const FORMATS: [(Format, GgmlDType); 2] = [(Format::Q8_0, GgmlDType::Q8_0), (Format::Q4_1, GgmlDType::Q4_1)];

    /// `n` rows of `k` random weights in `dtype`, as candle quantizes them, with their dequantized values.
    fn weights(dtype: GgmlDType, n: usize, k: usize) -> (Vec<u8>, Vec<f32>) {
        let w = Tensor::from_vec(values(n * k, 7, 2.0), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let exact = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (q.data().unwrap().to_vec(), exact)
    }

    /// The product in f64 of the dequantized weights with the activations as quantized.
    fn reference(w: &[f32], n: usize, k: usize, x: &[f32], m: usize) -> Vec<f64> {
        let xq = Quantized::new(x, m, k);
        let x: Vec<f64> =
            xq.qs.iter().enumerate().map(|(i, &q)| f64::from(q) * f64::from(xq.scales[i / BLOCK])).collect();
        let mut out = vec![0f64; m * n];
        for r in 0..m {
            for c in 0..n {
                out[r * n + c] = (0..k).map(|i| x[r * k + i] * f64::from(w[c * k + i])).sum();
            }
        }
        out
    }

    #[test]
    fn the_product_is_the_dequantized_weights_times_the_quantized_activations() {
        // 13 columns and 7 rows: full tiles and both kinds of edge.
        let (m, n, k) = (7, 13, 96);
        for (format, dtype) in FORMATS {
            let (bytes, exact) = weights(dtype, n, k);
            let x = values(m * k, 3, 2.0);
            let expected = reference(&exact, n, k, &x, m);
            let scale = expected.iter().fold(0f64, |a, v| a.max(v.abs()));
            let xq = Quantized::new(&x, m, k);
            let kernels = [(Kernel::detect(), "detected"), (Kernel::Portable, "portable")];
            let products = kernels.map(|(kernel, name)| (with_kernel(kernel, format, &bytes, n, k, &xq, m), name));
            for (got, name) in products.into_iter().chain([(matmul(format, &bytes, n, k, &x, m), "threaded")]) {
                // Q4_1's offsets meet the activations' sums rounded to f16.
                let tolerance = if format == Format::Q8_0 { 1e-5 } else { 1e-3 } * scale;
                for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                    assert!((f64::from(*g) - e).abs() <= tolerance, "{format:?}, {name}, output {i}: {g} against {e}");
                }
            }
        }
    }

    /// A Q8_0 product is candle's to float rounding, a Q4_1 product candle's (which sums in another order).
    #[test]
    fn the_product_is_candles() {
        let (m, n, k) = (5, 12, 128);
        let x = values(m * k, 9, 2.0);
        for (format, dtype) in FORMATS {
            let (bytes, _) = weights(dtype, n, k);
            let w = QTensor::quantize(&Tensor::from_vec(values(n * k, 7, 2.0), (n, k), &Device::Cpu).unwrap(), dtype)
                .unwrap();
            let input = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu).unwrap();
            let theirs = QMatMul::from_qtensor(w)
                .unwrap()
                .forward(&input)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let ours = matmul(format, &bytes, n, k, &x, m);
            let scale = theirs.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert!((o - t).abs() <= 1e-5 * scale, "{format:?}, output {i}: {o} against candle's {t}");
            }
        }
    }

    /// The activations are quantized exactly as candle quantizes them for its own product, ties included.
    #[test]
    fn activations_are_quantized_as_candle_does() {
        let k = 128;
        let mut x = values(3 * k, 11, 2.0);
        // Two rows whose blocks' largest value is 127 times a power of two, so their others (halves) are ties.
        for (i, v) in x[..2 * k].iter_mut().enumerate() {
            let j = i % BLOCK;
            *v = if j == BLOCK - 1 { 127.0 } else { j as f32 - 15.5 } * if i < k { 1.0 } else { 0.25 };
        }
        let ours = Quantized::new(&x, 3, k);
        let theirs = QTensor::quantize(&Tensor::from_vec(x, (3, k), &Device::Cpu).unwrap(), GgmlDType::Q8_0).unwrap();
        for (b, block) in theirs.data().unwrap().chunks_exact(Format::Q8_0.block_bytes()).enumerate() {
            assert_eq!(ours.scales[b], f16::from_le_bytes([block[0], block[1]]).to_f32(), "block {b}'s scale");
            let qs: Vec<i8> = block[2..].iter().map(|&q| q as i8).collect();
            assert_eq!(ours.qs[b * BLOCK..(b + 1) * BLOCK], qs[..], "block {b}'s values");
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_whatever_batch_it_is_in() {
        let (n, k) = (10, 64);
        let x = values(9 * k, 5, 2.0);
        for (format, dtype) in FORMATS {
            let (bytes, _) = weights(dtype, n, k);
            let whole = matmul(format, &bytes, n, k, &x, 9);
            for (start, m) in [(0, 1), (0, 4), (4, 5), (3, 6), (8, 1)] {
                let part = matmul(format, &bytes, n, k, &x[start * k..(start + m) * k], m);
                assert_eq!(part, whole[start * n..(start + m) * n], "{format:?}: rows {start}..{} alone", start + m);
            }
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused_by_name() {
        let (bytes, _) = weights(GgmlDType::Q8_0, 2, 32);
        let inner = std::panic::catch_unwind(|| matmul(Format::Q8_0, &bytes, 2, 40, &[0.0; 40], 1)).unwrap_err();
        assert!(inner.downcast_ref::<String>().unwrap().contains("not a multiple of 32"));
        let rows = std::panic::catch_unwind(|| matmul(Format::Q4_1, &bytes, 2, 32, &[0.0; 32], 1)).unwrap_err();
        assert!(rows.downcast_ref::<String>().unwrap().contains("not 2 rows of 32 in Q4_1"));
    }

    /// The whole product with one kernel, one tile after another.
    fn with_kernel(
        kernel: Kernel,
        format: Format,
        bytes: &[u8],
        n: usize,
        k: usize,
        xq: &Quantized,
        m: usize,
    ) -> Vec<f32> {
        let blocks = k / BLOCK;
        let row_bytes = blocks * format.block_bytes();
        let half = |b: &[u8], at: usize| f16::from_le_bytes([b[at], b[at + 1]]).to_f32();
        let scales: Vec<f32> = bytes.chunks_exact(format.block_bytes()).map(|b| half(b, 0)).collect();
        let offsets: Vec<f32> = bytes.chunks_exact(format.block_bytes()).map(|b| half(b, 2)).collect();
        let mut out = vec![0f32; m * n];
        for c0 in (0..n).step_by(COLUMNS) {
            let cols = COLUMNS.min(n - c0);
            let w = Weights {
                format,
                bytes: &bytes[c0 * row_bytes..(c0 + cols) * row_bytes],
                row_bytes,
                scales: &scales[c0 * blocks..(c0 + cols) * blocks],
                offsets: &offsets[c0 * blocks..(c0 + cols) * blocks],
            };
            for r0 in (0..m).step_by(ROWS) {
                let rows = ROWS.min(m - r0);
                let mut acc = [[0f32; COLUMNS]; ROWS];
                kernel.tile(&w, cols, xq, r0, rows, &mut acc);
                for r in 0..rows {
                    for c in 0..cols {
                        out[(r0 + r) * n + c0 + c] = acc[r][c];
                    }
                }
            }
        }
        out
    }
}
