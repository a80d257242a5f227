//! Backend choice: burn-ndarray on the CPU or burn-wgpu on a GPU, decided once here.

use burn::tensor::{Device, DeviceKind, DeviceType};
use serde::{Deserialize, Serialize};

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// CPU through burn-ndarray.
    Ndarray,
    /// GPU through burn-wgpu (Vulkan, Metal or DX12).
    Wgpu,
}

impl Backend {
    /// Name written to manifests and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }
}

/// The device for `backend`. When wgpu finds no adapter, falls back to the CPU with a
/// warning, or fails when `strict` is set. Logs the backend and adapter chosen.
pub fn select_device(backend: Backend, strict: bool) -> anyhow::Result<(Backend, Device)> {
    match backend {
        Backend::Ndarray => {
            tracing::info!(backend = "ndarray", "using the CPU");
            Ok((Backend::Ndarray, synth_tabular::cpu_device()))
        }
        Backend::Wgpu => {
            let adapters = Device::enumerate(DeviceType::Wgpu).into_vec();
            if adapters.is_empty() {
                if strict {
                    anyhow::bail!(
                        "backend wgpu: no GPU adapter found (strict mode); use --backend ndarray"
                    );
                }
                tracing::warn!(
                    "backend wgpu: no GPU adapter found; falling back to the CPU (ndarray). Pass --strict-backend to fail instead"
                );
                return Ok((Backend::Ndarray, synth_tabular::cpu_device()));
            }
            let device = Device::wgpu(DeviceKind::DefaultDevice);
            match device.identity() {
                Some(id) => tracing::info!(backend = "wgpu", adapter = ?id, "using the GPU"),
                None => tracing::info!(
                    backend = "wgpu",
                    "using the GPU (adapter did not report its name)"
                ),
            }
            Ok((Backend::Wgpu, device))
        }
    }
}
