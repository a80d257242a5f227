//! Loss accumulation on the device.

use burn::prelude::*;

/// Named loss sums kept on the device between reads, so training never waits for the device
/// to report a loss.
pub struct LossMeter {
    sums: Vec<(&'static str, Option<Tensor<1>>)>,
    steps: usize,
}

impl LossMeter {
    /// A meter for the named losses.
    pub fn new(names: &[&'static str]) -> Self {
        LossMeter {
            sums: names.iter().map(|&n| (n, None)).collect(),
            steps: 0,
        }
    }

    /// Adds `loss` to the sum of the `index`-th loss.
    pub fn add(&mut self, index: usize, loss: Tensor<1>) {
        let sum = &mut self.sums[index].1;
        *sum = Some(match sum.take() {
            Some(total) => total + loss.detach(),
            None => loss.detach(),
        });
    }

    /// Marks the end of one training step.
    pub fn end_step(&mut self) {
        self.steps += 1;
    }

    /// Mean of each loss per step since the previous call (reads the device).
    pub fn take(&mut self) -> Vec<(&'static str, f64)> {
        let steps = self.steps.max(1) as f64;
        self.steps = 0;
        self.sums
            .iter_mut()
            .filter_map(|(name, sum)| {
                let total = sum.take()?;
                Some((*name, f64::from(total.into_scalar::<f32>()) / steps))
            })
            .collect()
    }
}
