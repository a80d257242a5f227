//! Backend choice: burn-ndarray or burn-flex on the CPU, burn-wgpu on a GPU, or `auto` (a
//! real GPU when there is one, else burn-flex), decided once here.

use crate::error::{PipelineError, Result};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A real GPU through burn-wgpu when one is found, else the CPU through burn-flex (the
    /// faster CPU backend); never a software GPU adapter. The default.
    Auto,
    /// CPU through burn-ndarray (the reference CPU backend, and the fallback of `wgpu`).
    Ndarray,
    /// CPU through burn-flex, burn's newer CPU backend: faster, above all on convolutions.
    Flex,
    /// GPU through burn-wgpu (Vulkan, Metal or DX12).
    Wgpu,
    /// NVIDIA GPU through burn's CUDA backend (a synth built with `--features cuda`; the
    /// machine needs the NVIDIA driver and libnvrtc).
    Cuda,
}

impl Backend {
    /// Name written to manifests and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }
}

/// The device for `backend` and the backend it runs on (never `Auto`). When wgpu finds no
/// adapter or CUDA cannot start, falls back to the CPU (ndarray) with a warning naming why, or
/// fails when `strict` is set; `Auto` with `strict` fails when it finds no GPU. Logs the
/// backend and adapter chosen, and for `Auto` why.
pub fn select_device(backend: Backend, strict: bool) -> Result<(Backend, Device)> {
    match backend {
        Backend::Cuda => match cuda_device() {
            Ok(device) => {
                tracing::info!(backend = "cuda", "using the GPU");
                Ok((Backend::Cuda, device))
            }
            Err(why) if strict => Err(PipelineError::Invalid(format!(
                "backend cuda: {why} (strict mode)"
            ))),
            Err(why) => {
                tracing::warn!(
                    "backend cuda: {why}; falling back to the CPU (ndarray). Pass --strict-backend to fail instead"
                );
                Ok((Backend::Ndarray, synth_tabular::cpu_device()))
            }
        },
        Backend::Auto => {
            if cfg!(feature = "cuda") {
                match cuda_device() {
                    Ok(device) => {
                        tracing::info!(backend = "cuda", "auto: using the GPU through CUDA");
                        return Ok((Backend::Cuda, device));
                    }
                    Err(why) => tracing::info!("auto: CUDA unavailable ({why}); trying wgpu"),
                }
            }
            let device = synth_tabular::wgpu_device();
            let adapter = device
                .as_ref()
                .map(|d| d.identity().map_or(String::new(), |id| id.name));
            let (chosen, reason) = auto_choice(adapter.as_deref());
            if chosen == Backend::Wgpu {
                tracing::info!(backend = "wgpu", "auto: {reason}");
                return Ok((Backend::Wgpu, device.expect("an adapter was found")));
            }
            if strict {
                return Err(PipelineError::Invalid(format!(
                    "backend auto: {reason} (strict mode); drop --strict-backend to train on the CPU"
                )));
            }
            tracing::info!(
                backend = "flex",
                "auto: {reason}; using the CPU through burn-flex"
            );
            Ok((Backend::Flex, synth_tabular::flex_device()))
        }
        Backend::Ndarray => {
            tracing::info!(backend = "ndarray", "using the CPU");
            Ok((Backend::Ndarray, synth_tabular::cpu_device()))
        }
        Backend::Flex => {
            tracing::info!(backend = "flex", "using the CPU");
            Ok((Backend::Flex, synth_tabular::flex_device()))
        }
        Backend::Wgpu => {
            let Some(device) = synth_tabular::wgpu_device() else {
                if strict {
                    return Err(PipelineError::Invalid(
                        "backend wgpu: no GPU adapter found (strict mode); use --backend ndarray"
                            .into(),
                    ));
                }
                tracing::warn!(
                    "backend wgpu: no GPU adapter found; falling back to the CPU (ndarray). Pass --strict-backend to fail instead"
                );
                return Ok((Backend::Ndarray, synth_tabular::cpu_device()));
            };
            match device.identity() {
                Some(id) if is_software_adapter(&id.name) => tracing::warn!(
                    backend = "wgpu",
                    adapter = %id.name,
                    "the wgpu adapter is a software driver running on the CPU; training is slower than with --backend ndarray"
                ),
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

/// The backend named by the environment variable `SYNTH_BACKEND` (`ndarray` when unset), for
/// the benchmarks: `SYNTH_BACKEND=wgpu cargo bench ...` runs them on the GPU (strictly: no
/// silent fallback to the CPU), `SYNTH_BACKEND=flex` on burn-flex.
pub fn device_from_env() -> Result<(Backend, Device)> {
    let backend = match std::env::var("SYNTH_BACKEND") {
        Ok(name) => <Backend as clap::ValueEnum>::from_str(&name, true).map_err(|_| {
            PipelineError::Invalid(format!(
                "SYNTH_BACKEND={name}: expected auto, ndarray, flex, wgpu or cuda"
            ))
        })?,
        Err(_) => Backend::Ndarray,
    };
    select_device(backend, true)
}

/// The CUDA device once it has run a first kernel (which CubeCL compiles through NVRTC), so
/// that a missing driver or NVRTC shows here and not mid-training. CubeCL panics when a
/// library is missing: the panic is caught, its default report silenced, and its message
/// turned into the reason.
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    use burn::tensor::Tensor;
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let device = Device::cuda(0);
        let probe = Tensor::<1>::ones([4], &device) * 2.0;
        let doubled: Vec<f32> = probe.into_data().to_vec().unwrap_or_default();
        (device, doubled)
    }));
    std::panic::set_hook(report);
    match started {
        Ok((device, doubled)) if doubled == [2.0; 4] => Ok(device),
        Ok((_, doubled)) => Err(format!(
            "a first kernel computed {doubled:?} instead of [2, 2, 2, 2]"
        )),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("CUDA failed to start");
            Err(cuda_failure(message))
        }
    }
}

/// Without the `cuda` feature: why `--backend cuda` cannot run.
#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, String> {
    Err("this synth was built without CUDA; rebuild it with `cargo build --features cuda`".into())
}

/// What a CUDA start-up failure means for the user, from CubeCL's or cudarc's message.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn cuda_failure(message: &str) -> String {
    let lower = message.to_lowercase();
    if lower.contains("nvrtc") {
        format!(
            "NVRTC (libnvrtc), which compiles CUDA kernels at run time, was not found: install the CUDA runtime's NVRTC library and put it on the library path ({message})"
        )
    } else if lower.contains("\"cuda\"") || lower.contains("libcuda") || lower.contains("driver") {
        format!(
            "the NVIDIA driver (libcuda) was not found or no NVIDIA GPU is present: install the driver ({message})"
        )
    } else {
        format!("CUDA did not start: {message}")
    }
}

/// What `auto` picks given the name of the wgpu adapter found (`None`: no adapter; empty: an
/// adapter that did not report its name), and why.
fn auto_choice(adapter: Option<&str>) -> (Backend, String) {
    match adapter {
        None => (Backend::Flex, "no GPU adapter found".into()),
        Some(name) if is_software_adapter(name) => (
            Backend::Flex,
            format!(
                "only a software GPU adapter ({name}) found, slower than the CPU backends; --backend wgpu uses it anyway"
            ),
        ),
        Some("") => (
            Backend::Wgpu,
            "using the GPU adapter found (it did not report its name)".into(),
        ),
        Some(name) => (Backend::Wgpu, format!("using the GPU ({name})")),
    }
}

/// Whether an adapter name is one of the CPU rasterisers (Mesa's llvmpipe/lavapipe, SwiftShader).
fn is_software_adapter(name: &str) -> bool {
    let name = name.to_lowercase();
    ["llvmpipe", "lavapipe", "swiftshader"]
        .iter()
        .any(|n| name.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_adapters_are_recognised() {
        assert!(is_software_adapter("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(is_software_adapter("SwiftShader Device (Subzero)"));
        assert!(!is_software_adapter("NVIDIA H100 80GB HBM3"));
    }

    #[test]
    fn cuda_failures_name_the_missing_library() {
        let driver = cuda_failure(
            "Unable to dynamically load the \"cuda\" shared library - searched for library names: [\"libcuda.so\"]",
        );
        assert!(driver.contains("NVIDIA driver"), "{driver}");
        let nvrtc = cuda_failure("Unable to dynamically load the \"nvrtc\" shared library");
        assert!(nvrtc.contains("NVRTC (libnvrtc)"), "{nvrtc}");
        assert!(cuda_failure("out of memory").starts_with("CUDA did not start"));
    }

    #[test]
    fn auto_takes_a_real_gpu_else_flex() {
        assert_eq!(auto_choice(None).0, Backend::Flex);
        let (backend, why) = auto_choice(Some("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert_eq!(backend, Backend::Flex);
        assert!(why.contains("software GPU adapter (llvmpipe"), "{why}");
        let (backend, why) = auto_choice(Some("NVIDIA H200"));
        assert_eq!(backend, Backend::Wgpu);
        assert!(why.contains("NVIDIA H200"));
        assert_eq!(auto_choice(Some("")).0, Backend::Wgpu);
    }
}
