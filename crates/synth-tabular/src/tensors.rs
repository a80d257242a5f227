//! Tensor helpers of the tabular models: the generator's output activations and the one-hot
//! block that runs every one-hot span's softmax or cross-entropy as a few whole-batch ops;
//! the seeded noise source and conversions come from `synth-nn`.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use synth_core::{Activation, Span};
pub use synth_nn::{Noise, indices, matrix, to_host};

/// The logit put in the padding of a [`OneHotBlock`]: its softmax weight is exactly zero, and
/// (unlike minus infinity) times a zero target it is zero.
const PAD_LOGIT: f32 = -1e9;

/// Each span with the encoded column it starts at.
fn with_offsets(spans: &[Span]) -> impl Iterator<Item = (usize, &Span)> {
    spans.iter().scan(0, |offset, span| {
        let start = *offset;
        *offset += span.width;
        Some((start, span))
    })
}

/// `(offset, width)` of every one-hot span among `spans`, in order.
pub fn one_hot_spans(spans: &[Span]) -> Vec<(usize, usize)> {
    with_offsets(spans)
        .filter(|(_, span)| span.activation == Activation::Softmax)
        .map(|(offset, span)| (offset, span.width))
        .collect()
}

/// The encoded column of every scalar span among `spans`, in order.
pub fn scalar_columns(spans: &[Span]) -> Vec<u32> {
    with_offsets(spans)
        .filter(|(_, span)| span.activation == Activation::Tanh)
        .map(|(offset, _)| offset as u32)
        .collect()
}

/// Some one-hot spans of a `[rows, width]` matrix gathered into padded
/// `[rows, spans, widest]` blocks, so that a softmax or cross-entropy per span is one op over
/// the last dimension instead of a few ops per span. Spans are grouped by width (rounded up to
/// a power of two) so that little is padding.
#[derive(Debug, Clone)]
pub struct OneHotBlock {
    groups: Vec<Group>,
    /// Each span's `(group, index within the group)`, in span order.
    places: Vec<(usize, usize)>,
}

/// Spans of similar width, padded to the widest.
#[derive(Debug, Clone)]
struct Group {
    /// For each padded position, the matrix column it reads (`width`: the padding column).
    gather: Tensor<1, Int>,
    spans: usize,
    widest: usize,
    /// Offset of the group in the flattened block.
    offset: usize,
}

impl OneHotBlock {
    /// The block of the `(offset, width)` spans of matrices `width` columns wide; `None` when
    /// there are no spans.
    pub fn new(spans: &[(usize, usize)], width: usize, device: &Device) -> Option<Self> {
        if spans.is_empty() {
            return None;
        }
        let mut keys: Vec<usize> = spans.iter().map(|&(_, w)| w.next_power_of_two()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut places = vec![(0, 0); spans.len()];
        let mut groups = Vec::with_capacity(keys.len());
        let mut offset = 0;
        for (g, key) in keys.into_iter().enumerate() {
            let members: Vec<usize> = (0..spans.len())
                .filter(|&s| spans[s].1.next_power_of_two() == key)
                .collect();
            let widest = members.iter().map(|&s| spans[s].1).max().unwrap_or(1);
            let mut gather = Vec::with_capacity(members.len() * widest);
            for (i, &s) in members.iter().enumerate() {
                places[s] = (g, i);
                let (start, w) = spans[s];
                gather.extend((0..widest).map(|j| if j < w { start + j } else { width } as u32));
            }
            groups.push(Group {
                gather: indices(&gather, device),
                spans: members.len(),
                widest,
                offset,
            });
            offset += members.len() * widest;
        }
        Some(OneHotBlock { groups, places })
    }

    /// Position of a span's category in the flattened block (the concatenation of the
    /// groups' `[rows, spans * widest]`).
    pub fn position(&self, span: usize, category: usize) -> usize {
        let (g, i) = self.places[span];
        let group = &self.groups[g];
        group.offset + i * group.widest + category
    }

    /// `f` applied to each group's `[rows, spans, widest]` block of `x` (padded with `fill`),
    /// flattened and concatenated: `[rows, positions]`.
    fn per_group(
        &self,
        x: Tensor<2>,
        fill: f32,
        mut f: impl FnMut(Tensor<3>) -> Tensor<3>,
    ) -> Tensor<2> {
        let [rows, _] = x.dims();
        let padding = Tensor::full([rows, 1], fill, &x.device());
        let extended = Tensor::cat(vec![x, padding], 1);
        let parts = self
            .groups
            .iter()
            .map(|g| {
                let block = extended
                    .clone()
                    .select(1, g.gather.clone())
                    .reshape([rows, g.spans, g.widest]);
                f(block).reshape([rows, g.spans * g.widest])
            })
            .collect();
        Tensor::cat(parts, 1)
    }

    /// Per-span log-probabilities of logits, flattened as in [`OneHotBlock::position`]
    /// (padding at about -1e9).
    pub fn log_softmax(&self, logits: Tensor<2>) -> Tensor<2> {
        self.per_group(logits, PAD_LOGIT, |block| log_softmax(block, 2))
    }

    /// `-sum over rows and spans of target * log_softmax(logits)`, where `target` holds
    /// one-hot (or all-zero) rows in the same spans.
    pub fn cross_entropy(&self, logits: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        self.cross_entropy_rows(logits, target).sum()
    }

    /// [`OneHotBlock::cross_entropy`] of each row: `[rows, 1]`.
    pub fn cross_entropy_rows(&self, logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
        let target = self.per_group(target, 0.0, |block| block);
        (self.log_softmax(logits) * target).sum_dim(1).neg()
    }

    /// Gumbel-softmax with temperature `tau` per span: `softmax((logits + g) / tau)`,
    /// `g ~ Gumbel(0, 1)`; flattened as in [`OneHotBlock::position`], padding at zero.
    pub fn gumbel_softmax(&self, logits: Tensor<2>, tau: f64, noise: &mut Noise) -> Tensor<2> {
        let [rows, width] = logits.dims();
        let u = noise.uniform(rows, width, 1e-10, 1.0);
        let gumbel = u.log().neg().log().neg();
        self.per_group(logits + gumbel, PAD_LOGIT, |block| {
            softmax(block.div_scalar(tau), 2)
        })
    }
}

/// The generator's output activations: tanh on scalar spans, gumbel-softmax on one-hot spans.
#[derive(Debug, Clone)]
pub struct OutputActivation {
    /// The scalar columns (`None` without any).
    scalars: Option<Tensor<1, Int>>,
    /// The one-hot spans (`None` without any).
    one_hot: Option<OneHotBlock>,
    /// For each output column, its position in `[tanh of the scalars, gumbel-softmax block]`.
    placement: Tensor<1, Int>,
}

impl OutputActivation {
    /// The activations of `spans`, with index tensors on `device`.
    pub fn new(spans: &[Span], device: &Device) -> Self {
        let width: usize = spans.iter().map(|s| s.width).sum();
        let one_hot = OneHotBlock::new(&one_hot_spans(spans), width, device);
        let scalars = scalar_columns(spans);
        let mut placement = Vec::with_capacity(width);
        let (mut scalar, mut span) = (0, 0);
        for s in spans {
            match s.activation {
                Activation::Tanh => {
                    placement.push(scalar);
                    scalar += 1;
                }
                Activation::Softmax => {
                    let block = one_hot.as_ref().expect("a one-hot span makes a block");
                    placement.extend(
                        (0..s.width).map(|j| (scalars.len() + block.position(span, j)) as u32),
                    );
                    span += 1;
                }
            }
        }
        OutputActivation {
            scalars: (!scalars.is_empty()).then(|| indices(&scalars, device)),
            one_hot,
            placement: indices(&placement, device),
        }
    }

    /// Activated rows of raw generator output.
    pub fn apply(&self, raw: Tensor<2>, tau: f64, noise: &mut Noise) -> Tensor<2> {
        let mut parts = Vec::with_capacity(2);
        if let Some(scalars) = &self.scalars {
            parts.push(raw.clone().select(1, scalars.clone()).tanh());
        }
        if let Some(block) = &self.one_hot {
            parts.push(block.gumbel_softmax(raw, tau, noise));
        }
        Tensor::cat(parts, 1).select(1, self.placement.clone())
    }
}

/// Rows activated together on one thread by [`activate_for_sampling`] (each block draws from
/// its own seeded stream, so the output does not depend on the number of threads).
const ROWS_PER_DRAW: usize = 1024;

/// Activates raw generator output for sampling, in place and in parallel: tanh on scalar
/// spans, and on each one-hot span a category drawn from `softmax(logits)`, written as a
/// one-hot. Sampling only keeps each span's argmax, and the argmax of a Gumbel-softmax
/// `softmax((logits + g) / tau)` is a draw from `softmax(logits)` whatever `tau` (the
/// Gumbel-max trick), so this samples exactly what [`OutputActivation::apply`] samples, with
/// one uniform per span instead of two logarithms per value and no softmax.
pub fn activate_for_sampling(spans: &[Span], raw: &mut [f32], seed: u64) {
    use rand::RngExt;
    use rayon::prelude::*;
    let width: usize = spans.iter().map(|s| s.width).sum();
    let placed: Vec<(usize, &Span)> = with_offsets(spans).collect();
    raw.par_chunks_mut(ROWS_PER_DRAW * width.max(1))
        .enumerate()
        .for_each(|(block, rows)| {
            let mut rng = synth_core::seed::seeded_rng(synth_core::seed::derive_seed(
                seed,
                "sample.activation",
                block as u64,
            ));
            for row in rows.chunks_exact_mut(width.max(1)) {
                for &(offset, span) in &placed {
                    let values = &mut row[offset..offset + span.width];
                    match span.activation {
                        Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
                        Activation::Softmax => {
                            let top = values.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                            values.iter_mut().for_each(|v| *v = (*v - top).exp());
                            let total: f32 = values.iter().sum();
                            let mut u = rng.random::<f32>() * total;
                            let mut pick = span.width - 1;
                            for (i, &w) in values.iter().enumerate() {
                                u -= w;
                                if u < 0.0 {
                                    pick = i;
                                    break;
                                }
                            }
                            values.fill(0.0);
                            values[pick] = 1.0;
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scalar, one-hot of 3, scalar, one-hot of 2: one-hot spans of different widths between
    /// scalars, so that padding and placement are both exercised.
    fn spans() -> Vec<Span> {
        vec![
            Span::scalar(),
            Span::one_hot(3),
            Span::scalar(),
            Span::one_hot(2),
        ]
    }

    #[test]
    fn gumbel_softmax_samples_each_spans_softmax_distribution() {
        let device = crate::cpu_device();
        let mut noise = Noise::new(1, &device);
        let raw = [0.3f32, 2.0, 0.0, -1.0, -0.7, 0.5, -0.5];
        let n = 20_000;
        let x = matrix(raw.repeat(n), n, 7, &device);
        let y = to_host(OutputActivation::new(&spans(), &device).apply(x, 0.2, &mut noise));
        let (mut first, mut second) = ([0.0f64; 3], [0.0f64; 2]);
        let mut sharp = 0;
        for row in y.chunks_exact(7) {
            assert!((row[0] - 0.3f32.tanh()).abs() < 1e-6);
            assert!((row[4] - (-0.7f32).tanh()).abs() < 1e-6);
            for span in [&row[1..4], &row[5..7]] {
                assert!((span.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{row:?}");
            }
            first[crate::transform::argmax(&row[1..4])] += 1.0 / n as f64;
            second[crate::transform::argmax(&row[5..7])] += 1.0 / n as f64;
            sharp += usize::from(row[1..4].iter().any(|p| *p > 0.9));
        }
        for (counts, logits) in [(&first[..], &raw[1..4]), (&second[..], &raw[5..7])] {
            let z: f64 = logits.iter().map(|l| f64::from(*l).exp()).sum();
            for (c, l) in counts.iter().zip(logits) {
                assert!((c - f64::from(*l).exp() / z).abs() < 0.015, "{counts:?}");
            }
        }
        // low temperature: nearly one-hot rows
        assert!(sharp as f64 > 0.8 * n as f64, "{sharp}");
    }

    #[test]
    fn sampling_activation_draws_each_spans_softmax_category() {
        let raw = [0.3f32, 2.0, 0.0, -1.0, -0.7, 0.5, -0.5];
        let n = 20_000;
        let mut y = raw.repeat(n);
        activate_for_sampling(&spans(), &mut y, 3);
        let (mut first, mut second) = ([0.0f64; 3], [0.0f64; 2]);
        for row in y.chunks_exact(7) {
            assert!((row[0] - 0.3f32.tanh()).abs() < 1e-6);
            assert!((row[4] - (-0.7f32).tanh()).abs() < 1e-6);
            for span in [&row[1..4], &row[5..7]] {
                assert_eq!(span.iter().filter(|&&v| v == 1.0).count(), 1, "{row:?}");
                assert_eq!(span.iter().filter(|&&v| v == 0.0).count(), span.len() - 1);
            }
            first[crate::transform::argmax(&row[1..4])] += 1.0 / n as f64;
            second[crate::transform::argmax(&row[5..7])] += 1.0 / n as f64;
        }
        for (counts, logits) in [(&first[..], &raw[1..4]), (&second[..], &raw[5..7])] {
            let z: f64 = logits.iter().map(|l| f64::from(*l).exp()).sum();
            for (c, l) in counts.iter().zip(logits) {
                assert!((c - f64::from(*l).exp() / z).abs() < 0.015, "{counts:?}");
            }
        }
        // the same seed draws the same categories, a different seed others
        let mut again = raw.repeat(n);
        activate_for_sampling(&spans(), &mut again, 3);
        assert_eq!(again, y);
        let mut other = raw.repeat(n);
        activate_for_sampling(&spans(), &mut other, 4);
        assert_ne!(other, y);
    }

    #[test]
    fn block_cross_entropy_matches_a_per_span_sum() {
        let device = crate::cpu_device();
        let logits = [0.3f32, 2.0, 0.0, -1.0, -0.7, 0.5, -0.5];
        let logits2 = [-0.1f32, 0.4, 1.5, 0.2, 0.9, -2.0, 1.0];
        // second row: an unseen category (all-zero span) contributes nothing
        let target = [0.2f32, 0.0, 0.0, 1.0, 0.1, 0.0, 0.0];
        let target2 = [0.0f32, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0];
        let block = OneHotBlock::new(&one_hot_spans(&spans()), 7, &device).unwrap();
        let loss = block.cross_entropy(
            matrix([logits, logits2].concat(), 2, 7, &device),
            matrix([target, target2].concat(), 2, 7, &device),
        );
        let loss = f64::from(loss.into_scalar::<f32>());
        let by_hand = |l: &[f32], t: &[f32]| -> f64 {
            let lse = l.iter().map(|v| f64::from(*v).exp()).sum::<f64>().ln();
            l.iter()
                .zip(t)
                .map(|(v, t)| -f64::from(*t) * (f64::from(*v) - lse))
                .sum()
        };
        let expected = by_hand(&logits[1..4], &target[1..4])
            + by_hand(&logits[5..7], &target[5..7])
            + by_hand(&logits2[1..4], &target2[1..4])
            + by_hand(&logits2[5..7], &target2[5..7]);
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
        // the flattened log-probabilities sit at each span's positions
        let log_probs = to_host(block.log_softmax(matrix(logits.to_vec(), 1, 7, &device)));
        for (span, columns) in [(0, 1..4), (1, 5..7)] {
            let l = &logits[columns];
            let lse = l.iter().map(|v| v.exp()).sum::<f32>().ln();
            for (k, v) in l.iter().enumerate() {
                assert!((log_probs[block.position(span, k)] - (v - lse)).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn no_one_hot_spans_means_tanh_only() {
        let device = crate::cpu_device();
        assert!(OneHotBlock::new(&[], 2, &device).is_none());
        let activation = OutputActivation::new(&[Span::scalar(), Span::scalar()], &device);
        let y = activation.apply(
            matrix(vec![0.5, -2.0], 1, 2, &device),
            0.2,
            &mut Noise::new(0, &device),
        );
        assert_eq!(to_host(y), vec![0.5f32.tanh(), (-2.0f32).tanh()]);
    }
}
