//! CTGAN's networks: the residual generator and the pac critic with its explicit input
//! gradient (burn has no double backward, so the gradient penalty differentiates this
//! hand-written gradient with respect to the weights).

use crate::tensors::Noise;
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
