//! TabularARGN's network: an embedding per token column, and one head per token column that
//! reads the concatenated embeddings of the columns before it in the current order (a 0/1
//! mask on the first layer's weights, as in MADE), through one hidden ReLU layer, to its
//! logits. Every head's hidden units sit side by side in one masked linear layer and every
//! head's logits in one block-diagonal one, so a training pass is two matrix products for all
//! heads at once, whatever the order.

use super::tokens::TokenColumn;
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;
use synth_nn::{ValueCount, Weights, matrix};

/// Embedding width of a token column of `vocab` values: about 3 * V^0.25.
fn embedding_width(vocab: usize, scale: f64) -> usize {
    ((3.0 * (vocab as f64).powf(0.25) * scale).round() as usize).max(2)
}

/// Hidden width of a head over `vocab` values: about 16 * ln V (at least 16 * scale).
fn hidden_width(vocab: usize, scale: f64) -> usize {
    ((16.0 * (vocab as f64).ln().max(1.0) * scale).round() as usize).max(4)
}

/// Where each token column's embedding, hidden units and logits lie in the network's
/// concatenated layers: `(offset, width)` per token column.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The token columns, in table order.
    pub columns: Vec<TokenColumn>,
    /// Each column's slice of the concatenated embeddings.
    pub embedding: Vec<(usize, usize)>,
    /// Each head's slice of the hidden layer.
    pub hidden: Vec<(usize, usize)>,
    /// Each head's slice of the logits.
    pub logits: Vec<(usize, usize)>,
}

/// Consecutive `(offset, width)` slices of the given widths.
fn slices(widths: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
    widths
        .scan(0, |offset, w| {
            let start = *offset;
            *offset += w;
            Some((start, w))
        })
        .collect()
}

fn total(slices: &[(usize, usize)]) -> usize {
    slices.last().map_or(0, |(o, w)| o + w)
}

impl Layout {
    /// The layout of `columns` with every width scaled by `scale`.
    pub fn new(columns: Vec<TokenColumn>, scale: f64) -> Self {
        Layout {
            embedding: slices(columns.iter().map(|c| embedding_width(c.vocab, scale))),
            hidden: slices(columns.iter().map(|c| hidden_width(c.vocab, scale))),
            logits: slices(columns.iter().map(|c| c.vocab)),
            columns,
        }
    }

    /// The first token column of modelled column `column` and how many it has (1, or 2
    /// with a sub-bin).
    pub fn tokens_of(&self, column: usize) -> (usize, usize) {
        let first = self
            .columns
            .iter()
            .position(|c| c.column == column)
            .expect("every modelled column has a token");
        let parts = self.columns[first..]
            .iter()
            .take_while(|c| c.column == column)
            .count();
        (first, parts)
    }

    /// Width of the concatenated embeddings.
    pub fn embedding_width(&self) -> usize {
        total(&self.embedding)
    }

    /// Width of the hidden layer (every head's units).
    pub fn hidden_width(&self) -> usize {
        total(&self.hidden)
    }

    /// Width of the logits (every head's).
    pub fn logit_width(&self) -> usize {
        total(&self.logits)
    }

    /// Each slice's owner, entry by entry.
    fn owners(slices: &[(usize, usize)]) -> Vec<usize> {
        slices
            .iter()
            .enumerate()
            .flat_map(|(t, &(_, w))| std::iter::repeat_n(t, w))
            .collect()
    }

    /// The first layer's mask for the order in which token column `t` comes at `rank[t]`:
    /// entry (e, h) is 1 when the column embedding dimension e belongs to comes before the
    /// head hidden unit h belongs to.
    pub fn input_mask(&self, rank: &[f32], device: &Device) -> Tensor<2> {
        let (e, h) = (self.embedding_width(), self.hidden_width());
        let of = |slices: &[(usize, usize)]| -> Vec<f32> {
            Self::owners(slices).into_iter().map(|t| rank[t]).collect()
        };
        let before = matrix(of(&self.embedding), e, 1, device).expand([e, h]);
        let head = matrix(of(&self.hidden), 1, h, device).expand([e, h]);
        before.lower(head).float()
    }

    /// The embedding dimensions head `t` reads under `rank` (1) or not (0): its row of
    /// [`Layout::input_mask`], on the host.
    pub fn head_mask(&self, rank: &[f32], t: usize) -> Vec<f32> {
        Self::owners(&self.embedding)
            .into_iter()
            .map(|owner| f32::from(u8::from(rank[owner] < rank[t])))
            .collect()
    }

    /// The block-diagonal mask of the output layer: head t's hidden units feed only its
    /// logits.
    pub fn output_mask(&self, device: &Device) -> Tensor<2> {
        let (h, v) = (self.hidden_width(), self.logit_width());
        let mut mask = vec![0.0f32; h * v];
        for (&(ho, hw), &(lo, lw)) in self.hidden.iter().zip(&self.logits) {
            for row in ho..ho + hw {
                mask[row * v + lo..row * v + lo + lw].fill(1.0);
            }
        }
        matrix(mask, h, v, device)
    }
}

/// The network's parameters.
#[derive(Module, Debug)]
pub struct ArgnNet {
    /// Per token column, its `[vocab, width]` embedding table.
    embeddings: Vec<Param<Tensor<2>>>,
    /// Every head's hidden units (masked by the order).
    hidden: Linear,
    /// Every head's logits (block-diagonal).
    output: Linear,
}

impl ArgnNet {
    /// A network of `layout` with embeddings drawn from N(0, 1) and PyTorch's linear
    /// initialisation; the output biases start at `log_frequencies` when given.
    pub fn new(
        layout: &Layout,
        log_frequencies: Option<&[f32]>,
        weights: &mut impl Weights,
    ) -> Self {
        let embeddings = layout
            .columns
            .iter()
            .zip(&layout.embedding)
            .map(|(c, &(_, w))| weights.normal([c.vocab, w], 0.0, 1.0))
            .collect();
        let hidden = weights.linear(layout.embedding_width(), layout.hidden_width());
        let mut output = weights.linear(layout.hidden_width(), layout.logit_width());
        if let Some(log_frequencies) = log_frequencies {
            let bias = Tensor::from_floats(log_frequencies, weights.device());
            output.bias = Some(Param::from_tensor(bias));
        }
        ArgnNet {
            embeddings,
            hidden,
            output,
        }
    }

    /// The number of values [`ArgnNet::new`] stores for `layout`, without building it.
    pub fn values(layout: &Layout) -> ValueCount {
        let embeddings = layout
            .columns
            .iter()
            .zip(&layout.embedding)
            .fold(ValueCount::ZERO, |count, (c, &(_, w))| {
                count.matrix(c.vocab, w)
            });
        embeddings
            .linear(layout.embedding_width(), layout.hidden_width())
            .linear(layout.hidden_width(), layout.logit_width())
    }

    /// The concatenated embeddings `[rows, E]` of `[rows, token columns]` tokens.
    pub fn embed(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [rows, _] = tokens.dims();
        let parts = self
            .embeddings
            .iter()
            .enumerate()
            .map(|(t, table)| {
                let column = tokens.clone().narrow(1, t, 1).reshape([rows]);
                table.val().select(0, column)
            })
            .collect();
        Tensor::cat(parts, 1)
    }

    /// Every head's logits `[rows, V]` from embeddings `x`, with the first layer masked by
    /// `input_mask` (from [`Layout::input_mask`]) and the second by `output_mask`.
    pub fn logits(&self, x: Tensor<2>, input_mask: Tensor<2>, output_mask: Tensor<2>) -> Tensor<2> {
        let hidden = relu(masked(&self.hidden, x, input_mask));
        masked(&self.output, hidden, output_mask)
    }

    /// Head `t`'s logits `[rows, vocab]` alone (sampling): `x` masked by `head_mask` (from
    /// [`Layout::head_mask`]) through the head's own slices of both layers.
    pub fn head_logits(
        &self,
        x: Tensor<2>,
        head_mask: &[f32],
        layout: &Layout,
        t: usize,
    ) -> Tensor<2> {
        let device = x.device();
        let e = layout.embedding_width();
        let x = x * matrix(head_mask.to_vec(), 1, e, &device);
        let (ho, hw) = layout.hidden[t];
        let (lo, lw) = layout.logits[t];
        let first = narrowed(&self.hidden, (0, e), (ho, hw));
        let second = narrowed(&self.output, (ho, hw), (lo, lw));
        second.forward(relu(first.forward(x)))
    }
}

/// `x (W * mask) + b`.
fn masked(layer: &Linear, x: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
    let out = x.matmul(layer.weight.val() * mask);
    match &layer.bias {
        Some(bias) => out + bias.val().unsqueeze_dim(0),
        None => out,
    }
}

/// The linear layer of `layer`'s inputs `rows` and outputs `cols` (`(offset, width)` each).
fn narrowed(layer: &Linear, rows: (usize, usize), cols: (usize, usize)) -> Linear {
    Linear {
        weight: Param::from_tensor(
            layer
                .weight
                .val()
                .narrow(0, rows.0, rows.1)
                .narrow(1, cols.0, cols.1),
        ),
        bias: layer
            .bias
            .as_ref()
            .map(|b| Param::from_tensor(b.val().narrow(0, cols.0, cols.1))),
    }
}
