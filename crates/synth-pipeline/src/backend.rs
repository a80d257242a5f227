//! Backend choice: burn-ndarray or burn-flex on the CPU, burn-wgpu on a GPU, or `auto` (a
//! real GPU when there is one, else burn-flex), decided once here.

use crate::error::{PipelineError, Result};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A real GPU (through CUDA first in a build with the `cuda` feature, else burn-wgpu) when
    /// one is found, else the CPU through burn-flex (the faster CPU backend); never a software
    /// GPU adapter. The default.
    Auto,
    /// CPU through burn-ndarray (the reference CPU backend, and the fallback of `wgpu`).
    Ndarray,
    /// CPU through burn-flex, burn's newer CPU backend: faster, above all on convolutions.
    Flex,
    /// GPU through burn-wgpu (Vulkan, Metal or DX12).
    Wgpu,
    /// NVIDIA GPU through burn's CUDA backend (a synth built with `--features cuda`; the
    /// machine needs the NVIDIA driver and libdevice, the CUDA toolkit's math library).
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

/// The values the start-up probe feeds its kernel: exp and tanh of these need libdevice.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
const PROBE_INPUT: [f32; 4] = [-2.0, -0.5, 0.0, 1.5];

/// What the probe's kernel must compute: exp(x) + tanh(x), on the CPU.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn probe_expected() -> [f32; 4] {
    PROBE_INPUT.map(|x| x.exp() + x.tanh())
}

/// The CUDA device once it has run a first kernel that calls exp and tanh, so that the
/// failures CUDA can have at run time show here and not mid-training: no driver (libcuda), a
/// driver older than the CUDA version synth was built for, or no libdevice (the CUDA
/// toolkit's math library, which CubeCL links into any kernel with exp, tanh, log and the
/// like). CubeCL panics when something is missing, on its device thread (the caller then sees
/// only a closed channel) or on the caller's: while the probe runs, the panic hook records
/// every thread's message instead of printing it, and those messages become the reason.
#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, String> {
    use burn::tensor::Tensor;
    use std::sync::{Arc, Mutex};
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let recorder = Arc::clone(&panics);
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload_as_str().unwrap_or("CUDA failed to start");
        if let Ok(mut recorded) = recorder.lock() {
            recorded.push(message.to_string());
        }
    }));
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let device = Device::cuda(0);
        let x = Tensor::<1>::from_floats(PROBE_INPUT, &device);
        let probe = x.clone().exp() + x.tanh();
        probe
            .try_into_vec_as::<f32>()
            .map(|computed| (device, computed))
            .map_err(|e| e.to_string())
    }));
    std::panic::set_hook(report);
    let recorded = panics.lock().map(|p| p.clone()).unwrap_or_default();
    match started {
        Ok(Ok((device, computed))) => probe_verdict(&computed).map(|()| device),
        Ok(Err(read)) => Err(cuda_failure(&failure_text(&recorded, Some(&read)))),
        Err(_) => Err(cuda_failure(&failure_text(&recorded, None))),
    }
}

/// One text from the panic messages recorded while the probe ran and the read's error: the
/// device thread's own messages, without the caller's echo of its closed channel when there
/// is anything else.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn failure_text(panics: &[String], read: Option<&str>) -> String {
    let mut parts: Vec<&str> = panics.iter().map(String::as_str).chain(read).collect();
    if parts.iter().any(|p| !p.contains("RecvError")) {
        parts.retain(|p| !p.contains("RecvError"));
    }
    if parts.is_empty() {
        "CUDA failed to start".into()
    } else {
        parts.join("; ")
    }
}

/// Whether the probe's kernel computed exp(x) + tanh(x) (to 1e-4 relative).
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn probe_verdict(computed: &[f32]) -> Result<(), String> {
    let expected = probe_expected();
    let close = computed.len() == expected.len()
        && computed
            .iter()
            .zip(expected)
            .all(|(got, want)| (got - want).abs() <= 1e-4 * want.abs().max(1.0));
    if close {
        Ok(())
    } else {
        Err(format!(
            "a first kernel computed exp(x) + tanh(x) = {computed:?} instead of {expected:?}"
        ))
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
    if lower.contains("libdevice") {
        format!(
            "libdevice.10.bc (the CUDA toolkit's math library, which kernels using exp or tanh link) was not found: set CUDA_PATH to a folder holding nvvm/libdevice/libdevice.10.bc, such as a CUDA toolkit or the nvidia/cuda_nvcc folder of pip's nvidia-cuda-nvcc-cu12 ({message})"
        )
    } else if lower.contains("missing symbol") || lower.contains("unsupported_ptx_version") {
        format!(
            "the NVIDIA driver is older than the CUDA version this synth was built for: update the driver, or rebuild with CUDARC_CUDA_VERSION set to the driver's CUDA version as nvidia-smi shows it (12.4 is 12040) ({message})"
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
        assert!(driver.contains("NVIDIA driver (libcuda)"), "{driver}");
        let libdevice = cuda_failure(
            "libdevice.10.bc was not found: the kernel calls a math function NVPTX has no instruction for",
        );
        assert!(libdevice.contains("set CUDA_PATH"), "{libdevice}");
        let old_driver = cuda_failure("Missing symbol cuCtxCreate_v4: undefined symbol");
        assert!(old_driver.contains("driver is older"), "{old_driver}");
        assert!(old_driver.contains("CUDARC_CUDA_VERSION"), "{old_driver}");
        let ptx = cuda_failure("DriverError(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, \"\")");
        assert!(ptx.contains("driver is older"), "{ptx}");
        assert!(cuda_failure("out of memory").starts_with("CUDA did not start"));
    }

    #[test]
    fn the_device_threads_message_is_the_reason() {
        // What a machine without the driver gave: the device thread's panic, then the
        // caller's unwrap of the closed channel.
        let recorded = [
            "Unable to dynamically load the \"cuda\" shared library".to_string(),
            "called `Result::unwrap()` on an `Err` value: RecvError".to_string(),
        ];
        let text = failure_text(&recorded, None);
        assert_eq!(
            text,
            "Unable to dynamically load the \"cuda\" shared library"
        );
        assert!(cuda_failure(&text).contains("NVIDIA driver (libcuda)"));
        // A read error joins what was recorded; a lone channel error is kept; nothing at all
        // still says something.
        let text = failure_text(&recorded[..1], Some("libdevice.10.bc was not found"));
        assert!(text.ends_with("; libdevice.10.bc was not found"), "{text}");
        assert!(failure_text(&recorded[1..], None).contains("RecvError"));
        assert_eq!(failure_text(&[], None), "CUDA failed to start");
    }

    #[test]
    fn the_probe_accepts_exp_plus_tanh_and_nothing_else() {
        // Hand-computed: exp(-2) + tanh(-2), exp(-0.5) + tanh(-0.5), 1 + 0, exp(1.5) + tanh(1.5).
        let by_hand = [-0.828_692, 0.144_414, 1.0, 5.386_837];
        assert!(probe_verdict(&by_hand).is_ok());
        // exp alone (a kernel that dropped the tanh), a short read, and a NaN are refused.
        let exp_only = PROBE_INPUT.map(f32::exp);
        assert!(
            probe_verdict(&exp_only)
                .unwrap_err()
                .contains("exp(x) + tanh(x)")
        );
        assert!(probe_verdict(&by_hand[..3]).is_err());
        assert!(probe_verdict(&[f32::NAN, 0.144_414, 1.0, 5.386_837]).is_err());
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
