//! CTGAN's networks: the residual generator and the pac critic with its explicit input
//! gradient (burn has no double backward, so the gradient penalty differentiates this
//! hand-written gradient with respect to the weights).

use crate::tensors::{Noise, indices, matrix};
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use synth_nn::{ValueCount, Weights};

/// Slope of the critic's LeakyReLU.
const LEAKY_SLOPE: f64 = 0.2;

/// `h = concat(ReLU(BatchNorm(Linear(x))), x)`.
#[derive(Module, Debug)]
pub struct Residual {
    fc: Linear,
    bn: BatchNorm,
}

impl Residual {
    fn new(input: usize, output: usize, weights: &mut impl Weights) -> Self {
        Residual {
            fc: weights.linear(input, output),
            bn: BatchNormConfig::new(output).init(weights.device()),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.bn.forward(self.fc.forward(x.clone())));
        Tensor::cat(vec![h, x], 1)
    }
}

/// Residual blocks, each widening the input by its size, then a linear layer to the data width.
/// Outputs raw values; activations per span are applied by the caller.
#[derive(Module, Debug)]
pub struct Generator {
    blocks: Vec<Residual>,
    out: Linear,
}

impl Generator {
    /// A generator from `input` (noise + condition) to `output` (encoded data) columns,
    /// with weights from `weights`.
    pub fn new(input: usize, hidden: &[usize], output: usize, weights: &mut impl Weights) -> Self {
        let mut width = input;
        let mut blocks = Vec::with_capacity(hidden.len());
        for &h in hidden {
            blocks.push(Residual::new(width, h, weights));
            width += h;
        }
        Generator {
            blocks,
            out: weights.linear(width, output),
        }
    }

    /// The number of values [`Generator::new`] stores for these sizes, computed without
    /// building it (checked against a weight file before loading).
    pub fn values(input: usize, hidden: &[usize], output: usize) -> ValueCount {
        let mut width = input;
        let mut count = ValueCount::ZERO;
        for &h in hidden {
            count = count.linear(width, h).batch_norm(h);
            width = width.saturating_add(h);
        }
        count.linear(width, output)
    }

    /// Raw generator output for the input rows.
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let h = self.blocks.iter().fold(input, |h, b| b.forward(h));
        self.out.forward(h)
    }
}

impl Generator {
    /// The generator rearranged for sampling, for inputs made of `latent` noise columns
    /// followed by the condition vector (see [`SamplingGenerator`]).
    pub fn for_sampling(&self, latent: usize) -> SamplingGenerator {
        let folded: Vec<(Tensor<2>, Tensor<1>)> = self
            .blocks
            .iter()
            .map(|block| {
                // batch norm with running statistics is the affine map x * scale + shift
                let bn = &block.bn;
                let scale = bn.gamma.val() / bn.running_var.value().add_scalar(bn.epsilon).sqrt();
                let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
                let (weight, bias) = weight_and_bias(&block.fc);
                (
                    weight * scale.clone().unsqueeze_dim(0),
                    bias * scale + shift,
                )
            })
            .chain(std::iter::once(weight_and_bias(&self.out)))
            .collect();
        let outputs: Vec<usize> = folded.iter().map(|(w, _)| w.dims()[1]).collect();
        let mut from_blocks = Vec::with_capacity(folded.len());
        let (mut from_latent, mut from_condition) = (Vec::new(), Vec::new());
        for (layer, (weight, _)) in folded.iter().enumerate() {
            // the layer's input is [h_{layer-1}, ..., h_1, latent, condition]
            let [input, output] = weight.dims();
            let part = |start: usize, width: usize| {
                weight.clone().slice([start..start + width, 0..output])
            };
            let mut start = 0;
            let mut earlier: Vec<Tensor<2>> = outputs[..layer]
                .iter()
                .rev()
                .map(|&width| {
                    start += width;
                    part(start - width, width)
                })
                .collect();
            earlier.reverse();
            from_blocks.push(earlier);
            from_latent.push(part(start, latent));
            if input > start + latent {
                from_condition.push(part(start + latent, input - start - latent));
            }
        }
        // block j's output feeds every later layer: their weights for it, side by side
        let to_later = (0..outputs.len() - 1)
            .map(|j| {
                Tensor::cat(
                    from_blocks[j + 1..].iter().map(|w| w[j].clone()).collect(),
                    1,
                )
            })
            .collect();
        SamplingGenerator {
            to_later,
            from_latent: Tensor::cat(from_latent, 1),
            from_condition: (!from_condition.is_empty()).then(|| Tensor::cat(from_condition, 1)),
            bias: Tensor::cat(folded.into_iter().map(|(_, b)| b).collect(), 0),
            outputs,
        }
    }
}

/// A linear layer's weight and bias (zeros when it has none).
fn weight_and_bias(linear: &Linear) -> (Tensor<2>, Tensor<1>) {
    let weight = linear.weight.val();
    let bias = linear.bias.as_ref().map_or_else(
        || Tensor::zeros([weight.dims()[1]], &weight.device()),
        |b| b.val(),
    );
    (weight, bias)
}

/// The condition vectors of a sampling batch.
pub enum SamplingCondition {
    /// No condition vector (a table without discrete columns).
    None,
    /// One category per row: the index of its 1 in the condition vector.
    OneHot(Vec<u32>),
    /// The same condition vector for every row (a user's condition).
    Same(Vec<f32>),
}

/// The generator rearranged for sampling, with [`Generator::forward`]'s output (in evaluation
/// mode, up to rounding) for less work:
/// - batch norm with its running statistics is folded into the linear layer before it;
/// - the residual concatenations are never built: each layer's weight is split by the parts
///   of its input (each earlier block's output, the latent noise, the condition vector), and
///   the parts are multiplied one by one and summed;
/// - a condition vector with one 1 (how rows are drawn without a user's condition) times a
///   weight is a row lookup, and one vector shared by all rows is multiplied once. With
///   CTGAN's shapes (a 128-wide latent, a condition vector as wide as the discrete columns'
///   categories) this removes a third or more of the multiplications.
#[derive(Debug, Clone)]
pub struct SamplingGenerator {
    /// Per block: its output's weight in every later layer, side by side.
    to_later: Vec<Tensor<2>>,
    /// The latent part of every layer's weight, side by side.
    from_latent: Tensor<2>,
    /// The condition part of every layer's weight, side by side (`None` without a condition).
    from_condition: Option<Tensor<2>>,
    /// Every layer's bias, side by side.
    bias: Tensor<1>,
    /// Every layer's output width.
    outputs: Vec<usize>,
}

impl SamplingGenerator {
    /// Raw generator output for `latent` rows and their condition vectors.
    pub fn forward(&self, latent: Tensor<2>, condition: &SamplingCondition) -> Tensor<2> {
        let device = latent.device();
        let [rows, _] = latent.dims();
        let shared = latent.matmul(self.from_latent.clone()) + self.bias.clone().unsqueeze_dim(0);
        let shared = match (condition, &self.from_condition) {
            (SamplingCondition::OneHot(ones), Some(weight)) => {
                shared + weight.clone().select(0, indices(ones, &device))
            }
            (SamplingCondition::Same(vector), Some(weight)) => {
                let vector = matrix(vector.clone(), 1, vector.len(), &device);
                shared + vector.matmul(weight.clone())
            }
            _ => shared,
        };
        // `rest` holds the pre-activations of the layers not yet computed; each block takes
        // its columns and adds its output's contribution to all later layers at once
        let mut rest = shared;
        for (to_later, &width) in self.to_later.iter().zip(&self.outputs) {
            let total = rest.dims()[1];
            let h = relu(rest.clone().slice([0..rows, 0..width]));
            rest = rest.slice([0..rows, width..total]) + h.matmul(to_later.clone());
        }
        rest
    }
}

/// The critic: rows grouped `pac` at a time, hidden layers Linear -> LeakyReLU(0.2) ->
/// Dropout(p), then Linear to one score. Dropout masks are drawn explicitly so that the input
/// gradient can reuse them.
#[derive(Module, Debug)]
pub struct Critic {
    hidden: Vec<Linear>,
    out: Linear,
    pac: usize,
    dropout: f64,
}

/// The dropout masks of one critic pass, already divided by the keep probability.
pub struct Masks(Vec<Tensor<2>>);

impl Critic {
    /// A critic over rows of `input` columns (data + condition), with weights from
    /// `weights`.
    pub fn new(
        input: usize,
        hidden: &[usize],
        pac: usize,
        dropout: f64,
        weights: &mut impl Weights,
    ) -> Self {
        let mut width = input * pac;
        let mut layers = Vec::with_capacity(hidden.len());
        for &h in hidden {
            layers.push(weights.linear(width, h));
            width = h;
        }
        Critic {
            hidden: layers,
            out: weights.linear(width, 1),
            pac,
            dropout,
        }
    }

    /// Groups `pac` consecutive rows into one: `[n, d] -> [n / pac, pac * d]`.
    pub fn pack(&self, x: Tensor<2>) -> Tensor<2> {
        let [n, d] = x.dims();
        x.reshape([n / self.pac, self.pac * d])
    }

    /// Fresh dropout masks for `groups` packed rows.
    pub fn draw_masks(&self, groups: usize, noise: &mut Noise) -> Masks {
        let keep = 1.0 - self.dropout;
        Masks(
            self.hidden
                .iter()
                .map(|l| noise.dropout_mask(groups, l.weight.dims()[1], keep))
                .collect(),
        )
    }

    /// Scores of packed rows with the given masks; also returns each hidden pre-activation.
    pub fn forward_masked(&self, packed: Tensor<2>, masks: &Masks) -> (Tensor<2>, Vec<Tensor<2>>) {
        let mut h = packed;
        let mut pre = Vec::with_capacity(self.hidden.len());
        for (layer, mask) in self.hidden.iter().zip(&masks.0) {
            let z = layer.forward(h);
            h = leaky_relu(z.clone(), LEAKY_SLOPE) * mask.clone();
            pre.push(z);
        }
        (self.out.forward(h), pre)
    }

    /// Scores `[n / pac, 1]` of `[n, d]` rows, with fresh dropout masks.
    pub fn forward(&self, rows: Tensor<2>, noise: &mut Noise) -> Tensor<2> {
        let packed = self.pack(rows);
        let masks = self.draw_masks(packed.dims()[0], noise);
        self.forward_masked(packed, &masks).0
    }

    /// The gradient of the score with respect to the packed input, written with tensor ops:
    /// from the top, `g = (g * leaky'(z_i) * mask_i) @ W_i^T`, starting from the output
    /// weights. Differentiable with respect to the weights.
    pub fn input_gradient(&self, pre: &[Tensor<2>], masks: &Masks) -> Tensor<2> {
        let groups = pre.first().map_or(1, |z| z.dims()[0]);
        let device = self.out.weight.val().device();
        let mut g =
            Tensor::<2>::ones([groups, 1], &device).matmul(self.out.weight.val().transpose());
        for ((layer, z), mask) in self.hidden.iter().zip(pre).zip(&masks.0).rev() {
            let slope = z
                .clone()
                .detach()
                .greater_elem(0.0)
                .float()
                .mul_scalar(1.0 - LEAKY_SLOPE)
                .add_scalar(LEAKY_SLOPE);
            g = (g * slope * mask.clone()).matmul(layer.weight.val().transpose());
        }
        g
    }

    /// WGAN-GP penalty `lambda * mean((||grad D(x_hat)|| - 1)^2)` on interpolations of real
    /// and fake rows, one interpolation coefficient per pac group.
    pub fn gradient_penalty(
        &self,
        real: Tensor<2>,
        fake: Tensor<2>,
        lambda: f64,
        noise: &mut Noise,
    ) -> Tensor<1> {
        let (real, fake) = (self.pack(real), self.pack(fake));
        let [groups, _] = real.dims();
        let alpha = noise.uniform(groups, 1, 0.0, 1.0);
        let interpolated = real.clone() * alpha.clone() + fake * (alpha.neg().add_scalar(1.0));
        let masks = self.draw_masks(groups, noise);
        self.penalty_at(interpolated, &masks, lambda)
    }

    /// `lambda * mean((||grad D(x)|| - 1)^2)` at packed rows `x` with the given masks.
    pub fn penalty_at(&self, packed: Tensor<2>, masks: &Masks, lambda: f64) -> Tensor<1> {
        let (_, pre) = self.forward_masked(packed, masks);
        let grad = self.input_gradient(&pre, masks);
        // A group whose units were all dropped has a zero gradient, where the norm has no
        // derivative; the clamp gives it derivative 0 there (as PyTorch's norm does) instead
        // of 0/0, and changes no norm above 1e-6.
        let norm = grad.powi_scalar(2).sum_dim(1).clamp_min(1e-12).sqrt();
        norm.sub_scalar(1.0)
            .powi_scalar(2)
            .mean()
            .mul_scalar(lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    /// A small critic in f32 on the CPU, with fixed masks (some units dropped).
    fn setup(device: &Device) -> (Critic, Tensor<2>, Masks) {
        let mut noise = Noise::new(4, device);
        let critic = Critic::new(3, &[6, 5], 2, 0.5, &mut noise);
        let x = noise.normal(4, 6);
        let masks = critic.draw_masks(4, &mut noise);
        (critic, x, masks)
    }

    #[test]
    fn input_gradient_matches_finite_differences() {
        let device = crate::cpu_device();
        let (critic, x, masks) = setup(&device);
        let (_, pre) = critic.forward_masked(x.clone(), &masks);
        let analytic = values(critic.input_gradient(&pre, &masks));
        let base = values(x.clone());
        let eps = 1e-3f32;
        for i in 0..base.len() {
            let shifted = |delta: f32| {
                let mut v = base.clone();
                v[i] += delta;
                let (out, _) = critic.forward_masked(
                    Tensor::from_data(TensorData::new(v, [4, 6]), &device),
                    &masks,
                );
                values(out)[i / 6]
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() < 2e-3,
                "input {i}: numeric {numeric} analytic {}",
                analytic[i]
            );
        }
        // dropped units contribute nothing: with all masks zero the gradient vanishes
        let zero = Masks(masks.0.iter().map(|m| m.clone().zeros_like()).collect());
        let (_, pre) = critic.forward_masked(x, &zero);
        assert!(
            values(critic.input_gradient(&pre, &zero))
                .iter()
                .all(|g| *g == 0.0)
        );
    }

    #[test]
    fn penalty_weight_gradient_matches_finite_differences() {
        let device = crate::cpu_device().autodiff();
        let (critic, x, masks) = setup(&device);
        let penalty = critic.penalty_at(x.clone(), &masks, 10.0);
        let grads = penalty.backward();
        let first = &critic.hidden[0].weight;
        let analytic_first = values(first.grad(&grads).expect("first layer weight gradient"));
        let analytic_out = values(
            critic
                .out
                .weight
                .grad(&grads)
                .expect("output weight gradient"),
        );

        let plain = crate::cpu_device();
        let (x, masks) = (
            x.detach().to_device(&plain),
            Masks(
                masks
                    .0
                    .iter()
                    .map(|m| m.clone().to_device(&plain))
                    .collect(),
            ),
        );
        let penalty_with = |critic: &Critic| -> f64 {
            f64::from(
                critic
                    .penalty_at(x.clone(), &masks, 10.0)
                    .into_scalar::<f32>(),
            )
        };
        let base = critic.valid();
        let eps = 1e-2f32;
        for (layer, analytic) in [(0usize, &analytic_first), (2, &analytic_out)] {
            for i in [0usize, 3, 4] {
                let shifted = |delta: f32| {
                    let mut c = base.clone();
                    let w = if layer == 0 {
                        &mut c.hidden[0].weight
                    } else {
                        &mut c.out.weight
                    };
                    let dims = w.dims();
                    let mut v = values(w.val());
                    v[i] += delta;
                    *w = Param::from_tensor(Tensor::from_data(TensorData::new(v, dims), &plain));
                    penalty_with(&c)
                };
                let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * f64::from(eps));
                let a = f64::from(analytic[i]);
                assert!(
                    (numeric - a).abs() < 1e-2 * a.abs().max(1.0),
                    "layer {layer} weight {i}: numeric {numeric} analytic {a}"
                );
            }
        }
    }

    #[test]
    fn penalty_is_finite_when_every_unit_is_dropped() {
        let device = crate::cpu_device().autodiff();
        let (critic, x, masks) = setup(&device);
        let zero = Masks(masks.0.iter().map(|m| m.clone().zeros_like()).collect());
        let penalty = critic.penalty_at(x, &zero, 10.0);
        // the gradient is zero, so the penalty is lambda * (0 - 1)^2, to within the clamp
        let value = f64::from(penalty.clone().into_scalar::<f32>());
        assert!((value - 10.0).abs() < 1e-4, "{value}");
        let grads = penalty.backward();
        let weight = values(
            critic.hidden[0]
                .weight
                .grad(&grads)
                .expect("a weight gradient"),
        );
        assert!(weight.iter().all(|g| g.is_finite()), "{weight:?}");
    }

    /// The sampling generator (batch norm folded, weights split, condition looked up) gives
    /// the generator's output, with batch-norm statistics and affine weights away from their
    /// initial values, for one-hot, shared and absent condition vectors.
    #[test]
    fn sampling_generator_matches_the_generator() {
        use burn::module::RunningState;
        let device = crate::cpu_device();
        let mut noise = Noise::new(5, &device);
        let (latent, conditions, hidden, output) = (6, 4, [8, 5], 7);
        let mut g = Generator::new(latent + conditions, &hidden, output, &mut noise);
        for block in &mut g.blocks {
            let h = block.bn.gamma.dims()[0];
            let row = |noise: &mut Noise| noise.normal(1, h).reshape([h]);
            block.bn.gamma = Param::from_tensor(row(&mut noise).add_scalar(1.0));
            block.bn.beta = Param::from_tensor(row(&mut noise));
            block.bn.running_mean = RunningState::new(row(&mut noise));
            block.bn.running_var = RunningState::new(row(&mut noise).exp());
        }
        let fast = g.for_sampling(latent);
        let z = noise.normal(3, latent);
        let close = |a: Tensor<2>, b: Tensor<2>| {
            let (a, b) = (values(a), values(b));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4 * (1.0 + y.abs()), "{a:?}\n{b:?}");
            }
        };
        let one_hot = [2u32, 0, 3];
        let mut vectors = vec![0.0f32; 3 * conditions];
        for (row, &c) in one_hot.iter().enumerate() {
            vectors[row * conditions + c as usize] = 1.0;
        }
        let with = |v: Vec<f32>| Tensor::cat(vec![z.clone(), matrix(v, 3, conditions, &device)], 1);
        close(
            fast.forward(z.clone(), &SamplingCondition::OneHot(one_hot.to_vec())),
            g.forward(with(vectors)),
        );
        let same = vec![1.0, 0.0, 1.0, 0.0];
        close(
            fast.forward(z.clone(), &SamplingCondition::Same(same.clone())),
            g.forward(with(same.repeat(3))),
        );
        let plain = Generator::new(latent, &hidden, output, &mut noise);
        close(
            plain
                .for_sampling(latent)
                .forward(z.clone(), &SamplingCondition::None),
            plain.forward(z),
        );
    }

    /// The closed-form count the loader checks equals what a saved generator holds.
    #[test]
    fn generator_value_count_matches_its_weight_file() {
        let device = crate::cpu_device();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("generator.bpk");
        for (input, hidden, output) in [
            (10, vec![16, 8], 7),
            (3, vec![], 2),
            (40, vec![256, 256], 157),
        ] {
            let g = Generator::new(input, &hidden, output, &mut Noise::new(0, &device));
            g.into_record().save(&path).unwrap();
            assert_eq!(
                Some(synth_nn::stored_values(&path).unwrap()),
                Generator::values(input, &hidden, output).get(),
                "{input} {hidden:?} {output}"
            );
        }
    }

    #[test]
    fn generator_widths() {
        let device = crate::cpu_device();
        let mut noise = Noise::new(0, &device);
        let g = Generator::new(10, &[16, 8], 7, &mut noise);
        let out = g.forward(Tensor::<2>::zeros([5, 10], &device));
        assert_eq!(out.dims(), [5, 7]);
        let c = Critic::new(7, &[16, 8], 5, 0.5, &mut noise);
        assert_eq!(
            c.forward(Tensor::<2>::zeros([10, 7], &device), &mut noise)
                .dims(),
            [2, 1]
        );
    }
}
