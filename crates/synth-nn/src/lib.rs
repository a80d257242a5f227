//! burn helpers shared by the model crates: the seeded [`Noise`] source of every random tensor
//! (weights, latents, noise, masks), host <-> device conversions, the CPU (ndarray, flex) and
//! wgpu devices, checkpoint loading with file-naming errors, PyTorch-style Adam, device-side
//! loss sums and shuffled mini-batches.

mod batches;
mod checkpoint;
mod device;
mod losses;
mod noise;
mod optim;
mod weights;

pub use batches::{EpochBatches, reseed_epoch};
pub use checkpoint::{
    CheckpointError, ValueCount, all_finite, load_module, load_network, load_optimizer,
    stored_values,
};
pub use device::{cpu_device, flex_device, wgpu_device};
pub use losses::LossMeter;
pub use noise::{Noise, indices, matrix, to_host};
pub use optim::adam;
pub use weights::{Placeholders, Weights};
