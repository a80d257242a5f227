//! The compute devices: burn-ndarray or burn-flex on the CPU, burn-wgpu on a GPU.

use burn::prelude::*;
use burn::tensor::{DeviceKind, DeviceType};

/// The default wgpu device (a GPU, or a software Vulkan driver such as Mesa's lavapipe), or
/// `None` when wgpu finds no adapter.
pub fn wgpu_device() -> Option<Device> {
    if Device::enumerate(DeviceType::Wgpu).into_vec().is_empty() {
        None
    } else {
        Some(Device::wgpu(DeviceKind::DefaultDevice))
    }
}

/// The CPU device: burn-ndarray, the project's CPU backend. (burn 0.22 deprecates
/// burn-ndarray in favour of its `flex` backend; this is the one place that names it.)
#[allow(deprecated)]
pub fn cpu_device() -> Device {
    Device::ndarray()
}

/// The other CPU device: burn-flex, burn's newer pure-Rust CPU backend (matrix products and
/// convolutions through the `gemm` crate), much faster than burn-ndarray on convolutions.
pub fn flex_device() -> Device {
    Device::flex()
}
