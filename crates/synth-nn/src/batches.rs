//! Shuffled mini-batches over the rows of a data set, one seeded order per epoch.

use crate::Noise;
use rand::seq::SliceRandom;
use synth_core::seed::{derive_seed, seeded_rng};

/// Starts epoch `epoch` of a run seeded with `seed`: `noise` and the batch order restart from
/// the epoch's own streams, so that a run resumed at an epoch boundary draws what an
/// uninterrupted one does.
pub fn reseed_epoch(seed: u64, epoch: usize, noise: &mut Noise, batches: &mut EpochBatches) {
    let epoch = epoch as u64;
    noise.reseed(derive_seed(seed, "epoch.noise", epoch));
    batches.shuffle(derive_seed(seed, "epoch.shuffle", epoch));
}

/// The rows `0..rows` in an order drawn per epoch, handed out as consecutive mini-batches of
/// `batch` rows (the last one of an epoch may be smaller).
#[derive(Debug, Clone)]
pub struct EpochBatches {
    order: Vec<u32>,
    batch: usize,
    cursor: usize,
}

impl EpochBatches {
    /// Batches of `batch` rows over `rows` rows, in row order until the first [`Self::shuffle`].
    pub fn new(rows: usize, batch: usize) -> Self {
        EpochBatches {
            order: (0..rows as u32).collect(),
            batch: batch.max(1),
            cursor: 0,
        }
    }

    /// Mini-batches in one epoch.
    pub fn per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.batch)
    }

    /// Starts an epoch: a fresh order drawn from `seed`, from its first batch.
    pub fn shuffle(&mut self, seed: u64) {
        self.order.sort_unstable();
        self.order.shuffle(&mut seeded_rng(seed));
        self.cursor = 0;
    }

    /// The next mini-batch's rows; after the epoch's last batch, the order starts over.
    pub fn next_batch(&mut self) -> &[u32] {
        if self.cursor >= self.order.len() {
            self.cursor = 0;
        }
        let start = self.cursor;
        self.cursor = (start + self.batch).min(self.order.len());
        &self.order[start..self.cursor]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_visits_every_row_once_in_a_seeded_order() {
        let mut batches = EpochBatches::new(10, 4);
        assert_eq!(batches.per_epoch(), 3);
        batches.shuffle(7);
        let epoch: Vec<Vec<u32>> = (0..3).map(|_| batches.next_batch().to_vec()).collect();
        assert_eq!(
            epoch.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let mut rows: Vec<u32> = epoch.concat();
        assert_ne!(rows, (0..10).collect::<Vec<_>>(), "shuffled");
        rows.sort_unstable();
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
        // the order depends only on the seed, not on earlier epochs
        batches.shuffle(8);
        batches.shuffle(7);
        assert_eq!(batches.next_batch(), epoch[0].as_slice());
        // past the last batch the order starts over
        let mut again = EpochBatches::new(3, 2);
        assert_eq!(again.next_batch(), &[0, 1]);
        assert_eq!(again.next_batch(), &[2]);
        assert_eq!(again.next_batch(), &[0, 1]);
    }
}
