use burn::optim::AdamConfig;
use burn::optim::decay::WeightDecayConfig;

/// Adam as the papers' PyTorch settings mean it: epsilon 1e-8 (burn's default is 1e-5) and
/// `weight_decay` as an L2 term added to the gradient (none when it is zero).
pub fn adam(betas: (f64, f64), weight_decay: f64) -> AdamConfig {
    let config = AdamConfig::new()
        .with_beta_1(betas.0 as f32)
        .with_beta_2(betas.1 as f32)
        .with_epsilon(1e-8);
    if weight_decay > 0.0 {
        config.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)))
    } else {
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cpu_device, matrix, to_host};
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;

    /// One Adam step on `y = w x + b` (w = 2, b = 0, x = 1) for the loss `scale * y`; returns
    /// the new weight.
    fn one_step(scale: f32, weight_decay: f64) -> f32 {
        let device = cpu_device().autodiff();
        let mut layer: Linear = LinearConfig::new(1, 1).init(&device);
        layer.weight = layer
            .weight
            .map(|w| w.ones_like().mul_scalar(2.0).require_grad());
        let loss = layer
            .forward(matrix(vec![1.0], 1, 1, &device))
            .sum()
            .mul_scalar(scale);
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        let layer = adam((0.5, 0.9), weight_decay)
            .init()
            .step(0.1, layer, grads);
        to_host(layer.weight.val())[0]
    }

    #[test]
    fn first_step_matches_pytorch_adam() {
        // The first step is lr * g / (|g| + eps) (bias corrections cancel): with eps = 1e-8 a
        // tiny gradient still moves the weight by ~lr; burn's default eps would move it 0.009.
        let g = 1e-6f32;
        let expected = 2.0 - 0.1 * g / (g + 1e-8);
        let got = one_step(g, 0.0);
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        // L2 decay adds decay * w to the gradient: g = 1e-6 + 0.5 * 2.
        let g = 1e-6 + 1.0;
        let expected = 2.0 - 0.1 * g / (g + 1e-8);
        assert!((one_step(1e-6, 0.5) - expected).abs() < 1e-5);
        // A negative gradient moves the other way by the same amount.
        assert!((one_step(-1e-6, 0.0) - (2.0 + 0.1 * 1e-6 / (1e-6 + 1e-8))).abs() < 1e-5);
    }
}
